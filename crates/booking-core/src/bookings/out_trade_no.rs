//! `out_trade_no`: the booking's payment number, 32 characters of `[0-9a-zA-Z]` as both payment
//! providers accept. Random rather than sequential, so it reveals nothing about volumes.

use ring::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn new_out_trade_no() -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(32);
    while out.len() < 32 {
        let mut byte = [0u8; 1];
        rng.fill(&mut byte)
            .expect("the system random generator is available");
        // 248 = 4 × 62: rejecting the top bytes keeps every character equally likely.
        if byte[0] < 248 {
            out.push(ALPHABET[(byte[0] % 62) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_two_alphanumerics_and_unique() {
        let a = new_out_trade_no();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, new_out_trade_no());
    }
}
