//! rustc command lines as cargo passes them (through `RUSTC_WRAPPER`): which are cacheable, what
//! of them can change the output, and which files the compile reads and writes.
//!
//! Owns the reading of one rustc command line into a [`RustCompilation`] and the reading of the
//! make-style dep-info file rustc writes ([`parse_dep_info`]). It refuses anything it cannot
//! describe with confidence: incremental compiles, `-Z` flags, explicit output paths, split
//! debug info of a linked crate, link arguments it cannot follow and flags it does not know all
//! become `NotCacheable` with a short label. Every crate type is read; a compile that links
//! (`bin`, `proc-macro`, `dylib`, `cdylib`, build scripts) carries a [`LinkSpec`] for the
//! caller to resolve. It runs no process and reads no file except to find `-l static=`
//! libraries; hashing the inputs and the environment is the caller's job.
//!
//! Split by concept: `tokens` resolves each argument's spelling, `scan` takes the arguments in
//! one at a time, `link` reads what a linking compile hands the linker, `linker_script` what
//! a linker script among those makes the linker read, and `dep_info` builds
//! the dep-info run's command line and reads the file it writes. This file holds the result
//! types, `parse`, and the decision of the outcome once every argument has been read.

mod dep_info;
mod emit;
mod failure;
mod link;
mod link_args;
mod linker_script;
mod scan;
mod tokens;

pub use dep_info::{dep_info_args, parse_dep_info, unescape_env_dep, DepInfo};
pub use emit::EmitKind;
pub use failure::cacheable_failure;
pub use link::{LinkLib, LinkSpec, LINKED_CRATE_TYPES};
pub use link_args::{linked, read_printed_command, LinkArgsError, Linked};
pub use linker_script::{is_script, script_reads};

use super::{is_device, Parsed};
use scan::Scan;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokens::tokenize;

/// A cacheable rustc compile of one crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustCompilation {
    /// The `--crate-name` value (cargo passes it with underscores).
    pub crate_name: String,
    /// The `--crate-type` values in command-line order, without repeats.
    pub crate_types: Vec<String>,
    /// What the compile hands the linker, when it links (a linked crate type, `--emit` with
    /// `link`).
    pub link: Option<LinkSpec>,
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
    /// `-L` ones first, as rustc searches them), then every other static archive (`lib*.a`,
    /// `*.lib`) in the `native` and plain `-L` directories, which `#[link(kind = "static")]`
    /// in the source may bundle. A path is relative to the compile's working directory when
    /// its `-L` directory was.
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
    /// `-C target-cpu=native`: the key must hold what `native` means on this machine.
    pub native_cpu: bool,
    /// The `--target` value, if any.
    pub target: Option<String>,
    /// The `-L` directories rustc searches for crates (kinds `dependency`, `crate`, `all`,
    /// and no kind), as written, in order. A crate its dependents' metadata names (a proc
    /// macro re-exported by a dependency) is found there by name and hash. Not in `key_args`
    /// (a result does not depend on the target directory); a direct record of a compile that
    /// loaded a proc macro holds only for the same (`direct::rust::RustRecorded::crate_search`).
    pub crate_search: Vec<OsString>,
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

/// Whether the compile is for an Apple target (`--target`, else the host).
fn is_apple(target: Option<&str>) -> bool {
    target.map_or(cfg!(target_vendor = "apple"), |t| t.contains("apple"))
}

/// Whether the compile is for an MSVC target (`--target`, else the host), which names static
/// libraries `NAME.lib`.
fn is_msvc(target: Option<&str>) -> bool {
    target.map_or(cfg!(target_env = "msvc"), |t| t.contains("msvc"))
}

impl Scan {
    /// Decides the outcome once every argument has been read.
    pub(super) fn finish(mut self, cwd: &Path) -> Parsed<RustCompilation> {
        let target = self.target.clone();
        let target = target.as_deref();
        // Outside Apple targets, split debug info leaves `.dwo` files beside the outputs under
        // names the cache cannot predict; on Apple targets it stays in the rlib's objects.
        if self.split_debuginfo.as_deref().is_some_and(|s| s != "off") && !is_apple(target) {
            self.refuse("-C split-debuginfo");
        }
        let msvc = is_msvc(target);
        let links = self
            .crate_types
            .iter()
            .any(|ty| LINKED_CRATE_TYPES.contains(&ty.as_str()))
            && (self.emit.is_empty() || self.emit.contains(&EmitKind::Link));
        if links {
            // A linked crate's split debug info is files the cache cannot name (`.dwp`,
            // `.dSYM`, objects left for the debugger), on every target.
            if self.split_debuginfo.as_deref().is_some_and(|s| s != "off") {
                self.refuse("-C split-debuginfo");
            }
            if msvc || target.map_or(cfg!(windows), |t| t.contains("windows")) {
                self.refuse("linking for Windows");
            }
        }
        if self.query {
            return Parsed::NotCompilation;
        }
        if let Some(reason) = self.reason {
            return Parsed::NotCacheable(reason);
        }
        let input = match self.inputs.as_slice() {
            [] => return Parsed::NotCompilation,
            inputs if inputs.iter().any(|i| i == "-") => return refused("stdin input"),
            // The server's `/dev/stdin` or descriptors are not the client's.
            [input] if is_device(input, cwd) => return refused("input from a device"),
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
        // A staticlib copies in the objects (and bundled native libraries) of every crate
        // below it, which only its direct dependencies' digests stand for: a native library
        // bundled two crates down can change while every crate hash stays the same.
        // Any crate it may load by name counts: an `--extern` with or without a path, or a
        // directory rustc searches for crates (`extern crate a;`).
        let may_load_crates = self.key_args.iter().any(|arg| arg == "--extern")
            || self
                .search_dirs
                .iter()
                .any(|(kind, _)| matches!(kind.as_str(), "crate" | "all" | "dependency"));
        if may_load_crates && self.crate_types.iter().any(|kind| kind == "staticlib") {
            return refused("staticlib with dependencies");
        }
        // A directory JSON must escape (`"`, `\`, a control character) stays in the artifact
        // notices as written (`flow::out_dir`), so such an out-dir is in the key.
        if out_dir
            .as_encoded_bytes()
            .iter()
            .any(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        {
            self.key_args
                .extend(["--out-dir (escaped in JSON)".into(), out_dir.clone()]);
        }

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
        // A `#[link(name = "…", kind = "static")]` in the source bundles a library named
        // nowhere on the command line into the rlib, found in the same directories. Every
        // static archive they hold is keyed, so none of them can change unseen; and when the
        // crate bundles (an rlib, a staticlib), every file they hold: `+verbatim` names any
        // file, and neither a text scan (an escape in the literal, a dependency's macro) nor
        // the command line shows it. A linked crate's libraries are the link's
        // (`LinkSpec`: every file, or those its printed command names).
        let bundles = self
            .crate_types
            .iter()
            .any(|kind| matches!(kind.as_str(), "lib" | "rlib" | "staticlib"));
        // Crates are found by name in `crate` and `all` directories (`extern crate foo;`, a
        // `--extern foo` without a path): every file of a `crate` directory is keyed, and of an
        // `all` one too unless the compile links (its link's inputs hold what it loads; the
        // `dependency` directories hold only crates that a keyed crate names by hash).
        let every_file = |kind: &str| bundles || !links || kind == "crate";
        for (kind, dir) in &dirs {
            if matches!(kind.as_str(), "native" | "all" | "crate") {
                for archive in static_archives_in(&cwd.join(dir), every_file(kind)) {
                    let path = Path::new(dir).join(archive).into_os_string();
                    if !static_libs.contains(&path) {
                        static_libs.push(path);
                    }
                }
            }
        }
        // An explicit `--sysroot`: the standard library's crates are its files, which the
        // compiler identity (the toolchain's own sysroot) does not hold.
        if let Some(sysroot) = &self.sysroot {
            for lib in sysroot_target_libs(&cwd.join(sysroot)) {
                let path = Path::new(sysroot).join(lib).into_os_string();
                if !static_libs.contains(&path) {
                    static_libs.push(path);
                }
            }
        }

        let mut emit = self.emit;
        if emit.is_empty() {
            emit.push(EmitKind::Link);
        }
        emit.sort();
        emit.dedup();
        let stem = format!("{crate_name}{}", self.extra_filename);
        let dylib = |stem: &str| match is_apple(target) {
            true => format!("lib{stem}.dylib"),
            false => format!("lib{stem}.so"),
        };
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
                        ("bin", _) => stem.clone(),
                        ("proc-macro" | "dylib" | "cdylib", _) => dylib(&stem),
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

        let crate_search = self
            .search_dirs
            .iter()
            .filter(|(kind, _)| matches!(kind.as_str(), "dependency" | "crate" | "all"))
            .map(|(_, dir)| dir.clone())
            .collect();
        // Order does not matter to rustc for these, so the key lists them sorted.
        let mut key_args = self.key_args;
        let link = match links {
            true => {
                key_args.extend(self.link_key_args);
                if self.rpath {
                    // The rpath goes from the out-dir to each dynamic library's directory: an
                    // extern's (as given), or one found in a search directory.
                    key_args.extend(["--out-dir (rpath)".into(), out_dir.clone()]);
                    for (_, path) in &self.externs {
                        key_args.extend(["--extern (rpath)".into(), path.clone()]);
                    }
                    for (kind, dir) in &self.search_dirs {
                        key_args.extend([format!("-L {kind} (rpath)").into(), dir.clone()]);
                    }
                }
                let mut spec = LinkSpec {
                    linker: self.linker,
                    search_dirs: self.search_dirs.clone(),
                    libs: self.libs,
                    link_args: self.link_args,
                    ..LinkSpec::default()
                };
                if let Err(reason) = spec.read_link_args() {
                    return Parsed::NotCacheable(reason);
                }
                Some(spec)
            }
            false => None,
        };
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
            link,
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
            native_cpu: self.native_cpu,
            target: self.target,
            crate_search,
        })
    }
}

impl RustCompilation {
    /// The crate type the stats count this compile under: a build script (`build-script`,
    /// cargo's `build_script_*` binaries), else the first `--crate-type`.
    pub fn stats_kind(&self) -> &str {
        if self.crate_name.starts_with("build_script_") {
            return "build-script";
        }
        self.crate_types.first().map_or("lib", String::as_str)
    }

    /// Whether the link of this compile (which links) is handed every crate it loads that
    /// its `--extern` files do not stand for, by path: the `.rlib` of every crate of the
    /// graph, which the command rustc prints names (`--print link-args`). Not so with LTO
    /// (`-C lto` but `off`, `-C linker-plugin-lto`: rustc reads the crates' bitcode and hands
    /// the linker its own object and temporary copies of the `.rlib`s), or when rustc may
    /// find a crate by search (an `extern crate` or a path-less `--extern` looks in the `-L`
    /// directories of kind `crate` and `all`, and may load a proc macro that nothing links);
    /// the sysroot's crates are a link's inputs anyway. Rust dylibs are named by path too
    /// (`-C prefer-dynamic`, which cargo gives every proc macro).
    pub fn links_every_crate(&self) -> bool {
        let Some(link) = &self.link else {
            return false;
        };
        let searched = link
            .search_dirs
            .iter()
            .any(|(kind, _)| matches!(kind.as_str(), "crate" | "all"));
        let off = |value: &str| matches!(value, "no" | "n" | "off" | "false");
        let codegen = self
            .key_args
            .windows(2)
            .filter(|pair| pair[0] == "-C")
            .filter_map(|pair| pair[1].to_str());
        // The last of each counts, as for rustc.
        let mut on = [false; 2];
        for option in codegen {
            let (name, value) = option.split_once('=').unwrap_or((option, "yes"));
            let which = ["lto", "linker-plugin-lto"]
                .iter()
                .position(|known| *known == name);
            if let Some(which) = which {
                on[which] = !off(value);
            }
        }
        !on.contains(&true) && !searched
    }
}

/// A refusal with its stats label.
fn refused(why: &str) -> Parsed<RustCompilation> {
    Parsed::NotCacheable(why.to_owned())
}

#[cfg(test)]
mod tests;

/// Every regular file of each target's `lib` directory under a sysroot
/// (`lib/rustlib/<target>/lib/<file>`, relative to the sysroot), sorted.
fn sysroot_target_libs(sysroot: &Path) -> Vec<PathBuf> {
    let rustlib = Path::new("lib").join("rustlib");
    let mut files: Vec<PathBuf> = std::fs::read_dir(sysroot.join(&rustlib))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|target| {
            let lib = rustlib.join(target.file_name()).join("lib");
            static_archives_in(&sysroot.join(&lib), true)
                .into_iter()
                .map(move |name| lib.join(name))
        })
        .collect();
    files.sort();
    files
}

/// The static archives in `dir` (`lib*.a`, `*.lib`; with `every`, every regular file), by
/// name, sorted; none when it cannot be read (rustc would find nothing there either).
fn static_archives_in(dir: &Path, every: bool) -> Vec<OsString> {
    let mut archives: Vec<OsString> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            every || (name.starts_with("lib") && name.ends_with(".a")) || name.ends_with(".lib")
        })
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name())
        .collect();
    archives.sort();
    archives
}
