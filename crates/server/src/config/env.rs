//! Any configuration key from the environment: `MOOT__<SECTION>__<KEY>=<value>`, e.g.
//! `MOOT__MEDIA__THREADS=4`, `MOOT__TLS__ACME_DOMAINS='["meet.example.org"]'`,
//! `MOOT__STATE_DIR=/var/lib/moot`. Names are case-insensitive; the value is read as a TOML
//! value (a number, `true`, a quoted string, a list) and, when it is not one, as a plain
//! string, so `MOOT__PRIVACY__OPERATOR_CONTACT=Example e.V.` needs no quotes. Applied after
//! the file and before the flags; an unknown key is an error naming the variable, as in the
//! file.

use super::{Config, ConfigError};

const PREFIX: &str = "MOOT__";

/// `config` with every `MOOT__…` variable in `vars` applied.
pub fn apply(
    config: Config,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut overrides: Vec<(String, Vec<String>, toml::Value)> = vars
        .into_iter()
        .filter_map(|(name, value)| {
            let head = name.get(..PREFIX.len())?;
            let path = head
                .eq_ignore_ascii_case(PREFIX)
                .then(|| &name[PREFIX.len()..])?;
            let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            Some((name, keys, parse_value(&value)))
        })
        .collect();
    if overrides.is_empty() {
        return Ok(config);
    }
    // Deterministic order, whatever order the environment lists them in.
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    let mut table =
        toml::Table::try_from(&config).map_err(|e| ConfigError::Environment(e.to_string()))?;
    for (name, keys, value) in overrides {
        set(&mut table, &keys, value)
            .map_err(|problem| ConfigError::Environment(format!("{name}: {problem}")))?;
        // Checked one variable at a time so the error names the variable.
        toml::Value::Table(table.clone())
            .try_into::<Config>()
            .map_err(|e| ConfigError::Environment(format!("{name}: {e}")))?;
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Environment(e.to_string()))
}

fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

fn set(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Err("names no key".to_owned()),
        [key] if !key.is_empty() => {
            table.insert(key.clone(), value);
            Ok(())
        }
        [section, rest @ ..] if !section.is_empty() => {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set(inner, rest, value),
                _ => Err(format!("{section} is a key, not a section")),
            }
        }
        _ => Err("has an empty part (two underscores too many?)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_in_sections_and_at_the_top_are_set_with_their_types() {
        let config = apply(
            Config::default(),
            vars(&[
                ("MOOT__MEDIA__THREADS", "4"),
                ("moot__http__allow_plain_http", "true"),
                ("MOOT__TLS__ACME_DOMAINS", r#"["meet.example.org"]"#),
                (
                    "MOOT__PRIVACY__OPERATOR_CONTACT",
                    "Example e.V., privacy@example.org",
                ),
                ("MOOT__STATE_DIR", "/var/lib/moot"),
                (
                    "MOOT_LISTEN",
                    "ignored: one underscore is the flags' variables",
                ),
                ("PATH", "/usr/bin"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.media.threads, 4);
        assert!(config.http.allow_plain_http);
        assert_eq!(config.tls.acme_domains, vec!["meet.example.org".to_owned()]);
        assert_eq!(
            config.privacy.operator_contact,
            "Example e.V., privacy@example.org"
        );
        assert_eq!(config.state_dir, std::path::PathBuf::from("/var/lib/moot"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_variable() {
        let err = apply(Config::default(), vars(&[("MOOT__MEDIA__THRAEDS", "4")]))
            .expect_err("typo")
            .to_string();
        assert!(err.contains("MOOT__MEDIA__THRAEDS"), "{err}");
        let err = apply(Config::default(), vars(&[("MOOT__MEDIA__THREADS", "many")]))
            .expect_err("not a number")
            .to_string();
        assert!(err.contains("MOOT__MEDIA__THREADS"), "{err}");
        let err = apply(Config::default(), vars(&[("MOOT__STATE_DIR__X", "1")]))
            .expect_err("a key, not a section")
            .to_string();
        assert!(err.contains("not a section"), "{err}");
        let err = apply(Config::default(), vars(&[("MOOT__MEDIA____PORT", "1")]))
            .expect_err("empty part")
            .to_string();
        assert!(err.contains("empty part"), "{err}");
    }

    #[test]
    fn nothing_set_changes_nothing() {
        let config = apply(Config::default(), vars(&[("HOME", "/root")])).expect("valid");
        assert_eq!(config, Config::default());
    }
}
