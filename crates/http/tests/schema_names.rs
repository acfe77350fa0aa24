//! One OpenAPI component name, one schema: utoipa keys `components.schemas` by the
//! schema's name, so two Rust types deriving `ToSchema` under the same name with
//! different content silently overwrite each other in the document (`ReplyBody` did,
//! commit 653763e; `DeadlineState` was the name of the board's filter and of the views'
//! own type). This test reads every workspace crate's sources and fails when one name
//! (the type's name, or its `#[schema(as = …)]`) belongs to types whose definitions
//! (attributes, doc comments and body) differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A type deriving `ToSchema`: where, and its definition without its own name.
#[derive(Debug, Clone)]
struct Component {
    at: String,
    definition: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `struct Name…` / `enum Name…` after any visibility: the name.
fn item_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if let Some(r) = rest.strip_prefix("pub") {
        rest = r.trim_start();
        if rest.starts_with('(') {
            rest = rest.split_once(')')?.1.trim_start();
        }
    }
    let rest = rest
        .strip_prefix("struct ")
        .or_else(|| rest.strip_prefix("enum "))?;
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The name given by `#[schema(as = path::Name)]` (path segments joined by `.`).
fn schema_as(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix("#[schema(")?;
    let (_, after) = inner.split_once("as =")?;
    let path: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    Some(path.replace("::", "."))
}

/// The `ToSchema` types of one source file, by component name.
fn components(file: &str, text: &str) -> Vec<(String, Component)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("#[derive(") {
            i += 1;
            continue;
        }
        // The derive may span lines.
        let mut end = i;
        while end < lines.len() && !lines[end].contains(")]") {
            end += 1;
        }
        let derive = lines[i..=end.min(lines.len() - 1)].join(" ");
        if !derive.contains("ToSchema") {
            i = end + 1;
            continue;
        }
        // Doc comments above the derive are part of the schema (descriptions).
        let mut start = i;
        while start > 0 && lines[start - 1].trim_start().starts_with("///") {
            start -= 1;
        }
        let mut item = end + 1;
        let mut renamed = None;
        while item < lines.len() && item_name(lines[item]).is_none() {
            renamed = schema_as(lines[item]).or(renamed);
            item += 1;
        }
        let Some(name) = lines.get(item).and_then(|l| item_name(l)) else {
            break;
        };
        // The body: to the closing brace at the item's indentation (or a one-line item).
        let indent: String = lines[item]
            .chars()
            .take_while(|c| c.is_whitespace())
            .collect();
        let mut last = item;
        let one_line = lines[item].trim_end().ends_with(';')
            || (lines[item].contains('{') && lines[item].trim_end().ends_with('}'));
        if !one_line {
            while last < lines.len() && lines[last] != format!("{indent}}}") {
                last += 1;
            }
        }
        let mut definition: Vec<String> = lines[start..i]
            .iter()
            .chain(&lines[end + 1..=last.min(lines.len() - 1)])
            .map(|l| l.trim().to_string())
            .collect();
        // The type's own name is not content (a renamed twin may be identical).
        if let Some(head) = definition.iter_mut().find(|l| item_name(l).is_some()) {
            *head = head.replacen(&name, "", 1);
        }
        found.push((
            renamed.unwrap_or(name),
            Component {
                at: format!("{file}:{}", item + 1),
                definition: definition.join("\n"),
            },
        ));
        i = last + 1;
    }
    found
}

/// The macros whose expansion derives `ToSchema` (`closed_set!`, `text_bodies!`, …).
fn schema_macros(texts: &[(String, String)]) -> Vec<String> {
    let mut macros = Vec::new();
    for (_, text) in texts {
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("macro_rules! ") {
                current = Some(rest.trim_end_matches(['{', ' ']).to_string());
            } else if line.starts_with('}') {
                current = None;
            } else if line.contains("ToSchema") {
                macros.extend(current.clone());
            }
        }
    }
    macros.sort();
    macros.dedup();
    macros
}

/// An upper-camel-case identifier opening a macro entry (`Name {`, `Name =>`): the name.
fn entry_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let name: String = t
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let rest = t[name.len()..].trim_start();
    (name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && (rest.starts_with('{') || rest.starts_with("=>")))
    .then_some(name)
}

/// The types the invocations of `macros` in one file define, by name: each entry's doc
/// comments and text (without its name) is its definition.
fn macro_components(file: &str, text: &str, macros: &[String]) -> Vec<(String, Component)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let invoked = macros.iter().any(|m| {
            let t = lines[i].trim_start();
            t.starts_with(&format!("{m}!(")) || t.starts_with(&format!("{m}! {{"))
        });
        if !invoked {
            i += 1;
            continue;
        }
        // The invocation ends at the first line back at column 0 that closes it.
        let mut end = i + 1;
        while end < lines.len() && !(lines[end].starts_with('}') || lines[end].starts_with(')')) {
            end += 1;
        }
        let body = &lines[i + 1..end.min(lines.len())];
        let starts: Vec<usize> = (0..body.len())
            .filter(|&k| entry_name(body[k]).is_some())
            .collect();
        for (n, &k) in starts.iter().enumerate() {
            let mut first = k;
            while first > 0 && body[first - 1].trim_start().starts_with("///") {
                first -= 1;
            }
            let mut last = starts.get(n + 1).copied().unwrap_or(body.len());
            while last > k + 1 && body[last - 1].trim_start().starts_with("///") {
                last -= 1;
            }
            let name = entry_name(body[k]).expect("an entry");
            let mut definition: Vec<String> = body[first..last]
                .iter()
                .map(|l| l.trim().to_string())
                .collect();
            definition[k - first] = definition[k - first].replacen(&name, "", 1);
            found.push((
                name,
                Component {
                    at: format!("{file}:{}", i + 2 + k),
                    definition: definition.join("\n"),
                },
            ));
        }
        i = end + 1;
    }
    found
}

/// Names registered by types whose definitions differ, with where.
fn collisions(all: &[(String, Component)]) -> BTreeMap<String, Vec<String>> {
    let mut by_name: BTreeMap<&str, Vec<&Component>> = BTreeMap::new();
    for (name, c) in all {
        by_name.entry(name).or_default().push(c);
    }
    by_name
        .into_iter()
        .filter(|(_, cs)| cs.iter().any(|c| c.definition != cs[0].definition))
        .map(|(name, cs)| (name.to_string(), cs.iter().map(|c| c.at.clone()).collect()))
        .collect()
}

fn workspace_components() -> Vec<(String, Component)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates)
        .expect("the workspace's crates")
        .flatten()
    {
        rust_files(&entry.path().join("src"), &mut files);
    }
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let shown = f.strip_prefix(&crates).unwrap_or(f).display().to_string();
            (
                shown,
                std::fs::read_to_string(f).expect("a readable source file"),
            )
        })
        .collect();
    let macros = schema_macros(&texts);
    texts
        .iter()
        .flat_map(|(file, text)| {
            let mut found = components(file, text);
            found.extend(macro_components(file, text, &macros));
            found
        })
        .collect()
}

#[test]
fn no_two_types_register_one_openapi_component_name_with_different_schemas() {
    let all = workspace_components();
    // The scan sees the types it must (else it would pass by seeing nothing).
    for known in [
        "DeadlineEntry",
        "DeadlineState",
        "DeadlineBoardState",
        "Problem",
        "ReplyBody",
        "SupervisionReplyBody",
        "Category",
    ] {
        assert!(
            all.iter().any(|(name, _)| name == known),
            "the scan did not find the ToSchema type {known}"
        );
    }
    let clashes = collisions(&all);
    assert!(
        clashes.is_empty(),
        "OpenAPI component names used by different types (one would overwrite the \
         other in the document; give each its own name or #[schema(as = …)]): {clashes:#?}"
    );
}

#[test]
fn the_scan_tells_a_clash_from_a_renamed_twin() {
    let a = "/// The board's filter.\n#[derive(Serialize, ToSchema)]\n#[serde(rename_all = \"snake_case\")]\npub enum DeadlineState {\n    Overdue,\n    DueSoon,\n}\n";
    let b = "#[derive(Debug, utoipa::ToSchema)]\npub enum DeadlineState {\n    /// Passed.\n    Overdue,\n    DueSoon,\n}\n";
    let renamed = "#[derive(\n    Debug,\n    utoipa::ToSchema,\n)]\n#[schema(as = BoardState)]\npub enum DeadlineState {\n    /// Passed.\n    Overdue,\n    DueSoon,\n}\n";
    let mut all = components("a.rs", a);
    all.extend(components("b.rs", b));
    assert_eq!(
        collisions(&all),
        BTreeMap::from([(
            "DeadlineState".to_string(),
            vec!["a.rs:4".to_string(), "b.rs:2".to_string()]
        )])
    );
    let mut all = components("a.rs", a);
    all.extend(components("c.rs", renamed));
    assert!(collisions(&all).is_empty(), "{all:#?}");
    // Types a macro defines are seen too.
    let macros = schema_macros(&[(
        "m.rs".into(),
        "macro_rules! text_bodies {\n    (...) => {\n        #[derive(utoipa::ToSchema)]\n    };\n}\n".into(),
    )]);
    assert_eq!(macros, ["text_bodies"]);
    let invoked = "text_bodies! {\n    /// `reply` of a complaint.\n    ReplyBody {\n        /// At most 4000.\n        text: 4000\n    }\n    /// `reply` of an item.\n    ReplyBody {\n        /// At most 8000.\n        text: 8000\n    }\n}\n";
    assert_eq!(
        collisions(&macro_components("m.rs", invoked, &macros)),
        BTreeMap::from([(
            "ReplyBody".to_string(),
            vec!["m.rs:3".to_string(), "m.rs:8".to_string()]
        )])
    );
    // The same definition twice is one schema, not a clash.
    let mut all = components("a.rs", a);
    all.extend(components("d.rs", a));
    assert!(collisions(&all).is_empty());
}
