//! No two modules import each other, in any Rust crate of the workspace or in the web client
//! (issue 19's rule: a concern that needs another's state asks through its methods, and the
//! dependency between two modules points one way).
//!
//! Rust: a module's imports are the `crate::…` and `super::…` paths in its file (outside
//! comments and its inline `mod tests`), resolved to the longest module prefix; a path to an
//! item of the crate root (`crate::Item`) imports the root, which is why modules name items by
//! their own module (`crate::types::PeerId`) and the root only declares and re-exports. `mod x;`
//! declares a child and is no import. JavaScript: `import … from './x.js'` in web/assets/js.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit is two levels down")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → "a::b", `src/a/mod.rs` → "a", `src/lib.rs` → "" (the root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "main.rs" => return None, // the binary is its own crate, a user of the library
        "mod.rs" => {}
        name => parts.push(name.trim_end_matches(".rs").to_owned()),
    }
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    Some(parts.join("::"))
}

/// The file's code without line comments and without its inline test module.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break; // by convention the inline test module closes the file
        }
        let without_comment = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(without_comment);
        code.push('\n');
    }
    code
}

/// Every path after `crate::`/`super::` in `code`, as segment lists: `use crate::{a::X, b}`
/// gives [a, X] and [b]; `crate::c::d()` gives [c, d].
fn paths(code: &str, keyword: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let pattern = format!("{keyword}::");
    let mut rest = code;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().last();
        rest = &rest[at + pattern.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // part of a longer name
        }
        out.extend(expand(rest));
    }
    out
}

/// The paths that start at the beginning of `text` (a path or a `{…}` group of them).
fn expand(text: &str) -> Vec<Vec<String>> {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 1;
        let mut end = group.len();
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        return split_top_level(&group[..end])
            .into_iter()
            .flat_map(expand)
            .collect();
    }
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        segments.push(name);
        match rest.strip_prefix("::") {
            Some(after) if after.starts_with('{') => {
                return expand(after)
                    .into_iter()
                    .map(|tail| segments.iter().cloned().chain(tail).collect())
                    .collect();
            }
            Some(after) => rest = after,
            None => break,
        }
    }
    vec![segments]
}

fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// The module a path from `base` (a module, as segments) names: its longest module prefix.
fn resolve(modules: &BTreeSet<String>, base: &[String], path: &[String]) -> String {
    let mut best = base.join("::");
    for len in 1..=path.len() {
        let candidate: Vec<String> = base.iter().chain(&path[..len]).cloned().collect();
        let name = candidate.join("::");
        if modules.contains(&name) {
            best = name;
        } else {
            break;
        }
    }
    best
}

/// Edges `from -> to` between the modules of the crate in `src`.
fn rust_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let named: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter_map(|f| module_of(src, &f).map(|m| (m, f)))
        .collect();
    let modules: BTreeSet<String> = named.iter().map(|(m, _)| m.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &named {
        let code = code_of(&std::fs::read_to_string(file).expect("readable source"));
        let own: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_owned).collect()
        };
        let parent = &own[..own.len().saturating_sub(1)];
        let mut targets = BTreeSet::new();
        for path in paths(&code, "crate") {
            targets.insert(resolve(&modules, &[], &path));
        }
        for path in paths(&code, "super") {
            targets.insert(resolve(&modules, parent, &path));
        }
        // A child module named without `crate::` (`use peer::Peer;`, `worker::run(…)`).
        for child in modules.iter().filter(|m| is_child(module, m)) {
            let name = child.rsplit("::").next().expect("a child has a name");
            if mentions(&code, &format!("{name}::")) {
                targets.insert(child.clone());
            }
        }
        targets.remove(module);
        edges.insert(module.clone(), targets);
    }
    edges
}

/// Whether `child` is a direct child module of `module`.
fn is_child(module: &str, child: &str) -> bool {
    let rest = if module.is_empty() {
        Some(child)
    } else {
        child
            .strip_prefix(module)
            .and_then(|r| r.strip_prefix("::"))
    };
    rest.is_some_and(|r| !r.is_empty() && !r.contains("::"))
}

/// Whether `code` has `needle` not preceded by a name character or `:` (so `a::b::` is not a
/// mention of `b::`).
fn mentions(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        code[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    })
}

fn js_imports(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("web/assets/js") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        let name = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable module");
        let mut targets = BTreeSet::new();
        for quote in ["'./", "\"./"] {
            for (at, _) in text.match_indices(&format!("from {quote}")) {
                let rest = &text[at + 6 + 2..];
                if let Some(end) = rest.find(['\'', '"']) {
                    targets.insert(rest[..end].to_owned());
                }
            }
        }
        edges.insert(name, targets);
    }
    edges
}

fn mutual(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (a, targets) in edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|back| back.contains(a)) {
                pairs.push((a.clone(), b.clone()));
            }
        }
    }
    pairs
}

fn show(module: &str) -> &str {
    if module.is_empty() {
        "(crate root)"
    } else {
        module
    }
}

#[test]
fn no_two_rust_modules_import_each_other() {
    let crates = repo_root().join("crates");
    let mut found = Vec::new();
    let mut imports = 0;
    for entry in std::fs::read_dir(&crates).expect("crates/") {
        let dir = entry.expect("dir entry").path();
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        let name = dir
            .file_name()
            .expect("a crate dir")
            .to_string_lossy()
            .into_owned();
        let edges = rust_imports(&src);
        imports += edges.values().map(BTreeSet::len).sum::<usize>();
        for (a, b) in mutual(&edges) {
            found.push(format!("{name}: {} <-> {}", show(&a), show(&b)));
        }
    }
    // Not vacuous: the crates' modules import each other some hundreds of times.
    assert!(
        imports > 150,
        "only {imports} imports found: is the parser still right?"
    );
    assert!(found.is_empty(), "modules importing each other: {found:#?}");
}

#[test]
fn no_two_web_modules_import_each_other() {
    let edges = js_imports(&repo_root().join("web/assets/js"));
    assert!(edges.len() > 10, "the web client's modules are found");
    let found = mutual(&edges);
    assert!(
        found.is_empty(),
        "web modules importing each other: {found:?}"
    );
}

#[test]
fn the_checker_sees_an_import_cycle_where_there_is_one() {
    let modules: BTreeSet<String> = ["", "a", "b", "b::c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let code = "use crate::{a::Thing, b::c::{X, Y}};\nfn f() { super::b::go(); crate::Root; }";
    let crate_paths = paths(code, "crate");
    let resolved: BTreeSet<String> = crate_paths
        .iter()
        .map(|p| resolve(&modules, &[], p))
        .collect();
    let expected: BTreeSet<String> = ["a", "b::c", ""].iter().map(|s| s.to_string()).collect();
    assert_eq!(resolved, expected);
    let from_child = paths(code, "super")
        .iter()
        .map(|p| resolve(&modules, &["b".to_owned()], p))
        .collect::<Vec<_>>();
    assert_eq!(from_child, vec!["b".to_owned()], "super:: from b::c is b");
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(mutual(&edges), vec![("a".to_owned(), "b".to_owned())]);
}
