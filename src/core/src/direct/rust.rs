//! Rust direct mode's records: what the dep-info of a rustc compile listed (every file it read,
//! every environment variable `env!`/`option_env!` read), with the files' stamps and digests and
//! the variables' values, so that a later compile with the same manifest key
//! (`hash_key::rust_manifest_key`) finds its result without starting rustc.
//!
//! It holds data and the pure parts of the check (the environment, the module files that must
//! stay absent); the server stats and digests the files.

use super::{ByteBuf, ReadFile, Record, Records};
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Changed whenever a rust record's meaning changes; a manifest of another version is a miss.
pub use crate::manifest_version::RUST as RUST_MANIFEST_VERSION;

/// A variable the compile read through `env!`/`option_env!`, with the SHA-256 of the value it
/// had in the environment of the compile that made the record (`None`: unset). Never the value
/// itself: a manifest goes to every backend, Redis and S3 included, and a variable read only
/// to test it (`option_env!("DEPLOY_TOKEN").is_some()`) may be a secret that no output holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvDep {
    pub name: String,
    pub value_digest: Option<[u8; 32]>,
}

/// One result stored under a rust manifest, with what must hold for it to be this compile's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustRecorded {
    /// Every file the dep-info listed, as it names them (relative to the working directory,
    /// which is in the manifest key, or absolute).
    pub files: Vec<ReadFile>,
    /// For a compile that links: the crates (`.rlib`, `.rmeta`, `.so`) it loaded, its direct
    /// dependencies' dependencies and the sysroot's included, as a `-Zbinary-dep-depinfo`
    /// dep-info run lists them (cargo's own dep-info does not), with the `.rlib` beside each
    /// `.rmeta`. Checked like `files`, but their directories are not listed: cargo's output
    /// directory gains crates all through a build.
    pub crates: Vec<ReadFile>,
    pub env: Vec<EnvDep>,
    /// Paths that were no file and must stay so: the other spelling of every module file read
    /// (`a.rs` for `a/mod.rs` and back), which would make `mod a;` ambiguous, an error.
    pub absent: Vec<ByteBuf>,
    /// Every directory holding a file read, with the digest of its sorted entry names
    /// (`listing_digest`): a proc macro that includes every file of a directory (rust-embed)
    /// lists it, untracked, so a file added or removed there must be a miss.
    pub dirs: Vec<Listing>,
    /// For a compile that loaded shared objects (its proc macros, among `crates` by the path
    /// of the search directory holding each): the digest of the directories it searched for
    /// crates, as written (`crate_search_digest`). The record holds only for a compile that
    /// searches the same ones: in another target directory those paths are not what it
    /// loads. A record of a compile that loaded none stays good for every target directory.
    pub crate_search: Option<[u8; 32]>,
    /// The key of the result.
    pub result: [u8; 32],
}

/// A directory and the digest of the names in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub dir: ByteBuf,
    pub names: [u8; 32],
}

/// Whether a file's bytes spell `extern` anywhere (code, comment or string alike). rustc loads
/// a crate only for a `--extern` argument or an `extern crate` item, and an item comes from
/// the crate's own files (a macro that expands to one spells it too) or from the sysroot's
/// crates, whose macros name only sysroot crates. So a compile without `--extern` whose files
/// never spell the word loads the sysroot's crates alone.
pub fn mentions_extern(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"extern").is_some()
}

/// Whether a source's bytes may make the assembler read a file that no dep-info lists: the
/// directives `.incbin` and `.include` (any case, as GNU as takes them) in `asm!` or
/// `global_asm!` text. Spelled anywhere (code, comment or string alike) they count; text
/// pieced together by a macro (`concat!(".inc", "bin")`) is beyond this check, as token
/// pasting is for C.
pub fn may_assemble_files(bytes: &[u8]) -> bool {
    spelled_in_any_case(bytes, b"incbin") || spelled_in_any_case(bytes, b".include")
}

/// Whether `bytes` spell `word` in any ASCII case: each place its first letter (in either
/// case) occurs, found by `memchr`, is compared with the rest.
fn spelled_in_any_case(bytes: &[u8], word: &[u8]) -> bool {
    let Some((first, rest)) = word.split_first() else {
        return true;
    };
    memchr::memchr2_iter(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        bytes,
    )
    .any(|at| {
        bytes
            .get(at + 1..at + word.len())
            .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
    })
}

/// Whether a source's bytes may name a native library of any file name: `+verbatim` in a
/// `#[link]` attribute's modifiers (`-l:NAME`: any file of a search directory, or under one
/// when the name has a directory), which rustc reads, or bundles into an `.rlib`, out of the
/// command line's sight. Spelled anywhere it counts; the word alone does not (syn's
/// `Verbatim` is everywhere); a macro that pieces the modifier together is beyond this check.
pub fn may_link_any_file(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"+verbatim").is_some()
}

/// The digest of a directory's entry names, whatever order they were listed in.
pub fn listing_digest(mut names: Vec<Vec<u8>>) -> [u8; 32] {
    names.sort();
    let mut key = crate::hash_key::KeyWriter::new("directory listing");
    key.field("names", &(names.len() as u64).to_le_bytes());
    for name in &names {
        key.field("name", name);
    }
    key.finish().0
}

/// The directories of `files` (as the dep-info names them), each once; `.` for a bare name.
pub fn parent_dirs(files: &[String]) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        let dir = match file.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(at) => file[..at].to_owned(),
            None => ".".to_owned(),
        };
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

impl Record for RustRecorded {
    const VERSION: u32 = RUST_MANIFEST_VERSION;
    fn result(&self) -> [u8; 32] {
        self.result
    }
}

/// A rust compile's manifest.
pub type RustManifest = Records<RustRecorded>;

/// The value of `name` in `env` (the server keeps one setting per name, the first, as `getenv`
/// finds it; else the last).
pub fn env_value<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(key, _)| key.as_bytes() == name.as_bytes())
        .map(|(_, value)| value.as_os_str())
}

/// The variables `names` with their values in `env`, as a record keeps them.
pub fn env_deps(names: &[String], env: &[(OsString, OsString)]) -> Vec<EnvDep> {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| EnvDep {
            name: name.clone(),
            value_digest: env_value(env, name).map(value_digest),
        })
        .collect()
}

/// The digest of a compile's crate search directories (`RustRecorded::crate_search`).
pub fn crate_search_digest(dirs: &[OsString]) -> [u8; 32] {
    let mut key = crate::hash_key::KeyWriter::new("crate search");
    key.list("dir", dirs.iter().map(OsString::as_os_str));
    key.finish().0
}

/// Whether a record holds for a compile whose crate search directories have the digest
/// `search` (`crate_search_digest`, taken once for every record checked).
pub fn crate_search_holds(recorded: &RustRecorded, search: &[u8; 32]) -> bool {
    recorded.crate_search.is_none_or(|digest| digest == *search)
}

/// Whether every variable of a record has the same value (or is still unset) in `env`.
pub fn env_holds(recorded: &RustRecorded, env: &[(OsString, OsString)]) -> bool {
    recorded
        .env
        .iter()
        .all(|dep| env_value(env, &dep.name).map(value_digest) == dep.value_digest)
}

/// What a record keeps of a variable's value (`EnvDep`).
fn value_digest(value: &OsStr) -> [u8; 32] {
    crate::hash_key::digest(value.as_bytes())
}

/// The other file a `mod` item could have found for each module file read: `d/m/mod.rs` for
/// `d/m.rs`, `d/m.rs` for `d/m/mod.rs`. rustc refuses a module found at both, so one of these
/// appearing must not be a hit.
pub fn module_alternatives(files: &[String]) -> Vec<String> {
    let mut alternatives = Vec::new();
    for file in files {
        let Some(stem) = file.strip_suffix(".rs") else {
            continue;
        };
        let alternative = match stem.strip_suffix("/mod") {
            Some(dir) if !dir.is_empty() => format!("{dir}.rs"),
            _ => format!("{stem}/mod.rs"),
        };
        if !files.contains(&alternative) && !alternatives.contains(&alternative) {
            alternatives.push(alternative);
        }
    }
    alternatives
}

#[cfg(test)]
mod tests {

    #[test]
    fn assembler_directives_that_read_files_are_seen() {
        assert!(may_assemble_files(
            b"global_asm!(\".incbin \\\"data.bin\\\"\");"
        ));
        assert!(may_assemble_files(b"asm!(\".INCBIN x\")"));
        assert!(may_link_any_file(
            b"#[link(name = \"x.bin\", kind = \"static\", modifiers = \"+verbatim\")]"
        ));
        assert!(!may_link_any_file(b"#[link(name = \"z\")] extern \"C\" {}"));
        assert!(!may_link_any_file(
            b"Expr::Verbatim(tokens) => verbatim::between(a, b)"
        ));
        assert!(may_assemble_files(
            b"global_asm!(\".include \\\"m.s\\\"\");"
        ));
        assert!(!may_assemble_files(
            b"const D: &str = include_str!(\"d.txt\");"
        ));
        // Any case, at either end, and not a word cut short by the end.
        assert!(may_assemble_files(b".InClUdE"));
        assert!(may_assemble_files(b"x IncBin"));
        assert!(!may_assemble_files(b"inc incbi"));
        assert!(!may_assemble_files(b"include .includ"));
    }

    use super::*;

    #[test]
    fn extern_is_found_anywhere() {
        assert!(mentions_extern(b"fn main() {}\nextern crate serde;\n"));
        assert!(mentions_extern(b"// extern in a comment"));
        assert!(mentions_extern(b"extern \"C\" { fn f(); }"));
        assert!(!mentions_extern(
            b"fn main() { println!(\"cargo:rerun-if-changed=build.rs\"); }"
        ));
        assert!(!mentions_extern(b""));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect()
    }

    #[test]
    fn env_deps_hold_only_with_the_same_values_and_unset_differs_from_empty() {
        let names = vec!["B".to_owned(), "A".to_owned(), "B".to_owned()];
        let recorded = RustRecorded {
            files: Vec::new(),
            crates: Vec::new(),
            env: env_deps(&names, &env(&[("A", "1"), ("A", "2")])),
            absent: Vec::new(),
            dirs: Vec::new(),
            crate_search: None,
            result: [1; 32],
        };
        assert_eq!(recorded.env.len(), 2);
        assert!(env_holds(&recorded, &env(&[("A", "2"), ("C", "x")])));
        assert!(!env_holds(&recorded, &env(&[("A", "1")])));
        assert!(!env_holds(&recorded, &env(&[("A", "2"), ("B", "")])));
    }

    /// A record goes to every backend: it keeps a variable's value by its digest alone.
    #[test]
    fn an_env_dep_s_value_is_never_in_the_record() {
        let secret = "s3cr3t-t0k3n-value";
        let recorded = RustRecorded {
            files: Vec::new(),
            crates: Vec::new(),
            env: env_deps(&["TOKEN".to_owned()], &env(&[("TOKEN", secret)])),
            absent: Vec::new(),
            dirs: Vec::new(),
            crate_search: None,
            result: [1; 32],
        };
        let bytes = rmp_serde::to_vec(&recorded).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        assert!(env_holds(&recorded, &env(&[("TOKEN", secret)])));
        assert!(!env_holds(&recorded, &env(&[("TOKEN", "other")])));
    }

    #[test]
    fn a_listing_is_its_names_in_any_order_and_dirs_are_listed_once() {
        let names = |list: &[&str]| list.iter().map(|n| n.as_bytes().to_vec()).collect();
        assert_eq!(
            listing_digest(names(&["a", "b"])),
            listing_digest(names(&["b", "a"]))
        );
        assert_ne!(
            listing_digest(names(&["a", "b"])),
            listing_digest(names(&["a", "b", "c"]))
        );
        assert_ne!(
            listing_digest(names(&["ab"])),
            listing_digest(names(&["a", "b"]))
        );
        let files = [
            "src/lib.rs",
            "src/a.rs",
            "/r/x/src/b.rs",
            "build.rs",
            "/top.rs",
        ];
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        assert_eq!(parent_dirs(&files), ["src", "/r/x/src", ".", "/"]);
    }

    #[test]
    fn module_files_have_their_other_spelling_probed() {
        let files = [
            "src/lib.rs".to_owned(),
            "src/a.rs".to_owned(),
            "src/b/mod.rs".to_owned(),
            "/reg/x-1.0/src/c.rs".to_owned(),
            "src/text.txt".to_owned(),
        ];
        assert_eq!(
            module_alternatives(&files),
            [
                "src/lib/mod.rs",
                "src/a/mod.rs",
                "src/b.rs",
                "/reg/x-1.0/src/c/mod.rs"
            ]
        );
    }

    #[test]
    fn a_record_with_loaded_objects_holds_only_where_the_same_directories_are_searched() {
        let mut recorded = RustRecorded {
            files: Vec::new(),
            crates: Vec::new(),
            env: Vec::new(),
            absent: Vec::new(),
            dirs: Vec::new(),
            crate_search: None,
            result: [1; 32],
        };
        let first: Vec<OsString> = vec!["/w/first/debug/deps".into()];
        let second: Vec<OsString> = vec!["/w/second/debug/deps".into()];
        let (first, second) = (crate_search_digest(&first), crate_search_digest(&second));
        assert!(crate_search_holds(&recorded, &first));
        assert!(crate_search_holds(&recorded, &second));
        recorded.crate_search = Some(first);
        assert!(crate_search_holds(&recorded, &first));
        assert!(!crate_search_holds(&recorded, &second));
        // Two directories are not one spelled with their names run together.
        let split: Vec<OsString> = vec!["/w/a".into(), "b".into()];
        let joined: Vec<OsString> = vec!["/w/ab".into()];
        assert_ne!(crate_search_digest(&split), crate_search_digest(&joined));
    }

    #[test]
    fn a_rust_manifest_round_trips_and_is_not_read_as_a_c_one() {
        let recorded = RustRecorded {
            files: Vec::new(),
            crates: Vec::new(),
            env: Vec::new(),
            absent: vec![ByteBuf::from(b"src/a/mod.rs".to_vec())],
            dirs: vec![Listing {
                dir: ByteBuf::from(b"src".to_vec()),
                names: listing_digest(vec![b"b".to_vec(), b"a".to_vec()]),
            }],
            crate_search: Some(crate_search_digest(&["target/deps".into()])),
            result: [3; 32],
        };
        let manifest = RustManifest::default().with(recorded);
        let entry = manifest.to_entry().unwrap();
        assert_eq!(RustManifest::from_entry(&entry).unwrap(), manifest);
        assert!(super::super::Manifest::from_entry(&entry).is_err());
    }
}
