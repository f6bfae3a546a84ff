//! Masked forms of PII for responses and log lines: enough for a person to recognise their own
//! document or phone, too little to use someone else's. Masks keep the length (one `*` per
//! hidden character) except Latin names, whose length would say too much.

/// `110101********1234` for 18-character numbers (resident IDs and the 2023 permanent-residence
/// card), the form DESIGN.md shows. Shorter documents keep the first two and last two
/// characters, and fewer when that would reveal more than half: `E1*****78`, `ABCD` → `A**D`.
pub fn mask_id_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() == 18 {
        keep_ends(&chars, 6, 4)
    } else {
        keep_at_most_half(&chars)
    }
}

/// `138****8000` for an 11-digit mainland mobile number; anything else reveals at most half.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() == 11 {
        keep_ends(&chars, 3, 4)
    } else {
        keep_at_most_half(&chars)
    }
}

/// Chinese names keep the surname's first character and hide the rest one `*` each
/// (张三丰 → 张**); other names keep the first letter and a fixed `***` (John Smith → J***). A
/// one-character name is all `*`, since its only character is the whole name.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let rest = chars.count();
    if rest == 0 {
        "*".to_owned()
    } else if is_han(first) {
        std::iter::once(first)
            .chain(std::iter::repeat_n('*', rest))
            .collect()
    } else {
        format!("{first}***")
    }
}

/// CJK ideographs: the unified block and its extensions, and the compatibility block.
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Two characters at each end when the value has at least eight, one each from four, none
/// below: never more than half in view.
fn keep_at_most_half(chars: &[char]) -> String {
    let each = (chars.len() / 4).min(2);
    keep_ends(chars, each, each)
}

fn keep_ends(chars: &[char], head: usize, tail: usize) -> String {
    let hidden = chars.len().saturating_sub(head + tail);
    chars[..head]
        .iter()
        .copied()
        .chain(std::iter::repeat_n('*', hidden))
        .chain(chars[head + hidden..].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_character_numbers_keep_six_and_four() {
        assert_eq!(mask_id_number("110101199003071234"), "110101********1234");
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
    }

    #[test]
    fn shorter_documents_reveal_at_most_half() {
        assert_eq!(mask_id_number("E12345678"), "E1*****78");
        assert_eq!(mask_id_number("H1234567890"), "H1*******90");
        assert_eq!(mask_id_number("12345678"), "12****78");
        assert_eq!(mask_id_number("1234567"), "1*****7");
        assert_eq!(mask_id_number("ABCD"), "A**D");
        assert_eq!(mask_id_number("ABC"), "***");
        assert_eq!(mask_id_number(""), "");
        for len in 0..=30 {
            let number = "7".repeat(len);
            let masked = mask_id_number(&number);
            assert_eq!(masked.chars().count(), len);
            let shown = masked.chars().filter(|&c| c != '*').count();
            if len != 18 {
                assert!(shown * 2 <= len, "{len}: {masked}");
            }
        }
    }

    #[test]
    fn phones_keep_three_and_four() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("12345"), "1***5");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn chinese_names_keep_the_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("阿卜杜·热合曼"), "阿******");
        assert_eq!(mask_name("张"), "*");
    }

    #[test]
    fn other_names_keep_the_first_letter_only() {
        assert_eq!(mask_name("John Smith"), "J***");
        assert_eq!(mask_name("Ana"), "A***");
        assert_eq!(mask_name("Éloïse"), "É***");
        assert_eq!(mask_name(""), "");
    }
}
