//! rustc command lines as cargo passes them (through `RUSTC_WRAPPER`): which are cacheable, what
//! of them can change the output, and which files the compile reads and writes.
//!
//! Owns the reading of one rustc command line into a [`RustCompilation`] and the reading of the
//! make-style dep-info file rustc writes ([`parse_dep_info`]). It refuses anything it cannot
//! describe with confidence: binaries, dylibs, proc-macros, incremental compiles, `-Z` flags,
//! explicit output paths and flags it does not know all become `NotCacheable` with a short
//! label. It runs no process and reads no file except to find `-l static=` libraries; hashing
//! the inputs and the environment is the caller's job.

use super::Parsed;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// One kind of output `--emit` asks for, among those the cache can store. The order of the
/// variants is the order `emit` and `outputs` are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EmitKind {
    /// The crate itself: an `.rlib` or a static library.
    Link,
    /// The `.rmeta` metadata file.
    Metadata,
    /// The make-style `.d` dependency file.
    DepInfo,
}

impl EmitKind {
    /// The spelling rustc accepts after `--emit`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmitKind::Link => "link",
            EmitKind::Metadata => "metadata",
            EmitKind::DepInfo => "dep-info",
        }
    }
}

/// A cacheable rustc compile of one library crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustCompilation {
    /// The `--crate-name` value (cargo passes it with underscores).
    pub crate_name: String,
    /// The `--crate-type` values in command-line order, without repeats; each is `lib`, `rlib`
    /// or `staticlib`.
    pub crate_types: Vec<String>,
    /// The `--emit` kinds, sorted and without repeats; `[Link]` when `--emit` is absent.
    pub emit: Vec<EmitKind>,
    /// The one source file, as written on the command line.
    pub input: OsString,
    /// The `--out-dir` value, as written.
    pub out_dir: OsString,
    /// The last `-C extra-filename=` value, or empty.
    pub extra_filename: String,
    /// `--extern name=path` pairs in command-line order, the name without its `priv:` or
    /// `noprelude:` options. Name-only externs have no file here; they stay in `key_args`.
    pub externs: Vec<(String, OsString)>,
    /// The files `-l static=NAME` link, found in the `-L` directories (`-L native=` and plain
    /// `-L` ones first, as rustc searches them). A path is relative to the compile's working
    /// directory when its `-L` directory was.
    pub static_libs: Vec<OsString>,
    /// Every argument that can change the outputs, normalised (`--flag value`, `-C name=value`)
    /// so that equivalent command lines share a key. `--out-dir`, `-L` and the paths of
    /// `--extern` are left out: the caller hashes the contents of what they point at. The
    /// crate types, emit kinds, `--cfg` and `--check-cfg` values come last, sorted.
    pub key_args: Vec<OsString>,
    /// The `--color` value, if any.
    pub color: Option<String>,
    /// The `--error-format` value, if any.
    pub error_format: Option<String>,
    /// The `--json` value, if any.
    pub json: Option<String>,
    /// The names (not paths) of the files rustc writes into `out_dir`, in `emit` order.
    pub outputs: Vec<OsString>,
    /// The name of the dep-info file within `out_dir`, when `--emit` asks for one.
    pub dep_info: Option<OsString>,
}

/// What a rustc dep-info (`.d`) file says the compile read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepInfo {
    /// The prerequisites of the first rule: every source file the compile read, as rustc wrote
    /// them, with `\ ` unescaped.
    pub files: Vec<String>,
    /// The environment variables read by `env!`/`option_env!`, with the value rustc saw (as
    /// escaped in the file) or `None` when the variable was unset.
    pub env_deps: Vec<(String, Option<String>)>,
}

/// The options this parser understands: their spellings (the first one is the one the key uses)
/// and whether they take a value. Anything else starting with `-` is an unknown flag.
#[rustfmt::skip]
const OPTIONS: &[(&[&str], bool)] = &[
    (&["--cfg"], true), (&["--check-cfg"], true), (&["-L"], true), (&["-l"], true),
    (&["--crate-type"], true), (&["--crate-name"], true), (&["--edition"], true),
    (&["--emit"], true), (&["--print"], true), (&["-o"], true), (&["--out-dir"], true),
    (&["--explain"], true), (&["--target"], true), (&["--extern"], true), (&["--sysroot"], true),
    (&["-A", "--allow"], true), (&["-W", "--warn"], true), (&["--force-warn"], true),
    (&["-D", "--deny"], true), (&["-F", "--forbid"], true), (&["--cap-lints"], true),
    (&["-C", "--codegen"], true), (&["-Z"], true), (&["--error-format"], true), (&["--json"], true),
    (&["--color"], true), (&["--diagnostic-width"], true), (&["--remap-path-prefix"], true),
    (&["-g"], false), (&["-O"], false), (&["--test"], false), (&["-V", "--version"], false),
    (&["-v", "--verbose"], false), (&["-h", "--help"], false),
];

/// The `-L` kinds rustc recognises before a `=`; a path without one of them is of kind `all`.
const SEARCH_KINDS: &[&str] = &["native", "dependency", "crate", "framework", "all"];

/// Crate types rustc knows that the cache refuses, each with its own stats label.
const REFUSED_CRATE_TYPES: &[&str] = &["bin", "dylib", "cdylib", "proc-macro"];

/// `--emit` kinds rustc knows that the cache refuses, each with its own stats label.
const REFUSED_EMITS: &[&str] = &["asm", "llvm-ir", "llvm-bc", "obj", "mir"];

/// `-C` options that read or write files the cache cannot see, refused as `-C <name>`.
const REFUSED_CODEGEN: &[&str] = &[
    "profile-use",
    "profile-generate",
    "profile-sample-use",
    "save-temps",
];

/// One command-line argument once its spelling is resolved.
#[derive(Debug)]
enum Tok {
    /// An option without a value, by its canonical spelling.
    Flag(&'static str),
    /// An option with its value, by its canonical spelling.
    Opt(&'static str, OsString),
    /// A free argument: a source file.
    Input(OsString),
    /// Something that cannot be read with confidence, with the label to refuse it by.
    Bad(&'static str),
}

/// Finds an option by one of its spellings: its canonical spelling and whether it takes a value.
fn lookup(name: &str) -> Option<(&'static str, bool)> {
    OPTIONS
        .iter()
        .find(|(names, _)| names.contains(&name))
        .and_then(|(names, takes)| names.first().map(|canon| (*canon, *takes)))
}

/// The part of `s` after its first `n` bytes, which must end on an ASCII character; on Unix
/// non-UTF-8 text survives, elsewhere it gives `None`.
fn os_tail(s: &OsStr, n: usize) -> Option<OsString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        s.as_bytes()
            .get(n..)
            .map(|b| OsStr::from_bytes(b).to_owned())
    }
    #[cfg(not(unix))]
    {
        s.to_str()?.get(n..).map(OsString::from)
    }
}

/// Splits `s` at its first `=` into a UTF-8 head and the tail, which may be any path.
fn split_eq(s: &OsStr) -> Option<(&str, OsString)> {
    let bytes = s.as_encoded_bytes();
    let at = bytes.iter().position(|&b| b == b'=')?;
    let head = std::str::from_utf8(bytes.get(..at)?).ok()?;
    Some((head, os_tail(s, at + 1)?))
}

/// Resolves each argument's spelling the way rustc's getopts does: `--name value`,
/// `--name=value`, `-Xvalue`, `-X value` and grouped short flags (`-vV`). Reading goes on past
/// a bad argument so that a later `--print` or `--version` still marks a query.
fn tokenize(args: &[OsString]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        let mut take = |canon: &'static str, attached: Option<OsString>| match attached
            .or_else(|| rest.next().cloned())
        {
            Some(value) => Tok::Opt(canon, value),
            None => Tok::Bad("missing value"),
        };
        if bytes == b"--" {
            // Everything after a bare `--` is a free argument.
            toks.extend(rest.by_ref().map(|a| Tok::Input(a.clone())));
        } else if bytes.starts_with(b"--") {
            let (name, attached) = match split_eq(arg) {
                Some((head, tail)) => (Some(head), Some(tail)),
                None => (arg.to_str(), None),
            };
            toks.push(match (name, name.and_then(lookup)) {
                (None, _) => Tok::Bad("non-UTF-8 argument"),
                (Some(_), Some((canon, true))) => take(canon, attached),
                (Some(_), Some((canon, false))) if attached.is_none() => Tok::Flag(canon),
                _ => Tok::Bad("unknown flag"),
            });
        } else if bytes.len() >= 2 && bytes.first() == Some(&b'-') {
            let short = |b: u8| match b.is_ascii() {
                true => lookup(&format!("-{}", b as char)),
                false => None,
            };
            match bytes.get(1).copied().and_then(short) {
                Some((canon, true)) if bytes.len() > 2 => toks.push(match os_tail(arg, 2) {
                    Some(value) => Tok::Opt(canon, value),
                    None => Tok::Bad("non-UTF-8 argument"),
                }),
                Some((canon, true)) => toks.push(take(canon, None)),
                // A run of value-less short flags, such as cargo's `-vV`.
                _ => toks.extend(bytes.iter().skip(1).map(|&b| match short(b) {
                    Some((canon, false)) => Tok::Flag(canon),
                    _ if arg.to_str().is_none() => Tok::Bad("non-UTF-8 argument"),
                    _ => Tok::Bad("unknown flag"),
                })),
            }
        } else if bytes.starts_with(b"@") {
            toks.push(Tok::Bad("@file"));
        } else {
            toks.push(Tok::Input(arg.clone()));
        }
    }
    toks
}

/// Whether the compile is for an Apple target (`--target`, else the host).
fn is_apple(target: Option<&str>) -> bool {
    target.map_or(cfg!(target_vendor = "apple"), |t| t.contains("apple"))
}

/// Whether the compile is for an MSVC target (`--target`, else the host), which names static
/// libraries `NAME.lib`.
fn is_msvc(target: Option<&str>) -> bool {
    target.map_or(cfg!(target_env = "msvc"), |t| t.contains("msvc"))
}

/// What reading the command line has found so far.
#[derive(Default)]
struct Scan {
    /// A query (`--print`, `--version`, `--help`, ...) rather than a compile.
    query: bool,
    /// The first reason found to refuse the compile.
    reason: Option<String>,
    inputs: Vec<OsString>,
    crate_name: Option<String>,
    crate_types: Vec<String>,
    emit: Vec<EmitKind>,
    out_dir: Option<OsString>,
    extra_filename: String,
    externs: Vec<(String, OsString)>,
    /// `-L` directories with their kind.
    search_dirs: Vec<(String, OsString)>,
    /// `-l static=` libraries: the name and whether it is `+verbatim`.
    static_names: Vec<(String, bool)>,
    key_args: Vec<OsString>,
    cfgs: Vec<String>,
    check_cfgs: Vec<String>,
    color: Option<String>,
    error_format: Option<String>,
    json: Option<String>,
    target: Option<String>,
    split_debuginfo: Option<String>,
}

impl Scan {
    /// Records a reason to refuse the compile; the first one found is the one reported.
    fn refuse(&mut self, why: impl Into<String>) {
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
                    match ty {
                        "lib" | "rlib" | "staticlib" => {}
                        t if REFUSED_CRATE_TYPES.contains(&t) => {
                            self.refuse(format!("crate-type ({t})"))
                        }
                        _ => self.refuse("crate-type (unknown)"),
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
                // library compile (they are bundled into the rlib or the static library).
                if let Some((kind, lib)) = v.split_once('=') {
                    let (kind, modifiers) = kind.split_once(':').unwrap_or((kind, ""));
                    if kind == "static" {
                        let lib = lib.split_once(':').map_or(lib, |(n, _)| n);
                        let verbatim = modifiers.split(',').any(|m| m == "+verbatim");
                        self.static_names.push((lib.to_owned(), verbatim));
                    }
                }
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
            // The output depends on the machine that compiles, which no key can see.
            "target-cpu" if value == Some("native") => self.refuse("-C target-cpu=native"),
            n if REFUSED_CODEGEN.contains(&n) && !off => self.refuse(format!("-C {n}")),
            "extra-filename" => self.extra_filename = value.unwrap_or_default().to_owned(),
            "split-debuginfo" => self.split_debuginfo = value.map(str::to_owned),
            _ => {}
        }
        let normal = match value {
            Some(x) => format!("{name}={x}"),
            None => name,
        };
        self.key("-C", normal);
    }

    /// Takes in one resolved argument.
    fn apply(&mut self, tok: Tok) {
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
            Tok::Opt(name @ ("--sysroot" | "--remap-path-prefix"), value) => self.key(name, value),
            Tok::Opt(name, value) => match value.to_str() {
                Some(v) => self.option(name, v),
                None => self.refuse("non-UTF-8 argument"),
            },
        }
    }

    /// Decides the outcome once every argument has been read.
    fn finish(mut self, cwd: &Path) -> Parsed<RustCompilation> {
        let target = self.target.clone();
        let target = target.as_deref();
        // Outside Apple targets, split debug info leaves `.dwo` files beside the outputs under
        // names the cache cannot predict; on Apple targets it stays in the rlib's objects.
        if self.split_debuginfo.as_deref().is_some_and(|s| s != "off") && !is_apple(target) {
            self.refuse("-C split-debuginfo");
        }
        let msvc = is_msvc(target);
        if self.query {
            return Parsed::NotCompilation;
        }
        if let Some(reason) = self.reason {
            return Parsed::NotCacheable(reason);
        }
        let input = match self.inputs.as_slice() {
            [] => return Parsed::NotCompilation,
            inputs if inputs.iter().any(|i| i == "-") => return refused("stdin input"),
            [input] => input.clone(),
            _ => return refused("multiple input files"),
        };
        let Some(crate_name) = self.crate_name else {
            return refused("no --crate-name");
        };
        if self.crate_types.is_empty() {
            // Without `--crate-type`, `#![crate_type]` in the source decides what is built.
            return refused("no --crate-type");
        }
        let Some(out_dir) = self.out_dir else {
            return refused("no --out-dir");
        };

        let mut static_libs = Vec::new();
        let mut dirs: Vec<&(String, OsString)> = self.search_dirs.iter().collect();
        dirs.sort_by_key(|(kind, _)| !matches!(kind.as_str(), "native" | "all"));
        for (lib, verbatim) in &self.static_names {
            let names = match (verbatim, msvc) {
                (true, _) => vec![lib.clone()],
                (false, true) => vec![format!("{lib}.lib"), format!("lib{lib}.a")],
                (false, false) => vec![format!("lib{lib}.a")],
            };
            let found = dirs
                .iter()
                .flat_map(|(_, dir)| names.iter().map(move |n| Path::new(dir).join(n)))
                .find(|path| cwd.join(path).is_file());
            match found {
                Some(path) => static_libs.push(path.into_os_string()),
                None => return refused("static library not found"),
            }
        }

        let mut emit = self.emit;
        if emit.is_empty() {
            emit.push(EmitKind::Link);
        }
        emit.sort();
        emit.dedup();
        let stem = format!("{crate_name}{}", self.extra_filename);
        let mut outputs: Vec<OsString> = Vec::new();
        let mut dep_info = None;
        for kind in &emit {
            let names = match kind {
                EmitKind::Link => self
                    .crate_types
                    .iter()
                    .map(|ty| match (ty.as_str(), msvc) {
                        ("staticlib", true) => format!("{stem}.lib"),
                        ("staticlib", false) => format!("lib{stem}.a"),
                        _ => format!("lib{stem}.rlib"),
                    })
                    .collect(),
                EmitKind::Metadata => vec![format!("lib{stem}.rmeta")],
                EmitKind::DepInfo => {
                    dep_info = Some(OsString::from(format!("{stem}.d")));
                    vec![format!("{stem}.d")]
                }
            };
            for name in names {
                if !outputs.iter().any(|o| *o == *name) {
                    outputs.push(name.into());
                }
            }
        }

        // Order does not matter to rustc for these, so the key lists them sorted.
        let mut key_args = self.key_args;
        let mut types = self.crate_types.clone();
        types.sort();
        key_args.extend(["--crate-type".into(), types.join(",").into()]);
        let kinds: Vec<&str> = emit.iter().map(|k| k.as_str()).collect();
        key_args.extend(["--emit".into(), kinds.join(",").into()]);
        for (flag, mut values) in [("--cfg", self.cfgs), ("--check-cfg", self.check_cfgs)] {
            values.sort();
            values.dedup();
            for value in values {
                key_args.extend([flag.into(), value.into()]);
            }
        }

        Parsed::Cacheable(RustCompilation {
            crate_name,
            crate_types: self.crate_types,
            emit,
            input,
            out_dir,
            extra_filename: self.extra_filename,
            externs: self.externs,
            static_libs,
            key_args,
            color: self.color,
            error_format: self.error_format,
            json: self.json,
            outputs,
            dep_info,
        })
    }
}

/// A refusal with its stats label.
fn refused(why: &str) -> Parsed<RustCompilation> {
    Parsed::NotCacheable(why.to_owned())
}

/// Reads a rustc command line (`args` without the rustc executable). `cwd` is the compile's
/// working directory, against which relative `-L` directories are searched for static
/// libraries. A query (`--print`, `--version`, `-vV`, `--help`) is `NotCompilation` whatever
/// else the line holds.
pub fn parse(args: &[OsString], cwd: &Path) -> Parsed<RustCompilation> {
    let mut scan = Scan::default();
    for tok in tokenize(args) {
        scan.apply(tok);
    }
    scan.finish(cwd)
}

/// The command line of a run of rustc that writes only the dep-info of the compile `args`
/// describes, into `out_dir`: every `--emit` and `--out-dir` is replaced, everything else is kept
/// as written (crate name, `-C extra-filename`, externs, cfgs), so the dep-info file has the
/// compile's own name and lists what the compile reads. Meant for command lines `parse` accepts.
pub fn dep_info_args(args: &[OsString], out_dir: &OsStr) -> Vec<OsString> {
    let mut result = Vec::with_capacity(args.len() + 3);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            // Free arguments follow; the replacements must come before them.
            result.extend([
                "--emit=dep-info".into(),
                "--out-dir".into(),
                out_dir.to_owned(),
            ]);
            result.push(arg.clone());
            result.extend(rest.by_ref().cloned());
            return result;
        }
        // The option's spelling and whether its value is in the same argument.
        let (name, attached) = if bytes.starts_with(b"--") {
            match split_eq(arg) {
                Some((head, _)) => (Some(head), true),
                None => (arg.to_str(), false),
            }
        } else if bytes.len() >= 2 && bytes.first() == Some(&b'-') {
            (arg.to_str().and_then(|a| a.get(..2)), bytes.len() > 2)
        } else {
            (None, true)
        };
        match name.and_then(lookup) {
            Some(("--emit" | "--out-dir", true)) => {
                if !attached {
                    rest.next();
                }
            }
            Some((_, true)) if !attached => {
                result.push(arg.clone());
                result.extend(rest.next().cloned());
            }
            _ => result.push(arg.clone()),
        }
    }
    result.extend([
        "--emit=dep-info".into(),
        "--out-dir".into(),
        out_dir.to_owned(),
    ]);
    result
}

/// Splits make prerequisites at unescaped whitespace, turning `\ ` back into a space.
fn split_escaped(list: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                word.push(' ');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Reads a rustc dep-info file: the prerequisites of its first rule and its `# env-dep:` lines.
/// The target is found at the first `: ` (or a trailing `:`), so that Windows drive letters in
/// the target do not end it early.
pub fn parse_dep_info(contents: &str) -> DepInfo {
    let mut info = DepInfo::default();
    let mut first_rule_done = false;
    let mut rule = String::new();
    for line in contents.lines() {
        if let Some(dep) = line.strip_prefix("# env-dep:") {
            info.env_deps.push(match dep.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (dep.to_owned(), None),
            });
            continue;
        }
        if first_rule_done || line.starts_with('#') {
            continue;
        }
        // A trailing backslash continues the rule on the next line.
        if let Some(part) = line.strip_suffix('\\') {
            rule.push_str(part);
            rule.push(' ');
            continue;
        }
        rule.push_str(line);
        let whole = std::mem::take(&mut rule);
        let prerequisites = match whole.find(": ") {
            Some(at) => whole.get(at + 2..),
            None => whole.trim_end().strip_suffix(':').map(|_| ""),
        };
        if let Some(list) = prerequisites {
            info.files = split_escaped(list);
            first_rule_done = true;
        }
    }
    info
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn cacheable(args: &[OsString]) -> RustCompilation {
        match parse(args, Path::new("/nonexistent")) {
            Parsed::Cacheable(c) => c,
            other => panic!("expected cacheable, got {other:?} for {args:?}"),
        }
    }

    fn reason(args: &[OsString]) -> String {
        match parse(args, Path::new("/nonexistent")) {
            Parsed::NotCacheable(r) => r,
            other => panic!("expected not cacheable, got {other:?} for {args:?}"),
        }
    }

    const LIB: &str = "--crate-name foo src/lib.rs --crate-type lib --out-dir /o";

    /// A line as cargo 1.8x writes it for a dependency-carrying library in a dev build.
    fn cargo_lib_line() -> Vec<OsString> {
        let mut args = os(&[
            "--crate-name",
            "foo_bar",
            "--edition=2021",
            "src/lib.rs",
            "--error-format=json",
            "--json=diagnostic-rendered-ansi,artifacts,future-incompat",
            "--diagnostic-width=120",
            "--crate-type",
            "lib",
            "--emit=dep-info,metadata,link",
            "-C",
            "embed-bitcode=no",
            "-C",
            "debuginfo=2",
            "--check-cfg",
            "cfg(docsrs)",
            "--check-cfg",
            "cfg(feature, values(\"default\", \"std\"))",
            "--cfg",
            "feature=\"default\"",
            "--cfg",
            "feature=\"std\"",
            "-C",
            "metadata=1a2b3c4d5e6f7a8b",
            "-C",
            "extra-filename=-1a2b3c4d5e6f7a8b",
            "--out-dir",
            "/tmp/t/target/debug/deps",
            "-L",
            "dependency=/tmp/t/target/debug/deps",
            "--extern",
            "serde=/tmp/t/target/debug/deps/libserde-0123456789abcdef.rmeta",
            "--extern",
            "noprelude:alloc=/tmp/t/target/debug/deps/liballoc-0123.rlib",
            "--extern",
            "priv:itoa=/tmp/t/target/debug/deps/libitoa-4567.rmeta",
            "--cap-lints",
            "allow",
        ]);
        args.extend(words(
            "-C strip=debuginfo -C opt-level=0 -A warnings --warn unused -g",
        ));
        args
    }

    #[test]
    fn cargo_lib_invocation_is_cacheable() {
        let c = cacheable(&cargo_lib_line());
        assert_eq!(c.crate_name, "foo_bar");
        assert_eq!(c.crate_types, vec!["lib"]);
        assert_eq!(
            c.emit,
            vec![EmitKind::Link, EmitKind::Metadata, EmitKind::DepInfo]
        );
        assert_eq!(c.input, "src/lib.rs");
        assert_eq!(c.out_dir, "/tmp/t/target/debug/deps");
        assert_eq!(c.extra_filename, "-1a2b3c4d5e6f7a8b");
        assert_eq!(c.error_format.as_deref(), Some("json"));
        assert_eq!(
            c.json.as_deref(),
            Some("diagnostic-rendered-ansi,artifacts,future-incompat")
        );
        assert_eq!(c.color, None);
        assert_eq!(
            c.outputs,
            os(&[
                "libfoo_bar-1a2b3c4d5e6f7a8b.rlib",
                "libfoo_bar-1a2b3c4d5e6f7a8b.rmeta",
                "foo_bar-1a2b3c4d5e6f7a8b.d",
            ])
        );
        assert_eq!(c.dep_info, Some("foo_bar-1a2b3c4d5e6f7a8b.d".into()));
        let names: Vec<&str> = c.externs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["serde", "alloc", "itoa"]);
        assert_eq!(
            c.externs[1].1,
            "/tmp/t/target/debug/deps/liballoc-0123.rlib"
        );
        // Paths of outputs, search directories and externs stay out of the key.
        let key: Vec<&str> = c.key_args.iter().map(|a| a.to_str().unwrap()).collect();
        assert!(key.iter().all(|a| !a.contains("/tmp/t/target")), "{key:?}");
        assert!(!key.contains(&"--out-dir") && !key.contains(&"-L"));
        for kept in [
            "src/lib.rs",
            "noprelude:alloc",
            "priv:itoa",
            "metadata=1a2b3c4d5e6f7a8b",
        ] {
            assert!(key.contains(&kept), "{kept} missing from {key:?}");
        }
        assert!(key.windows(2).any(|w| w
            == [
                "--json",
                "diagnostic-rendered-ansi,artifacts,future-incompat"
            ]));
        assert!(key.windows(2).any(|w| w == ["-W", "unused"]));
        assert!(key.ends_with(&[
            "--crate-type",
            "lib",
            "--emit",
            "link,metadata,dep-info",
            "--cfg",
            "feature=\"default\"",
            "--cfg",
            "feature=\"std\"",
            "--check-cfg",
            "cfg(docsrs)",
            "--check-cfg",
            "cfg(feature, values(\"default\", \"std\"))",
        ]));
    }

    #[test]
    fn rlib_and_staticlib_outputs() {
        let c = cacheable(&words(
            "--crate-name foo src/lib.rs --crate-type rlib --crate-type staticlib,lib --out-dir o",
        ));
        assert_eq!(c.crate_types, vec!["rlib", "staticlib", "lib"]);
        assert_eq!(c.emit, vec![EmitKind::Link]);
        let static_name = if cfg!(target_env = "msvc") {
            "foo.lib"
        } else {
            "libfoo.a"
        };
        assert_eq!(c.outputs, os(&["libfoo.rlib", static_name]));
        assert_eq!(c.dep_info, None);
        let c = cacheable(&words(&format!(
            "{LIB} --crate-type staticlib --emit=metadata"
        )));
        assert_eq!(c.outputs, os(&["libfoo.rmeta"]));
    }

    #[test]
    fn refused_crate_types_use_first_offender() {
        assert_eq!(
            reason(&words(&format!("{LIB} --crate-type bin"))),
            "crate-type (bin)"
        );
        assert_eq!(
            reason(&words(&format!("{LIB} --crate-type=proc-macro"))),
            "crate-type (proc-macro)"
        );
        assert_eq!(
            reason(&words(&format!("{LIB} --crate-type cdylib,dylib"))),
            "crate-type (cdylib)"
        );
        assert_eq!(
            reason(&words(&format!("{LIB} --crate-type dylib"))),
            "crate-type (dylib)"
        );
        assert_eq!(
            reason(&words(&format!("{LIB} --crate-type weird"))),
            "crate-type (unknown)"
        );
    }

    #[test]
    fn incremental_in_every_spelling() {
        for flag in [
            "-C incremental=/i",
            "-Cincremental=/i",
            "--codegen incremental=/i",
            "--codegen=incremental=/i",
        ] {
            assert_eq!(
                reason(&words(&format!("{LIB} {flag}"))),
                "incremental",
                "{flag}"
            );
        }
    }

    #[test]
    fn queries_are_not_compilations() {
        let probe = "- --crate-name ___ --print=file-names --crate-type bin --crate-type rlib \
                     --crate-type dylib --crate-type cdylib --crate-type staticlib \
                     --crate-type proc-macro --print=sysroot --print=split-debuginfo \
                     --print=crate-name --print=cfg";
        for line in [
            probe,
            "-vV",
            "-V",
            "--version",
            "--help",
            "-h",
            "-C help",
            "-W help",
            "--explain E0308",
        ] {
            assert_eq!(
                parse(&words(line), Path::new("/")),
                Parsed::NotCompilation,
                "{line}"
            );
        }
        assert_eq!(parse(&[], Path::new("/")), Parsed::NotCompilation);
        // Without `--print`, stdin input is a refusal.
        assert_eq!(
            reason(&words("- --crate-name x --crate-type lib --out-dir o")),
            "stdin input"
        );
    }

    #[test]
    fn cfg_order_does_not_change_the_key() {
        let a = cacheable(&words(&format!(
            "{LIB} --cfg a --cfg=b --check-cfg cfg(a) --check-cfg=cfg(b)"
        )));
        let b = cacheable(&words(&format!(
            "--cfg b --check-cfg cfg(b) {LIB} --check-cfg cfg(a) --cfg a"
        )));
        assert_eq!(a.key_args, b.key_args);
        let c = cacheable(&words(&format!("{LIB} --cfg a --cfg c")));
        assert_ne!(a.key_args, c.key_args);
    }

    #[test]
    fn attached_and_separate_values_share_a_key() {
        let a = cacheable(&words(
            "--crate-name=foo --edition=2021 src/lib.rs --crate-type=lib --emit=link,metadata \
             -Copt-level=3 -Awarnings --out-dir=/a -Ldependency=/d --extern=x=/x --cap-lints=allow \
             --codegen=debug_assertions=on -ldylib=z --target=x86_64-unknown-linux-gnu",
        ));
        let b = cacheable(&words(
            "--crate-name foo --edition 2021 src/lib.rs --crate-type lib --emit metadata --emit link \
             -C opt-level=3 --allow warnings --out-dir /b -L dependency=/e --extern x=/y --cap-lints allow \
             -C debug-assertions=on -l dylib=z --target x86_64-unknown-linux-gnu -L native=.",
        ));
        assert_eq!(a.key_args, b.key_args);
        assert_ne!(a.out_dir, b.out_dir);
    }

    #[test]
    fn static_libs_are_found_in_search_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("native")).unwrap();
        std::fs::create_dir_all(tmp.path().join("deps")).unwrap();
        std::fs::create_dir_all(tmp.path().join("plain")).unwrap();
        std::fs::write(tmp.path().join("native/libz.a"), b"!<arch>\n").unwrap();
        std::fs::write(tmp.path().join("deps/libz.a"), b"!<arch>\n").unwrap();
        std::fs::write(tmp.path().join("plain/libq.a"), b"!<arch>\n").unwrap();
        std::fs::write(tmp.path().join("plain/exact.o"), b"").unwrap();
        let target = "--target x86_64-unknown-linux-gnu";
        let line = format!(
            "{LIB} {target} -L dependency=deps -L native=native -Lplain -l static=z -lstatic=q:renamed \
             -l static:+verbatim=exact.o -l dylib=ssl -l m"
        );
        let c = match parse(&words(&line), tmp.path()) {
            Parsed::Cacheable(c) => c,
            other => panic!("{other:?}"),
        };
        let expect: Vec<OsString> = ["native/libz.a", "plain/libq.a", "plain/exact.o"]
            .iter()
            .map(|p| Path::new(p).as_os_str().to_owned())
            .collect();
        assert_eq!(c.static_libs, expect);
        assert!(c.key_args.iter().any(|a| a == "static=z"));
        let missing = format!("{LIB} {target} -L native=native -l static=nothere");
        assert_eq!(
            parse(&words(&missing), tmp.path()),
            Parsed::NotCacheable("static library not found".into())
        );
        // Directories of every kind are searched, after the native ones.
        let deps_only = format!("{LIB} {target} -L dependency=deps -l static=z");
        match parse(&words(&deps_only), tmp.path()) {
            Parsed::Cacheable(c) => assert_eq!(c.static_libs, vec![OsString::from("deps/libz.a")]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn externs_without_path_stay_in_key_only() {
        let c = cacheable(&words(&format!(
            "{LIB} --extern proc_macro --extern a=liba.rlib"
        )));
        assert_eq!(
            c.externs,
            vec![("a".to_owned(), OsString::from("liba.rlib"))]
        );
        let key = &c.key_args;
        assert!(key.windows(2).any(|w| w == ["--extern", "proc_macro"]));
        assert!(key.windows(2).any(|w| w == ["--extern", "a"]));
        assert!(!key.iter().any(|a| a == "liba.rlib"));
    }

    #[test]
    fn refusals() {
        let cases = [
            ("-o out.rlib", "-o"),
            ("--emit=link=out.rlib", "--emit with path"),
            ("--emit asm", "--emit (asm)"),
            ("--emit=link,llvm-ir", "--emit (llvm-ir)"),
            ("--emit mir", "--emit (mir)"),
            ("-Z unstable-options", "-Z"),
            ("-Zthreads=8", "-Z"),
            ("--test", "--test"),
            ("@args.txt", "@file"),
            ("--frobnicate", "unknown flag"),
            ("-q", "unknown flag"),
            ("--test=x", "unknown flag"),
            ("-C profile-use=/p.profdata", "-C profile-use"),
            ("-C profile-generate", "-C profile-generate"),
            ("-C save-temps", "-C save-temps"),
            ("--target my-target.json", "target spec file"),
            ("src/other.rs", "multiple input files"),
            (
                "-C split-debuginfo=unpacked --target x86_64-unknown-linux-gnu",
                "-C split-debuginfo",
            ),
            ("--cap-lints", "missing value"),
        ];
        for (extra, label) in cases {
            assert_eq!(reason(&words(&format!("{LIB} {extra}"))), label, "{extra}");
        }
        assert_eq!(
            reason(&words("--crate-type lib src/lib.rs --out-dir o")),
            "no --crate-name"
        );
        assert_eq!(
            reason(&words("--crate-name x src/lib.rs --out-dir o")),
            "no --crate-type"
        );
        assert_eq!(
            reason(&words("--crate-name x src/lib.rs --crate-type lib")),
            "no --out-dir"
        );
        // No input and nothing else wrong: not a compile at all.
        assert_eq!(
            parse(
                &words("--crate-name x --crate-type lib --out-dir o"),
                Path::new("/")
            ),
            Parsed::NotCompilation
        );
    }

    #[test]
    fn accepted_flags() {
        for extra in [
            "-C linker=cc -C save-temps=no",
            "--remap-path-prefix /home/me=/src",
            "-C split-debuginfo=unpacked --target aarch64-apple-darwin",
            "-C split-debuginfo=off",
            "--sysroot /opt/rust -O --verbose --color always --force-warn x -D y --deny z -F w --forbid v",
        ] {
            cacheable(&words(&format!("{LIB} {extra}")));
        }
        // After a bare `--` every argument is a source file.
        let c = cacheable(&words(
            "--crate-name foo --crate-type lib --out-dir o -- src/lib.rs",
        ));
        assert_eq!(c.input, "src/lib.rs");
        let c = cacheable(&words(&format!("{LIB} --color=always")));
        assert_eq!(c.color.as_deref(), Some("always"));
        assert!(c.key_args.windows(2).any(|w| w == ["--color", "always"]));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_never_panics() {
        use std::os::unix::ffi::OsStrExt;
        let bad = |b: &[u8]| OsStr::from_bytes(b).to_owned();
        let base = words(LIB);
        // A non-UTF-8 flag or text value is refused.
        for arg in [
            bad(b"--\xff"),
            bad(b"-\xff"),
            bad(b"--edition=\xff"),
            bad(b"-C\xff"),
        ] {
            let mut args = base.clone();
            args.push(arg.clone());
            assert_eq!(reason(&args), "non-UTF-8 argument", "{arg:?}");
        }
        // Non-UTF-8 paths are carried as they are.
        let mut args = os(&["--crate-name", "foo", "--crate-type", "lib", "--out-dir"]);
        args.extend([
            bad(b"/o\xff"),
            bad(b"src/\xfe.rs"),
            "--extern".into(),
            bad(b"a=/x\xff"),
        ]);
        args.extend([
            "-L".into(),
            bad(b"native=/n\xff"),
            "--sysroot".into(),
            bad(b"/s\xff"),
        ]);
        let c = cacheable(&args);
        assert_eq!(c.out_dir, bad(b"/o\xff"));
        assert_eq!(c.input, bad(b"src/\xfe.rs"));
        assert_eq!(c.externs, vec![("a".to_owned(), bad(b"/x\xff"))]);
        // Garbage of every shape must not panic.
        for junk in [
            b"\xff".as_slice(),
            b"-",
            b"--=",
            b"-\xff\xfe",
            b"--extern",
            b"=",
            b"@\xff",
        ] {
            let mut args = base.clone();
            args.push(bad(junk));
            let _ = parse(&args, Path::new("/"));
            let _ = parse(&[bad(junk)], Path::new("/"));
        }
    }

    #[test]
    fn native_cpu_is_refused() {
        assert_eq!(
            reason(&words(&format!("{LIB} -C target-cpu=native"))),
            "-C target-cpu=native"
        );
        cacheable(&words(&format!("{LIB} -C target-cpu=x86-64-v2")));
    }

    #[test]
    fn dep_info_args_replace_emit_and_out_dir_only() {
        let args = words(
            "--crate-name foo --edition=2021 src/lib.rs --error-format=json --crate-type lib \
             --emit=dep-info,metadata,link -C embed-bitcode=no -C extra-filename=-abc \
             --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern bar=/t/libbar.rmeta \
             --cfg feature=\"x\" -Copt-level=0 -vV",
        );
        let rewritten = dep_info_args(&args, OsStr::new("/tmp/d"));
        let expected = words(
            "--crate-name foo --edition=2021 src/lib.rs --error-format=json --crate-type lib \
             -C embed-bitcode=no -C extra-filename=-abc \
             -L dependency=/t/debug/deps --extern bar=/t/libbar.rmeta \
             --cfg feature=\"x\" -Copt-level=0 -vV --emit=dep-info --out-dir /tmp/d",
        );
        assert_eq!(rewritten, expected);
        // Separate values are dropped with their option; a value that looks like an option
        // stays with the option it belongs to.
        let args = words("--emit link --out-dir o --cfg --out-dir src/lib.rs -- x.rs");
        assert_eq!(
            dep_info_args(&args, OsStr::new("d")),
            words("--cfg --out-dir src/lib.rs --emit=dep-info --out-dir d -- x.rs")
        );
        // The rewritten line is still one the parser accepts, with only dep-info emitted.
        let c = cacheable(&dep_info_args(&words(LIB), OsStr::new("/tmp/d")));
        assert_eq!(c.emit, vec![EmitKind::DepInfo]);
        assert_eq!(c.out_dir, "/tmp/d");
    }

    #[test]
    fn dep_info_files_and_env() {
        let sample = "/tmp/t/target/debug/deps/foo-abc.d: src/lib.rs src/data.txt src/with\\ space.rs\n\
                      \n\
                      /tmp/t/target/debug/deps/libfoo-abc.rmeta: src/lib.rs src/data.txt src/with\\ space.rs\n\
                      \n\
                      src/lib.rs:\n\
                      src/data.txt:\n\
                      src/with\\ space.rs:\n\
                      \n\
                      # env-dep:CARGO_PKG_NAME=foo\n\
                      # env-dep:MY_VAR\n\
                      # env-dep:EQ=a=b\\nc\n";
        let info = parse_dep_info(sample);
        assert_eq!(
            info.files,
            vec!["src/lib.rs", "src/data.txt", "src/with space.rs"]
        );
        assert_eq!(
            info.env_deps,
            vec![
                ("CARGO_PKG_NAME".to_owned(), Some("foo".to_owned())),
                ("MY_VAR".to_owned(), None),
                ("EQ".to_owned(), Some("a=b\\nc".to_owned())),
            ]
        );
        let windows = "C:\\t\\foo.d: C:\\src\\lib.rs \\\n  C:\\src\\a.rs\n";
        assert_eq!(
            parse_dep_info(windows).files,
            vec!["C:\\src\\lib.rs", "C:\\src\\a.rs"]
        );
        assert_eq!(parse_dep_info("foo.d:\n").files, Vec::<String>::new());
        assert_eq!(parse_dep_info(""), DepInfo::default());
    }
}
