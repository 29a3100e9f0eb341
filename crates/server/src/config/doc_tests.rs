//! docs/config.md shows every key with its default in one TOML block ("every key, with its
//! default"). These tests keep that true, so the page cannot drift from the code:
//!
//! - the block, read the way a `--config` file is (`Config::from_toml`, unknown keys are
//!   errors), is `Config::default()`, key for key;
//! - every key `Config` has appears in the block, set to its default, or commented out as
//!   `# key = example` when it has no default value (an unset `Option`); and every commented
//!   example is itself a valid key and value;
//! - the commented example the packages install (`packaging/moot.toml`) is a valid config file.

use super::Config;
use std::collections::BTreeMap;

/// The page, read at compile time: a change to it rebuilds these tests.
const CONFIG_MD: &str = include_str!("../../../../docs/config.md");

/// The fenced ```toml blocks of `markdown`, without their fences.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().starts_with("```toml") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(current.take());
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(
        current.is_none(),
        "docs/config.md: a ```toml block is never closed"
    );
    blocks
}

/// The one block of defaults.
fn documented_defaults() -> String {
    let blocks = toml_blocks(CONFIG_MD);
    assert_eq!(
        blocks.len(),
        1,
        "docs/config.md should have exactly one ```toml block, every key with its default; \
         show other examples in ```sh or prose"
    );
    blocks.into_iter().next().unwrap_or_default()
}

/// A `# key = value` line (a commented-out key) with its comment sign removed; None for prose.
fn uncommented(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("# ")?;
    let (key, _) = rest.split_once(" = ")?;
    let is_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    is_key.then_some(rest)
}

/// `value` as `section.key -> value` pairs (nested tables joined with dots, lists are values).
fn flatten(prefix: &str, value: &serde_json::Value, into: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, into);
            }
        }
        other => {
            into.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// Every key of `config`, `None`s included (serde_json writes them as null; TOML omits them).
fn keys_and_values(config: &Config) -> BTreeMap<String, String> {
    let value = serde_json::to_value(config).expect("a config is plain data");
    let mut flat = BTreeMap::new();
    flatten("", &value, &mut flat);
    flat
}

/// `Config::default()` as the page can show it: `state_dir` defaults to `$XDG_STATE_HOME/moot`
/// when that variable is set, which the page explains beside the fallback it shows.
fn expected_defaults() -> Config {
    let mut expected = Config::default();
    if std::env::var_os("XDG_STATE_HOME").is_some() {
        expected.state_dir = "moot-state".into();
    }
    expected
}

#[test]
fn the_documented_block_is_the_default_config() {
    let block = documented_defaults();
    let documented = Config::from_toml(&block)
        .unwrap_or_else(|e| panic!("docs/config.md's TOML block is not a valid config file: {e}"));
    documented
        .validate()
        .expect("docs/config.md's TOML block passes validation");
    let expected = expected_defaults();
    let (shown, real) = (keys_and_values(&documented), keys_and_values(&expected));
    let wrong: Vec<String> = real
        .iter()
        .filter(|(key, value)| shown.get(*key) != Some(value))
        .map(|(key, value)| {
            let shown = shown.get(key).map_or("nothing", String::as_str);
            format!("{key}: docs/config.md gives {shown}, Config::default() has {value}")
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "docs/config.md disagrees with the code:\n{}",
        wrong.join("\n")
    );
    // The same comparison by the type's own equality, in case a field escapes serde.
    assert_eq!(documented, expected);
}

#[test]
fn every_key_is_documented_and_every_commented_example_is_a_real_key() {
    let block = documented_defaults();
    let with_examples: String = block
        .lines()
        .map(|line| uncommented(line).unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    // Unknown keys are errors, so this also proves every commented example names a real key.
    if let Err(e) = Config::from_toml(&with_examples) {
        panic!("docs/config.md's TOML block with its `# key = …` examples uncommented: {e}");
    }
    let table: toml::Table = with_examples.parse().expect("parsed just above");
    let missing: Vec<String> = keys_and_values(&Config::default())
        .into_keys()
        .filter(|key| !has_key(&table, key))
        .collect();
    assert!(
        missing.is_empty(),
        "keys of Config missing from docs/config.md's TOML block (add them, commented out \
         as `# key = example` when they have no default): {missing:?}"
    );
}

/// Whether `dotted` (`section.key`) is set in `table`.
fn has_key(table: &toml::Table, dotted: &str) -> bool {
    let mut at = table;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(value) = at.get(part) else {
            return false;
        };
        if parts.peek().is_none() {
            return true;
        }
        let Some(inner) = value.as_table() else {
            return false;
        };
        at = inner;
    }
    false
}

/// The commented example the packages install (docs/config.md points to it).
const PACKAGED_EXAMPLE: &str = include_str!("../../../../packaging/moot.toml");

#[test]
fn the_packaged_example_is_a_valid_config_file() {
    let config = Config::from_toml(PACKAGED_EXAMPLE)
        .unwrap_or_else(|e| panic!("packaging/moot.toml is not a valid config file: {e}"));
    config
        .validate()
        .unwrap_or_else(|e| panic!("packaging/moot.toml does not validate: {e}"));
    // Its commented-out alternatives name real keys too (they are not meant to be combined,
    // so only read, not validated).
    let with_examples: String = PACKAGED_EXAMPLE
        .lines()
        .map(|line| uncommented(line.trim_start()).unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    if let Err(e) = Config::from_toml(&with_examples) {
        panic!("packaging/moot.toml with its `# key = …` examples uncommented: {e}");
    }
}
