//! Just enough DER to turn a SubjectPublicKeyInfo into the PKCS#1 `RSAPublicKey` ring verifies
//! with (RFC 3279: the SPKI BIT STRING holds exactly that structure).
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID rsaEncryption, NULL },
//!                                     subjectPublicKey BIT STRING }   -- 0 unused bits
//! RSAPublicKey         ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
//! ```

use super::KeyError;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;
/// rsaEncryption, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The SPKI's inner PKCS#1 key, checked.
pub(super) fn spki_to_pkcs1(der: &[u8]) -> Result<&[u8], KeyError> {
    let spki = whole(der, SEQUENCE)?;
    let (algorithm, rest) = element(spki, SEQUENCE)?;
    let (oid, _parameters) = element(algorithm, OBJECT_IDENTIFIER)?;
    if oid != RSA_ENCRYPTION {
        return Err(KeyError::NotRsa);
    }
    let bits = whole(rest, BIT_STRING)?;
    match bits.split_first() {
        Some((0, key)) => check_pkcs1(key),
        _ => Err(KeyError::Der("public key BIT STRING has unused bits")),
    }
}

/// A PKCS#1 `RSAPublicKey` whose modulus ring's 2048..8192-bit verifier will accept.
pub(super) fn check_pkcs1(der: &[u8]) -> Result<&[u8], KeyError> {
    let key = whole(der, SEQUENCE)?;
    let (modulus, rest) = element(key, INTEGER)?;
    let exponent = whole(rest, INTEGER)?;
    let modulus_len = modulus.iter().skip_while(|&&b| b == 0).count();
    if !(256..=1024).contains(&modulus_len) {
        return Err(KeyError::Rejected(format!(
            "modulus is {} bits; 2048 to 8192 are accepted",
            modulus_len * 8
        )));
    }
    if exponent.is_empty() {
        return Err(KeyError::Der("empty public exponent"));
    }
    Ok(der)
}

/// Bare base64 carries no label: an SPKI starts with a nested SEQUENCE, PKCS#1 with an INTEGER.
pub(super) fn any_public_to_pkcs1(der: &[u8]) -> Result<&[u8], KeyError> {
    match whole(der, SEQUENCE)?.first() {
        Some(&SEQUENCE) => spki_to_pkcs1(der),
        Some(&INTEGER) => check_pkcs1(der),
        _ => Err(KeyError::Der("neither SubjectPublicKeyInfo nor PKCS#1")),
    }
}

/// The value of one element with `tag` that must fill `input` exactly.
fn whole(input: &[u8], tag: u8) -> Result<&[u8], KeyError> {
    match element(input, tag)? {
        (value, []) => Ok(value),
        _ => Err(KeyError::Der("trailing bytes")),
    }
}

/// The value of the element with `tag` at the start of `input`, and what follows it.
fn element(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), KeyError> {
    let [found, first_len, rest @ ..] = input else {
        return Err(KeyError::Der("truncated"));
    };
    if *found != tag {
        return Err(KeyError::Der("unexpected tag"));
    }
    let (len, rest) = match *first_len {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let count = usize::from(long & 0x7f);
            if rest.len() < count {
                return Err(KeyError::Der("truncated length"));
            }
            let (len_bytes, rest) = rest.split_at(count);
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        }
        _ => return Err(KeyError::Der("unsupported length form")),
    };
    if rest.len() < len {
        return Err(KeyError::Der("truncated value"));
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::super::{RsaPublicKey, pem};
    use super::*;

    const EC_P256_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJyofXaKJx84PbmlFRdXU4ZFGaNjG
QbH1kMM7UTqLA5/6MWyP0+WrHzdAnJ+7vkAWMSWmm1QednMXocAiz5+N3w==
-----END PUBLIC KEY-----";

    const RSA_1024_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDQVuo1NSfLdCRy6/FK1bkRYU6b
KcxbbrQhWukPoHGJfHKBEVC84LBvikcS2+JJkMjP7e8rNhWeOWVSoevXcBcOIJGk
yD6hBVFgNh1tpru41Teae508REdAib97I/Tz9lWogK/D30B/EDwHNhbZ35mYB2sl
axIoMyD3PwK0l0HmFwIDAQAB
-----END PUBLIC KEY-----";

    fn dev_spki() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/dev-keys/alipay_platform_public.pem"
        );
        pem::decode(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .der
    }

    #[test]
    fn unwraps_a_2048_bit_spki_to_its_270_byte_pkcs1_key() {
        let spki = dev_spki();
        assert_eq!(spki.len(), 294);
        let pkcs1 = spki_to_pkcs1(&spki).unwrap();
        assert_eq!(pkcs1.len(), 270);
        assert_eq!(&spki[spki.len() - 270..], pkcs1);
        assert_eq!(any_public_to_pkcs1(&spki).unwrap(), pkcs1);
        assert_eq!(any_public_to_pkcs1(pkcs1).unwrap(), pkcs1);
    }

    #[test]
    fn refuses_non_rsa_short_and_broken_keys() {
        assert!(matches!(
            RsaPublicKey::from_pem(EC_P256_SPKI),
            Err(KeyError::NotRsa)
        ));
        assert!(matches!(
            RsaPublicKey::from_pem(RSA_1024_SPKI),
            Err(KeyError::Rejected(why)) if why.contains("1024 bits")
        ));
        let spki = dev_spki();
        for broken in [
            &spki[..spki.len() - 1],
            &spki[..10],
            &[][..],
            &[SEQUENCE, 0x80][..],
        ] {
            assert!(matches!(spki_to_pkcs1(broken), Err(KeyError::Der(_))));
        }
        let mut trailing = spki.clone();
        trailing.push(0);
        assert!(matches!(
            spki_to_pkcs1(&trailing),
            Err(KeyError::Der("trailing bytes"))
        ));
    }
}
