//! Is a room name easy to guess?
//!
//! Anyone who knows a room's name can walk in, so a short or common name is a risk the creator
//! should be warned about. This is a deliberately simple estimate, specified exactly in
//! docs/protocol.md ("Guessable room names") because the browser has a twin
//! (`web/assets/js/guessable.js`) that must give the same numbers: keep the two in step. Both
//! are tested against one vector file, `tests/vectors/guessable-room-names.txt` (the common
//! words, the threshold and the estimate for sample names), so neither can drift alone.

/// Letter runs that count as one guess each (6 bits) instead of per letter. Same list, same
/// order, as `web/assets/js/guessable.js`.
#[rustfmt::skip]
pub const COMMON_WORDS: &[&str] = &[
    "meeting", "meet", "meetings", "test", "testing", "tests", "room", "rooms", "call", "calls",
    "chat", "team", "teams", "daily", "standup", "sync", "demo", "hello", "hi", "my", "our",
    "your", "the", "a", "an", "and", "of", "for", "with", "weekly", "monthly", "party", "class",
    "school", "office", "work", "project", "group", "family", "friends", "zoom", "jitsi", "moot",
    "video", "conference", "conf", "talk", "lobby", "main", "general", "public", "private",
    "secret", "admin", "user", "guest", "home", "lunch", "coffee", "board", "sales", "dev", "devs",
    "ops", "hr", "it", "support", "help", "interview", "review", "planning", "retro", "sprint",
    "kickoff", "all", "hands", "allhands", "company", "news", "live", "event", "webinar",
    "session", "lesson", "course", "study", "club", "game", "games", "fun", "music", "church",
    "prayer", "yoga", "fitness", "doctor", "health", "quick", "new", "open", "welcome", "abc",
    "xyz", "qwerty", "asdf", "foo", "bar", "baz", "password", "letmein", "one", "two", "three",
    "first", "last", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "morning", "evening", "night",
];

/// Names estimated below this many bits are guessable.
pub const THRESHOLD_BITS: f64 = 48.0;

/// Bits for a common word: one pick among a few hundred likely words.
const COMMON_WORD_BITS: f64 = 6.0;
/// Bits per letter of any other run: about the entropy of English text.
const LETTER_BITS: f64 = 2.5;
/// Bits per digit of a patternless run: log2(10) rounded to the value the twin uses.
const DIGIT_BITS: f64 = 3.3;
/// Bits for a digit run with an obvious pattern (repeated, sequence, year), whatever its length.
const PATTERN_DIGITS_BITS: f64 = 4.0;

/// The estimated strength of `name` in bits, per docs/protocol.md.
///
/// The name is lower-cased and split into runs of ASCII letters and runs of ASCII digits;
/// `-`, `_` (and any other character, which a valid room name cannot contain) only separate
/// runs. Runs are scored one by one and added up, from left to right (the order matters for
/// floating-point equality with the twin).
pub fn estimated_bits(name: &str) -> f64 {
    let lower = name.to_lowercase();
    let mut bits = 0.0;
    for run in runs(&lower) {
        bits += run_bits(run);
    }
    bits
}

/// Whether `name` should come with a warning that others could guess it.
pub fn is_guessable(name: &str) -> bool {
    estimated_bits(name) < THRESHOLD_BITS
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Separator,
}

fn class(c: char) -> Class {
    if c.is_ascii_lowercase() {
        Class::Letter
    } else if c.is_ascii_digit() {
        Class::Digit
    } else {
        Class::Separator
    }
}

/// Maximal runs of one class (letters or digits), in order; separators are dropped.
fn runs(text: &str) -> Vec<&str> {
    let mut result = Vec::new();
    let mut start = 0;
    let mut current = Class::Separator;
    for (index, c) in text.char_indices() {
        let next = class(c);
        if next != current {
            if current != Class::Separator {
                result.push(&text[start..index]);
            }
            start = index;
            current = next;
        }
    }
    if current != Class::Separator {
        result.push(&text[start..]);
    }
    result
}

fn run_bits(run: &str) -> f64 {
    let first = run.as_bytes().first().copied().unwrap_or(b'-');
    if first.is_ascii_digit() {
        if is_patterned_digits(run.as_bytes()) {
            PATTERN_DIGITS_BITS
        } else {
            DIGIT_BITS * run.len() as f64
        }
    } else if COMMON_WORDS.contains(&run) {
        COMMON_WORD_BITS
    } else {
        LETTER_BITS * run.len() as f64
    }
}

/// A digit run someone would pick without thinking: one digit repeated (length ≥ 2), a
/// consecutive ascending or descending sequence (length ≥ 3, no wrap-around: `890` is not one),
/// or a year from 1900 to 2099.
fn is_patterned_digits(digits: &[u8]) -> bool {
    let steps_all = |step: i16| {
        digits
            .windows(2)
            .all(|pair| i16::from(pair[1]) - i16::from(pair[0]) == step)
    };
    let repeated = digits.len() >= 2 && steps_all(0);
    let sequence = digits.len() >= 3 && (steps_all(1) || steps_all(-1));
    let year = digits.len() == 4 && (digits.starts_with(b"19") || digits.starts_with(b"20"));
    repeated || sequence || year
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors this module and its browser twin are both tested against, so the two cannot
    /// drift apart: the common words, the threshold and the estimate for sample names.
    const VECTORS: &str = include_str!("../../../tests/vectors/guessable-room-names.txt");
    const VECTORS_PATH: &str = "tests/vectors/guessable-room-names.txt";

    /// A name as the vector file writes it: `""` is the empty name.
    fn vector_name(token: &str) -> &str {
        if token == "\"\"" {
            ""
        } else {
            token
        }
    }

    #[test]
    fn the_shared_vectors_hold() {
        let mut words: Vec<&str> = Vec::new();
        let mut threshold = None;
        let mut names = 0;
        for (index, line) in VECTORS.lines().enumerate() {
            let at = format!("{VECTORS_PATH}:{}", index + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            match fields.next() {
                Some("threshold") => threshold = fields.next().and_then(|b| b.parse::<f64>().ok()),
                Some("words") => words.extend(fields),
                Some("runs") => {
                    let name = vector_name(fields.next().unwrap_or_default());
                    assert_eq!(fields.next(), Some("->"), "{at}: runs NAME -> RUN...");
                    let expected: Vec<&str> = fields.collect();
                    let lower = name.to_lowercase();
                    assert_eq!(runs(&lower), expected, "{at}: the runs of {name:?}");
                }
                Some("name") => {
                    let (Some(name), Some(bits), Some(verdict), None) =
                        (fields.next(), fields.next(), fields.next(), fields.next())
                    else {
                        panic!("{at}: name NAME BITS guessable|unguessable");
                    };
                    let name = vector_name(name);
                    let bits: f64 = bits
                        .parse()
                        .unwrap_or_else(|_| panic!("{at}: {bits:?} is not a number"));
                    let got = estimated_bits(name);
                    assert!(
                        (got - bits).abs() < 1e-9,
                        "{at}: {name:?} should be {bits} bits, estimated_bits gives {got}"
                    );
                    let guessable = match verdict {
                        "guessable" => true,
                        "unguessable" => false,
                        other => panic!("{at}: {other:?} is neither guessable nor unguessable"),
                    };
                    assert_eq!(is_guessable(name), guessable, "{at}: {name:?}");
                    names += 1;
                }
                other => panic!("{at}: unknown statement {other:?}"),
            }
        }
        assert_eq!(threshold, Some(THRESHOLD_BITS), "{VECTORS_PATH}: threshold");
        assert_eq!(
            COMMON_WORDS,
            words.as_slice(),
            "COMMON_WORDS must be the words of {VECTORS_PATH}, in the same order"
        );
        assert!(names >= 40, "{VECTORS_PATH}: only {names} names");
    }

    #[test]
    fn common_words_are_lower_case_letters_without_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for word in COMMON_WORDS {
            assert!(word.chars().all(|c| c.is_ascii_lowercase()), "{word:?}");
            assert!(seen.insert(word), "duplicate {word:?}");
        }
        assert_eq!(COMMON_WORDS.len(), 125);
    }
}
