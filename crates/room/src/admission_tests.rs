//! Unit tests of the entry helpers.

use super::*;

#[test]
fn identities_must_have_the_documented_shape() {
    assert!(valid_identity("abcdefghij-_0123"));
    assert!(valid_identity(&"x".repeat(64)));
    assert!(!valid_identity(&"x".repeat(15)));
    assert!(!valid_identity(&"x".repeat(65)));
    assert!(!valid_identity("abcdefghij 0123456"));
    assert!(!valid_identity("abcdefghijé0123456"));
}

#[test]
fn knocks_are_cleaned_and_cut() {
    assert_eq!(
        clean_knock("  hi, it's Ana \n"),
        Some("hi, it's Ana".into())
    );
    assert_eq!(clean_knock("a\u{7}b\u{1b}[31mc"), Some("ab[31mc".into()));
    assert_eq!(clean_knock(" \t\r\n"), None);
    assert_eq!(clean_knock(""), None);
    let long = "é".repeat(500);
    assert_eq!(clean_knock(&long).map(|k| k.chars().count()), Some(200));
}
