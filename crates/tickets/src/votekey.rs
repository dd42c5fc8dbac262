//! Votekeys for the Wuhu party system: a ticket buyer registers with one at
//! the party to vote in the compos.
//!
//! A key is an optional organizer prefix followed by random consonants: no
//! vowels (so no accidental words) and no digits (so no 0/O or 1/I mix-ups).

use std::fmt;

/// 21 consonants. 256 is not a multiple of 21, hence the rejection sampling.
const ALPHABET: &[u8; 21] = b"BCDFGHJKLMNPQRSTVWXYZ";

/// 252 = 12 × 21, the largest multiple of 21 a byte can hold. Bytes from 252
/// up would map to B, C, D and F a thirteenth time, favouring those letters.
const FIRST_REJECTED_BYTE: u8 = 252;

/// Random bytes drawn per refill: enough for the longest key in one draw
/// almost every time (each byte is rejected with probability 4/256).
const BYTES_PER_DRAW: usize = 64;

/// A CSPRNG that keeps giving rejected bytes is broken; give up rather than loop.
const MAX_DRAWS: usize = 16;

/// How an event's votekeys look: `prefix` then `length` random letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VotekeyFormat {
    prefix: String,
    length: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VotekeyFormatError {
    #[error(
        "votekey length must be between {} and {} letters, got {length}",
        VotekeyFormat::MIN_LENGTH,
        VotekeyFormat::MAX_LENGTH
    )]
    LengthOutOfRange { length: usize },
    #[error("votekey prefix must be at most {} characters, got {length}", VotekeyFormat::MAX_PREFIX_LENGTH)]
    PrefixTooLong { length: usize },
    #[error("votekey prefix may contain only ASCII letters, digits, '-' and '_'")]
    PrefixInvalidCharacter,
}

/// Generating a key can only fail if the operating system cannot supply randomness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VotekeyError {
    #[error("the operating system's random number generator failed: {0}")]
    RandomnessUnavailable(getrandom::Error),
    #[error("the random number generator kept returning unusable bytes")]
    RandomnessExhausted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VotekeyParseError {
    #[error("votekey does not start with the expected prefix")]
    MissingPrefix,
    #[error("votekey has {actual} letters after the prefix, expected {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("votekey contains a character outside its alphabet")]
    InvalidCharacter,
}

impl VotekeyFormat {
    /// Short enough keys are guessable; Wuhu needs nothing longer than 32.
    pub const MIN_LENGTH: usize = 4;
    pub const MAX_LENGTH: usize = 32;
    pub const MAX_PREFIX_LENGTH: usize = 16;
    pub const DEFAULT_LENGTH: usize = 8;

    pub fn new(prefix: impl Into<String>, length: usize) -> Result<Self, VotekeyFormatError> {
        let prefix = prefix.into();
        if !(Self::MIN_LENGTH..=Self::MAX_LENGTH).contains(&length) {
            return Err(VotekeyFormatError::LengthOutOfRange { length });
        }
        // Counted in chars so the error reports what a person would count.
        let prefix_length = prefix.chars().count();
        if prefix_length > Self::MAX_PREFIX_LENGTH {
            return Err(VotekeyFormatError::PrefixTooLong { length: prefix_length });
        }
        if !prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(VotekeyFormatError::PrefixInvalidCharacter);
        }
        Ok(Self { prefix, length })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Number of random letters, not counting the prefix.
    pub fn length(&self) -> usize {
        self.length
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate(&self) -> Result<Votekey, VotekeyError> {
        self.generate_from(getrandom::fill)
    }

    /// The sampling loop, with the byte source injectable so tests can feed
    /// it bytes that must be rejected.
    fn generate_from(
        &self,
        mut fill: impl FnMut(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Result<Votekey, VotekeyError> {
        let mut key = String::with_capacity(self.prefix.len() + self.length);
        key.push_str(&self.prefix);
        let mut letters_needed = self.length;
        let mut buf = [0u8; BYTES_PER_DRAW];
        for _ in 0..MAX_DRAWS {
            fill(&mut buf).map_err(VotekeyError::RandomnessUnavailable)?;
            for letter in buf.iter().filter_map(|&byte| letter_for_byte(byte)) {
                key.push(letter);
                letters_needed -= 1;
                if letters_needed == 0 {
                    return Ok(Votekey(key));
                }
            }
        }
        Err(VotekeyError::RandomnessExhausted)
    }
}

impl Default for VotekeyFormat {
    fn default() -> Self {
        Self { prefix: String::new(), length: Self::DEFAULT_LENGTH }
    }
}

/// Maps a uniformly random byte to a uniformly random letter, or `None` for
/// the bytes that would bias the result.
fn letter_for_byte(byte: u8) -> Option<char> {
    if byte >= FIRST_REJECTED_BYTE {
        return None;
    }
    ALPHABET.get(usize::from(byte) % ALPHABET.len()).map(|&letter| char::from(letter))
}

/// A votekey in its final form, prefix included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Votekey(String);

impl Votekey {
    /// Reads back a stored key, checking it has exactly the shape `format`
    /// produces. Case-sensitive: keys are stored as generated.
    pub fn parse(format: &VotekeyFormat, input: &str) -> Result<Self, VotekeyParseError> {
        let letters = input.strip_prefix(format.prefix()).ok_or(VotekeyParseError::MissingPrefix)?;
        if !letters.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(VotekeyParseError::InvalidCharacter);
        }
        // All ASCII by now, so the byte length is the letter count.
        if letters.len() != format.length() {
            return Err(VotekeyParseError::WrongLength { expected: format.length(), actual: letters.len() });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Votekey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Votekey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    fn is_alphabet_letter(c: char) -> bool {
        u8::try_from(c).is_ok_and(|b| ALPHABET.contains(&b))
    }

    #[test]
    fn alphabet_is_21_distinct_uppercase_consonants() {
        let distinct: HashSet<u8> = ALPHABET.iter().copied().collect();
        assert_eq!(distinct.len(), 21);
        for &letter in ALPHABET {
            assert!(letter.is_ascii_uppercase(), "{}", char::from(letter));
            assert!(!b"AEIOU".contains(&letter), "{}", char::from(letter));
        }
    }

    #[test]
    fn byte_mapping_rejects_the_biased_tail() {
        for byte in 252..=255u8 {
            assert_eq!(letter_for_byte(byte), None, "byte {byte}");
        }
        for byte in 0..252u8 {
            assert!(letter_for_byte(byte).is_some_and(is_alphabet_letter), "byte {byte}");
        }
    }

    #[test]
    fn byte_mapping_is_uniform_over_accepted_bytes() {
        let mut counts: BTreeMap<char, usize> = BTreeMap::new();
        for letter in (0..=255u8).filter_map(letter_for_byte) {
            *counts.entry(letter).or_default() += 1;
        }
        assert_eq!(counts.len(), ALPHABET.len());
        let expected = usize::from(FIRST_REJECTED_BYTE) / ALPHABET.len();
        for (letter, count) in counts {
            assert_eq!(count, expected, "letter {letter}");
        }
    }

    #[test]
    fn generation_skips_rejected_bytes() {
        let format = VotekeyFormat::new("", 4).expect("valid");
        // Rejected bytes first; then 0, 1, 21 (wraps to B) and 251 (last accepted).
        let mut source = [252u8, 253, 254, 255, 0, 255, 1, 21, 251].into_iter().cycle();
        let key = format
            .generate_from(|buf| {
                buf.iter_mut().for_each(|b| *b = source.next().unwrap_or_default());
                Ok(())
            })
            .expect("enough accepted bytes");
        let expected: String = [0u8, 1, 21, 251].into_iter().filter_map(letter_for_byte).collect();
        assert_eq!(key.as_str(), expected);
    }

    #[test]
    fn generation_gives_up_on_a_source_of_only_rejected_bytes() {
        let format = VotekeyFormat::default();
        let result = format.generate_from(|buf| {
            buf.fill(255);
            Ok(())
        });
        assert_eq!(result, Err(VotekeyError::RandomnessExhausted));
    }

    #[test]
    fn generated_keys_have_the_right_length_and_alphabet() {
        for format in [
            VotekeyFormat::default(),
            VotekeyFormat::new("", VotekeyFormat::MIN_LENGTH).expect("valid"),
            VotekeyFormat::new("", VotekeyFormat::MAX_LENGTH).expect("valid"),
        ] {
            for _ in 0..500 {
                let key = format.generate().expect("OS randomness");
                assert_eq!(key.as_str().len(), format.length(), "{key}");
                assert!(key.as_str().chars().all(is_alphabet_letter), "{key}");
            }
        }
    }

    #[test]
    fn generated_keys_use_the_whole_alphabet() {
        let format = VotekeyFormat::new("", VotekeyFormat::MAX_LENGTH).expect("valid");
        let mut seen = HashSet::new();
        for _ in 0..50 {
            seen.extend(format.generate().expect("OS randomness").as_str().chars());
        }
        // 1600 letters: a missing letter has probability ~21·(20/21)^1600 ≈ 1e-32.
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn prefix_is_applied() {
        let format = VotekeyFormat::new("TDF26-", 8).expect("valid");
        let key = format.generate().expect("OS randomness");
        let letters = key.as_str().strip_prefix("TDF26-").expect("prefixed");
        assert_eq!(letters.len(), 8);
        assert!(letters.chars().all(is_alphabet_letter), "{key}");
    }

    #[test]
    fn two_generated_keys_differ() {
        // 21^8 ≈ 3.8e10 possible keys: a collision here means broken randomness.
        let format = VotekeyFormat::default();
        let first = format.generate().expect("OS randomness");
        let second = format.generate().expect("OS randomness");
        assert_ne!(first, second);
    }

    #[test]
    fn format_validation() {
        let too_long_prefix = "P".repeat(17);
        let cases: [(&str, usize, Result<(), VotekeyFormatError>); 9] = [
            ("", 8, Ok(())),
            ("tdf_26-", 4, Ok(())),
            (&too_long_prefix[..16], 32, Ok(())),
            ("", 3, Err(VotekeyFormatError::LengthOutOfRange { length: 3 })),
            ("", 33, Err(VotekeyFormatError::LengthOutOfRange { length: 33 })),
            ("", 0, Err(VotekeyFormatError::LengthOutOfRange { length: 0 })),
            (&too_long_prefix, 8, Err(VotekeyFormatError::PrefixTooLong { length: 17 })),
            ("TDF 26", 8, Err(VotekeyFormatError::PrefixInvalidCharacter)),
            ("東京", 8, Err(VotekeyFormatError::PrefixInvalidCharacter)),
        ];
        for (prefix, length, expected) in cases {
            assert_eq!(VotekeyFormat::new(prefix, length).map(|_| ()), expected, "prefix {prefix:?}, length {length}");
        }
    }

    #[test]
    fn default_format_is_eight_letters_without_prefix() {
        let format = VotekeyFormat::default();
        assert_eq!(format.prefix(), "");
        assert_eq!(format.length(), 8);
        assert_eq!(VotekeyFormat::new("", 8), Ok(format));
    }

    #[test]
    fn parse_round_trips_generated_keys() {
        let format = VotekeyFormat::new("TDF-", 10).expect("valid");
        for _ in 0..50 {
            let key = format.generate().expect("OS randomness");
            assert_eq!(Votekey::parse(&format, key.as_str()), Ok(key.clone()));
            assert_eq!(key.to_string(), key.as_str());
        }
    }

    #[test]
    fn parse_rejections() {
        let format = VotekeyFormat::new("TDF-", 8).expect("valid");
        let cases = [
            ("BCDFGHJK", VotekeyParseError::MissingPrefix),
            ("tdf-BCDFGHJK", VotekeyParseError::MissingPrefix),
            ("TDF-BCDFGHJ", VotekeyParseError::WrongLength { expected: 8, actual: 7 }),
            ("TDF-BCDFGHJKL", VotekeyParseError::WrongLength { expected: 8, actual: 9 }),
            ("TDF-", VotekeyParseError::WrongLength { expected: 8, actual: 0 }),
            ("TDF-BCDFGHJA", VotekeyParseError::InvalidCharacter),
            ("TDF-bcdfghjk", VotekeyParseError::InvalidCharacter),
            ("TDF-BCDFGHJ1", VotekeyParseError::InvalidCharacter),
            ("TDF-BCDFGHJK ", VotekeyParseError::InvalidCharacter),
            ("TDF-BCDFGHJé", VotekeyParseError::InvalidCharacter),
        ];
        for (input, expected) in cases {
            assert_eq!(Votekey::parse(&format, input), Err(expected), "{input:?}");
        }
    }
}
