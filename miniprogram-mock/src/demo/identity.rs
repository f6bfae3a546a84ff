//! Who the demo patient is: a login code, a phone number and a resident ID of its own for each
//! run, so that running the demo again against the same gateway meets no duplicate patient, no
//! SMS cooldown and no booking limit left over from the last run.

use chrono::{Days, NaiveDate};

/// One run's made-up person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `wx.login` / `my.getAuthCode` code; the mock maps each code to its own stable user.
    pub login_code: String,
    /// An 11-digit mainland mobile number.
    pub phone: String,
    /// A valid 18-character 公民身份号码 (GB 11643-1999).
    pub resident_id: String,
    /// The booking's `Idempotency-Key`.
    pub idempotency_key: String,
}

/// Address code of the demo people: 北京市朝阳区.
const REGION: &str = "110105";
/// Birth dates spread over the days from this one…
const EARLIEST_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(1950, 1, 1).expect("a real date");
/// …up to this many days after it (50 years), always in the past.
const BIRTH_DAYS: u64 = 18_262;
/// ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11 for positions 1..=17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder 0..=10 of the weighted sum.
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

impl Identity {
    /// The person for the run numbered `seed` (the demo uses the clock's nanoseconds): different
    /// seeds give different numbers, the same seed the same person.
    pub fn for_run(seed: u64) -> Self {
        let birth_date = EARLIEST_BIRTH + Days::new(seed % BIRTH_DAYS);
        let sequence = (seed / BIRTH_DAYS) % 1000;
        let body = format!("{REGION}{}{sequence:03}", birth_date.format("%Y%m%d"));
        let check = resident_id_check_character(&body)
            .expect("17 digits: region, date and sequence are all digits");
        Self {
            login_code: format!("demo-{seed:x}"),
            phone: format!("139{:08}", seed % 100_000_000),
            resident_id: format!("{body}{check}"),
            idempotency_key: format!("demo-booking-{seed:x}"),
        }
    }
}

/// The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID, `None` when
/// `body` is not 17 ASCII digits.
pub fn resident_id_check_character(body: &str) -> Option<char> {
    if body.len() != WEIGHTS.len() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(char::from(CHECK_CHARACTERS[(sum % 11) as usize]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_of_known_numbers() {
        // The two examples of GB 11643-1999 (one ends in X) and one more.
        assert_eq!(resident_id_check_character("11010519491231002"), Some('X'));
        assert_eq!(resident_id_check_character("44052418800101001"), Some('4'));
        assert_eq!(resident_id_check_character("11010119900307001"), Some('1'));
    }

    #[test]
    fn check_character_needs_seventeen_digits() {
        assert_eq!(resident_id_check_character("1101051949123100"), None);
        assert_eq!(resident_id_check_character("110105194912310021"), None);
        assert_eq!(resident_id_check_character("1101051949123100X"), None);
    }

    #[test]
    fn a_run_is_a_fixed_person() {
        let person = Identity::for_run(1_234_567_890_123);
        assert_eq!(
            person,
            Identity {
                login_code: "demo-11f71fb04cb".into(),
                phone: "13967890123".into(),
                resident_id: "110105196305081041".into(),
                idempotency_key: "demo-booking-11f71fb04cb".into(),
            }
        );
    }

    #[test]
    fn every_run_gets_a_valid_resident_id_and_phone() {
        let seeds = [0, 1, 18_261, 18_262, 999_999_999, u64::MAX];
        for seed in seeds {
            let person = Identity::for_run(seed);
            let id = &person.resident_id;
            assert_eq!(id.len(), 18, "{id}");
            assert_eq!(
                resident_id_check_character(&id[..17]).map(String::from),
                Some(id[17..].to_owned()),
                "{id}"
            );
            let birth = NaiveDate::parse_from_str(&id[6..14], "%Y%m%d").unwrap();
            assert!(
                (EARLIEST_BIRTH..NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()).contains(&birth),
                "{id}"
            );
            assert_eq!(person.phone.len(), 11);
            assert!(person.phone.starts_with("139"));
        }
    }

    #[test]
    fn reruns_do_not_collide() {
        let ids: std::collections::HashSet<String> = (0..5_000u64)
            .map(|run| Identity::for_run(1_700_000_000_000_000_000 + run * 7_919).resident_id)
            .collect();
        assert_eq!(ids.len(), 5_000);
    }
}
