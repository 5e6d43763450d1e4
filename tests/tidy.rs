//! Mechanical rules of the tree, checked on the sources themselves: every Rust file opens with
//! a module doc (`//!`), `unsafe` stays where it is allowed and says why it is sound, and the
//! server's modules import each other without a cycle (the flows never import the dispatcher
//! that calls them; the assembly and the listener share their error type from below).

#![allow(
    clippy::unwrap_used,
    reason = "a tree that cannot be read is a failed check; the panic says where"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Rust files of the project below `dir` (relative to the workspace root).
fn rust_files(dir: &str) -> Vec<PathBuf> {
    rust_files_below(&root().join(dir))
}

/// The Rust files below `dir`, but for build output and test fixtures.
fn rust_files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "fixtures") {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn all_rust_files() -> Vec<PathBuf> {
    ["src", "actors", "tests", "bench"]
        .iter()
        .flat_map(|dir| rust_files(dir))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| relative(&path))
        .collect();
    assert!(missing.is_empty(), "no `//!` module doc: {missing:?}");
}

/// The files where `unsafe` may stand: the process's own start-up, which replaces Rust's
/// runtime, and in each crate that needs one, the one small module of system calls that
/// rustix does not cover (the binary's `pre_exec` and signals; the server's registration of a
/// descriptor with tokio); and the musl build's `memcmp`, which takes C's raw pointers.
const UNSAFE_ALLOWED: &[&str] = &[
    "src/cli/process_start.rs",
    "src/cli/sys.rs",
    "src/cli/musl_mem.rs",
    "actors/src/sys.rs",
];

#[test]
fn unsafe_stays_in_its_modules_and_says_why() {
    let mut misplaced = Vec::new();
    let mut unexplained = Vec::new();
    for path in all_rust_files() {
        let name = relative(&path);
        if name == "tests/tidy.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if !code.contains("unsafe ") && !code.contains("unsafe{") {
                continue;
            }
            if !UNSAFE_ALLOWED.contains(&name.as_str()) {
                misplaced.push(format!("{name}:{}", index + 1));
            }
            // `unsafe fn` and `unsafe extern` declare; a block must say why it is sound.
            let declares = code.contains("unsafe fn") || code.contains("unsafe extern");
            // The comment block right above the line (or the line itself) says why.
            let explained = line.contains("SAFETY:")
                || lines[..index]
                    .iter()
                    .rev()
                    .take_while(|line| line.trim_start().starts_with("//"))
                    .any(|line| line.contains("SAFETY:"));
            if !declares && !explained {
                unexplained.push(format!("{name}:{}", index + 1));
            }
        }
    }
    assert!(
        misplaced.is_empty(),
        "unsafe outside {UNSAFE_ALLOWED:?}: {misplaced:?}"
    );
    assert!(
        unexplained.is_empty(),
        "unsafe without a SAFETY comment: {unexplained:?}"
    );
}

/// The module path of a file below `actors/src` (`flow/c.rs` -> `flow::c`, `flow/mod.rs` ->
/// `flow`).
fn module_of(file: &Path, src: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts.join("::")
}

/// The paths a file imports with `use crate::…`, `use super::…` or a path relative to itself
/// (also `pub use`), resolved
/// to module paths, grouped imports (`use crate::{a, b::{c, d}}`) expanded.
fn imports(text: &str, module: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        // An indented `use` is inside an inline module (`mod tests { use super::*; }`), whose
        // `super` is this file's module.
        let nested = line.starts_with(char::is_whitespace);
        let line = line.trim_start();
        let Some(statement) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
        else {
            continue;
        };
        let mut statement = statement.to_owned();
        while !statement.contains(';') {
            match lines.next() {
                Some(more) => statement.push_str(more),
                None => break,
            }
        }
        let statement: String = statement
            .split(';')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if let Some(path) = statement.strip_prefix("crate::") {
            found.extend(expand(path));
        } else if let Some(path) = statement.strip_prefix("super::") {
            // `super` is the module's parent (for `flow/c.rs`, `flow`; for `flow/mod.rs`, the
            // crate root): the module path minus its last part.
            let mut parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
            if !nested {
                parent.pop();
            }
            found.extend(expand(path).into_iter().map(|tail| {
                parent
                    .iter()
                    .copied()
                    .chain(std::iter::once(tail.as_str()))
                    .collect::<Vec<_>>()
                    .join("::")
            }));
        } else {
            // A path relative to the module itself (`pub use dispatch::decide;` in a
            // `mod.rs`); an external crate's path resolves to no module of this one.
            let path = statement.strip_prefix("self::").unwrap_or(&statement);
            found.extend(
                expand(path)
                    .into_iter()
                    .map(|tail| format!("{module}::{tail}")),
            );
        }
    }
    found
}

/// `a::{b, c::{d}}` -> `a::b`, `a::c::d`.
fn expand(path: &str) -> Vec<String> {
    match path.find('{') {
        None => vec![path.trim_end_matches("::").to_owned()],
        Some(open) => {
            let prefix = &path[..open];
            let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
            let mut items = Vec::new();
            let (mut depth, mut from) = (0, 0);
            for (index, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[from..index]);
                        from = index + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[from..]);
            items
                .into_iter()
                .filter(|item| !item.is_empty())
                .flat_map(expand)
                .map(|tail| format!("{prefix}{tail}"))
                .collect()
        }
    }
}

/// The longest known module that `path` lies in.
fn owning_module(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|length| parts[..length].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// The import edges between the files of a crate's `src`, from `use crate::` and `use super::`.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<PathBuf> = rust_files_below(src);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(file, src)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file, src);
        let text = std::fs::read_to_string(file).unwrap();
        let targets: BTreeSet<String> = imports(&text, &module)
            .iter()
            .filter_map(|path| owning_module(path, &modules))
            .filter(|target| *target != module && !target.is_empty())
            .collect();
        graph.insert(module, targets);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            Some(false) => return None,
            None => {}
        }
        state.insert(node.to_owned(), true);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.to_owned(), false);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_import_graph_finds_a_planted_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("flow")).unwrap();
    std::fs::write(src.join("lib.rs"), "//! x\npub mod flow;\n").unwrap();
    std::fs::write(src.join("flow/mod.rs"), "//! x\npub use dispatch::run;\n").unwrap();
    std::fs::write(
        src.join("flow/dispatch.rs"),
        "//! x\nuse crate::flow::{c::C, steps};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("flow/c.rs"),
        "//! x\nuse super::steps::{self, Run};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("flow/steps.rs"),
        "//! x\nuse crate::flow::Services;\n",
    )
    .unwrap();
    let graph = import_graph(src);
    assert_eq!(
        graph["flow::dispatch"],
        ["flow::c", "flow::steps"].map(String::from).into()
    );
    assert_eq!(graph["flow::c"], ["flow::steps"].map(String::from).into());
    // steps -> flow (the re-export) -> dispatch -> steps.
    assert!(find_cycle(&graph).is_some(), "{graph:?}");
}

#[test]
fn the_servers_modules_import_each_other_without_a_cycle() {
    let graph = import_graph(&root().join("actors/src"));
    assert!(graph.len() > 20, "too few modules read: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in actors/src: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_core_and_the_binary_import_without_a_cycle() {
    for src in ["src/core/src", "src/cli"] {
        let graph = import_graph(&root().join(src));
        assert!(graph.len() > 8, "too few modules read in {src}: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("import cycle in {src}: {}", cycle.join(" -> "));
        }
    }
}
