//! The crate graph only points one way: protocol <- room, sfu, turn <- server <- testkit;
//! record depends on nothing internal; and room and sfu never know each other (design rule;
//! checked over `cargo metadata`).

use std::collections::HashMap;
use std::process::Command;

fn internal_deps() -> HashMap<String, Vec<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages array");
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("name").to_owned();
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies only
                .filter_map(|d| d["name"].as_str())
                .filter(|d| d.starts_with("moot-"))
                .map(str::to_owned)
                .collect();
            (name, deps)
        })
        .collect()
}

#[test]
fn crates_depend_one_way() {
    let deps = internal_deps();
    let of = |name: &str| {
        deps.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(
        of("moot-protocol").is_empty(),
        "protocol depends on nothing internal"
    );
    assert_eq!(of("moot-room"), vec!["moot-protocol".to_owned()]);
    assert!(
        of("moot-sfu").is_empty(),
        "sfu knows nothing of rooms or the protocol"
    );
    assert!(
        of("moot-turn").is_empty(),
        "turn is sans-IO TURN and knows nothing of Moot"
    );
    assert!(
        of("moot-record").is_empty(),
        "record writes files from RTP and knows nothing of rooms, peers or the SFU"
    );
    let server = of("moot-server");
    for needed in ["moot-protocol", "moot-room", "moot-sfu", "moot-turn"] {
        assert!(server.contains(&needed.to_owned()), "server wires {needed}");
    }
    assert!(!server.contains(&"moot-testkit".to_owned()));
    for (name, list) in &deps {
        assert!(
            name == "moot-testkit" || !list.contains(&"moot-testkit".to_owned()),
            "{name} must not depend on the testkit"
        );
    }
}
