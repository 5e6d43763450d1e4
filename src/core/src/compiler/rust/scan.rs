//! One pass over a rustc command line: `Scan` takes in each resolved argument and keeps what the
//! compile needs (crate name and types, emit kinds, out-dir, externs, search directories, static
//! libraries, the key arguments) and the first reason to refuse.
//!
//! It must not look at files or decide the outcome; `finish` in `mod.rs` does that once every
//! argument has been read.

use super::emit::EmitKind;
use super::link::{LinkLib, LINKED_CRATE_TYPES, LINK_ONLY_CODEGEN};
use super::tokens::{split_eq, Tok};
use std::ffi::OsString;

/// The `-L` kinds rustc recognises before a `=`; a path without one of them is of kind `all`.
const SEARCH_KINDS: &[&str] = &["native", "dependency", "crate", "framework", "all"];

/// Crate types whose compile does not run the linker.
const UNLINKED_CRATE_TYPES: &[&str] = &["lib", "rlib", "staticlib"];

/// `--emit` kinds rustc knows that the cache refuses, each with its own stats label.
const REFUSED_EMITS: &[&str] = &["asm", "llvm-ir", "llvm-bc", "obj", "mir"];

/// `-C` options that read or write files the cache cannot see, refused as `-C <name>`.
const REFUSED_CODEGEN: &[&str] = &[
    "profile-use",
    "profile-generate",
    "profile-sample-use",
    "save-temps",
];

/// What reading the command line has found so far.
#[derive(Default)]
pub(super) struct Scan {
    /// A query (`--print`, `--version`, `--help`, ...) rather than a compile.
    pub(super) query: bool,
    /// The first reason found to refuse the compile.
    pub(super) reason: Option<String>,
    pub(super) inputs: Vec<OsString>,
    pub(super) crate_name: Option<String>,
    pub(super) crate_types: Vec<String>,
    pub(super) emit: Vec<EmitKind>,
    pub(super) out_dir: Option<OsString>,
    pub(super) extra_filename: String,
    pub(super) externs: Vec<(String, OsString)>,
    /// `-L` directories with their kind.
    pub(super) search_dirs: Vec<(String, OsString)>,
    /// `-l static=` libraries: the name and whether it is `+verbatim`.
    pub(super) static_names: Vec<(String, bool)>,
    pub(super) key_args: Vec<OsString>,
    pub(super) cfgs: Vec<String>,
    pub(super) check_cfgs: Vec<String>,
    pub(super) color: Option<String>,
    pub(super) error_format: Option<String>,
    pub(super) json: Option<String>,
    pub(super) target: Option<String>,
    /// `-C target-cpu=native` is in force.
    pub(super) native_cpu: bool,
    /// `-C rpath`: a linked output names its dynamic libraries by paths relative to the
    /// output directory (`$ORIGIN/../..`), so that directory is in a linking compile's key.
    pub(super) rpath: bool,
    /// `--sysroot`: where the standard library's crates are loaded from instead of the
    /// toolchain's own sysroot (which the compiler identity holds).
    pub(super) sysroot: Option<OsString>,
    pub(super) split_debuginfo: Option<String>,
    /// Every `-l` library, of every kind.
    pub(super) libs: Vec<LinkLib>,
    /// The last `-C linker=` value.
    pub(super) linker: Option<OsString>,
    /// The `-C link-arg`/`link-args` words, in order.
    pub(super) link_args: Vec<String>,
    /// The key arguments only a link reads (`-C linker`, `-C link-arg(s)`), in order: in the
    /// key of a compile that links, not of one that does not.
    pub(super) link_key_args: Vec<OsString>,
}

impl Scan {
    /// Records a reason to refuse the compile; the first one found is the one reported.
    pub(super) fn refuse(&mut self, why: impl Into<String>) {
        self.reason.get_or_insert_with(|| why.into());
    }

    /// Keeps an argument pair in the key, in command-line order.
    fn key(&mut self, name: &str, value: impl Into<OsString>) {
        self.key_args.push(name.into());
        self.key_args.push(value.into());
    }

    /// Takes in one option whose value is read as text.
    fn option(&mut self, name: &'static str, v: &str) {
        match name {
            "--print" | "--explain" => self.query = true,
            "-o" => self.refuse("-o"),
            "-Z" if v == "help" => self.query = true,
            "-Z" => self.refuse("-Z"),
            "-W" if v == "help" => self.query = true,
            "-C" => self.codegen(v),
            "--cfg" => self.cfgs.push(v.to_owned()),
            "--check-cfg" => self.check_cfgs.push(v.to_owned()),
            "--crate-name" => {
                self.crate_name = Some(v.to_owned());
                self.key(name, v);
            }
            "--crate-type" => {
                for ty in v.split(',').filter(|t| !t.is_empty()) {
                    if !UNLINKED_CRATE_TYPES.contains(&ty) && !LINKED_CRATE_TYPES.contains(&ty) {
                        self.refuse("crate-type (unknown)");
                    }
                    if !self.crate_types.iter().any(|t| t == ty) {
                        self.crate_types.push(ty.to_owned());
                    }
                }
            }
            "--emit" => {
                for spec in v.split(',').filter(|s| !s.is_empty()) {
                    let kind = match spec {
                        "link" => EmitKind::Link,
                        "metadata" => EmitKind::Metadata,
                        "dep-info" => EmitKind::DepInfo,
                        s if s.contains('=') => return self.refuse("--emit with path"),
                        s if REFUSED_EMITS.contains(&s) => {
                            return self.refuse(format!("--emit ({s})"))
                        }
                        _ => return self.refuse("--emit (unknown)"),
                    };
                    self.emit.push(kind);
                }
            }
            "-l" => {
                // `-l [KIND[:MODIFIERS]=]NAME[:RENAME]`: only static libraries are read by a
                // library compile (they are bundled into the rlib or the static library); a
                // compile that links reads them all.
                let lib = LinkLib::parse(v);
                if lib.kind == "static" {
                    self.static_names.push((lib.name.clone(), lib.verbatim));
                }
                self.libs.push(lib);
                self.key(name, v);
            }
            "--target" => {
                // A target given as a JSON spec file reads a file the key would not cover.
                if v.ends_with(".json") {
                    self.refuse("target spec file");
                }
                self.target = Some(v.to_owned());
                self.key(name, v);
            }
            _ => {
                match name {
                    "--color" => self.color = Some(v.to_owned()),
                    "--error-format" => self.error_format = Some(v.to_owned()),
                    "--json" => self.json = Some(v.to_owned()),
                    _ => {}
                }
                self.key(name, v);
            }
        }
    }

    /// Takes in one `-C name[=value]`; rustc accepts `_` for `-` in the name, so the key does
    /// not tell them apart either.
    fn codegen(&mut self, v: &str) {
        let (name, value) = match v.split_once('=') {
            Some((n, x)) => (n.replace('_', "-"), Some(x)),
            None => (v.replace('_', "-"), None),
        };
        let off = matches!(value, Some("no" | "n" | "off" | "false"));
        match name.as_str() {
            "help" => self.query = true,
            "incremental" => self.refuse("incremental"),
            // The output depends on the machine that compiles: the flow asks rustc what
            // `native` means here, and that goes into the key. The last one counts.
            "target-cpu" => self.native_cpu = value == Some("native"),
            "rpath" => self.rpath = !off,
            // LLVM options may write files or directories (`-ir-dump-directory=`).
            "llvm-args"
                if value.is_none_or(|args| {
                    args.split_whitespace()
                        .any(crate::compiler::llvm_option_may_write)
                }) =>
            {
                self.refuse("-C llvm-args that may write a file")
            }
            n if REFUSED_CODEGEN.contains(&n) && !off => self.refuse(format!("-C {n}")),
            "extra-filename" => self.extra_filename = value.unwrap_or_default().to_owned(),
            "split-debuginfo" => self.split_debuginfo = value.map(str::to_owned),
            "linker" => self.linker = value.map(OsString::from),
            "link-arg" => self.link_args.extend(value.map(str::to_owned)),
            "link-args" => self.link_args.extend(
                value
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned),
            ),
            _ => {}
        }
        let link_only = LINK_ONLY_CODEGEN.contains(&name.as_str());
        let normal = match value {
            Some(x) => format!("{name}={x}"),
            None => name,
        };
        if link_only {
            self.link_key_args.extend(["-C".into(), normal.into()]);
        } else {
            self.key("-C", normal);
        }
    }

    /// Takes in one resolved argument.
    pub(super) fn apply(&mut self, tok: Tok) {
        match tok {
            Tok::Bad(why) => self.refuse(why),
            Tok::Input(path) => {
                self.key_args.push(path.clone());
                self.inputs.push(path);
            }
            Tok::Flag("-V" | "-h") => self.query = true,
            Tok::Flag("--test") => self.refuse("--test"),
            Tok::Flag(name) => self.key_args.push(name.into()),
            // Options whose values are paths are kept as they are, even when not UTF-8.
            Tok::Opt("--out-dir", dir) => self.out_dir = Some(dir),
            Tok::Opt("-L", spec) => {
                let dir = match split_eq(&spec) {
                    Some((kind, dir)) if SEARCH_KINDS.contains(&kind) => (kind.to_owned(), dir),
                    _ => ("all".to_owned(), spec),
                };
                self.search_dirs.push(dir);
            }
            Tok::Opt("--extern", spec) => {
                let (head, path) = match split_eq(&spec) {
                    Some((head, path)) => (head.to_owned(), Some(path)),
                    None => match spec.to_str() {
                        Some(head) => (head.to_owned(), None),
                        None => return self.refuse("non-UTF-8 argument"),
                    },
                };
                let name = head.rsplit(':').next().unwrap_or_default().to_owned();
                if let Some(path) = path.filter(|p| !p.is_empty()) {
                    self.externs.push((name, path));
                }
                self.key("--extern", head);
            }
            Tok::Opt("--sysroot", value) => {
                self.sysroot = Some(value.clone());
                self.key("--sysroot", value);
            }
            Tok::Opt("--remap-path-prefix", value) => self.key("--remap-path-prefix", value),
            Tok::Opt(name, value) => match value.to_str() {
                Some(v) => self.option(name, v),
                None => self.refuse("non-UTF-8 argument"),
            },
        }
    }
}
