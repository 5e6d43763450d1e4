//! The hash key: the one place that decides what goes into a cache key.
//!
//! A key is a SHA-256 over labelled, length-prefixed fields, so that no two different inputs
//! can produce the same byte stream. Everything that can change a compiler's output must reach
//! the key through a function here; anything left out is a way for a hit to be wrong.
//! Invariant: the output locations of a compile are not in the key (a compile to another
//! directory shares the entry), except where a compiler writes an output's name into an output.

use crate::compiler::gcc::CCompilation;
use crate::compiler::CompilerKind;
use crate::source_digest::SourceSummary;
use sha2::{Digest, Sha256};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Changed whenever the key's recipe changes, so old entries stop matching instead of being
/// misread.
const KEY_RECIPE: &str = "sccache-actix key recipe 4";

/// Environment variables that change what gcc or clang produce or print. Variables that only
/// move where files go are not here.
const C_ENV_VARS: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "SOURCE_DATE_EPOCH",
    "GCC_COMPARE_DEBUG",
    "GCC_COLORS",
    "GCC_URLS",
    "TERM_URLS",
    "COLUMNS",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
    "SDKROOT",
    "CCC_OVERRIDE_OPTIONS",
    "CLANG_CONFIG_FILE_SYSTEM_DIR",
    "CLANG_CONFIG_FILE_USER_DIR",
];

/// Variables that change what gcc's preprocessor reads or how it reads the command line, beyond
/// `C_ENV_VARS` (which every C key takes): gcc edits its own arguments by
/// `QA_OVERRIDE_GCC3_OPTIONS`. In a manifest's key only: the preprocessed text shows what they
/// did on the ordinary path.
const DIRECT_ENV_VARS: &[&str] = &["QA_OVERRIDE_GCC3_OPTIONS"];

/// A cache key: the SHA-256 of everything that decides a compile's outputs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// The key as 64 lowercase hex digits, the form storage backends use as a name.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// Who compiled: the compiler family and a digest of its binary and version text. Two
/// compilers with the same identity produce the same output for the same input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompilerIdentity {
    pub kind: CompilerKind,
    pub digest: [u8; 32],
}

impl CompilerIdentity {
    /// The identity of a compiler from the digest of its executable's bytes, its version text
    /// and any further files that decide its output (a rust sysroot's libraries).
    pub fn new(
        kind: CompilerKind,
        binary_digest: &[u8; 32],
        version_text: &[u8],
        extra: &[u8],
    ) -> Self {
        let mut key = KeyWriter::new("compiler identity");
        key.field("kind", kind.to_string().as_bytes());
        key.field("binary", binary_digest);
        key.field("version", version_text);
        key.field("extra", extra);
        CompilerIdentity {
            kind,
            digest: key.finish().0,
        }
    }
}

impl CompilerIdentity {
    /// This identity together with what its driver runs and reads for a compile
    /// (`driver_digest`): the same driver with another `cc1`, `as` or configuration file, or
    /// expanding `-march=native` for another CPU, is another compiler.
    pub fn with_driver(&self, driver: &[u8; 32]) -> CompilerIdentity {
        let mut key = KeyWriter::new("compiler identity with its driver's programs");
        key.field("compiler", &self.digest);
        key.field("driver", driver);
        CompilerIdentity {
            kind: self.kind,
            digest: key.finish().0,
        }
    }
}

/// The digest of what a gcc/clang driver does for a compile: its dry run's text (the commands
/// with their expanded flags, the probe's own file names taken out) and the contents of every
/// file it runs or reads (programs, configuration files), by path.
pub fn driver_digest(dry_run_text: &[u8], files: &[(&OsStr, [u8; 32])]) -> [u8; 32] {
    let mut key = KeyWriter::new("driver");
    key.field("dry run", dry_run_text);
    key.field("files", &(files.len() as u64).to_le_bytes());
    for (path, digest) in files {
        key.field("path", path.as_bytes());
        key.field("contents", digest);
    }
    key.finish().0
}

/// A SHA-256 writer that labels and length-prefixes every field.
pub struct KeyWriter(Sha256);

impl KeyWriter {
    pub fn new(purpose: &str) -> Self {
        let mut writer = KeyWriter(Sha256::new());
        writer.field("recipe", KEY_RECIPE.as_bytes());
        writer.field("purpose", purpose.as_bytes());
        writer
    }

    /// Adds one labelled field.
    pub fn field(&mut self, label: &str, value: &[u8]) {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    /// Adds a list as one field per element, preceded by its length.
    pub fn list<'a>(&mut self, label: &str, values: impl IntoIterator<Item = &'a OsStr>) {
        let values: Vec<&OsStr> = values.into_iter().collect();
        self.field(label, &(values.len() as u64).to_le_bytes());
        for value in values {
            self.field(label, value.as_bytes());
        }
    }

    pub fn finish(self) -> CacheKey {
        CacheKey(self.0.finalize().into())
    }
}

/// A C key extended by the files the preprocessor read, as they are on disk (by name as the
/// line markers give them, and their contents' digests; `None` for a name that is no file,
/// such as one a `#line` directive made up). With debug info the object's line tables carry
/// columns, which the preprocessed text does not keep, so the raw text must decide the key.
pub fn with_read_files(key: CacheKey, files: &[(Vec<u8>, Option<[u8; 32]>)]) -> CacheKey {
    let mut writer = KeyWriter::new("c compile, with the files read");
    writer.field("key", &key.0);
    writer.field("files", &(files.len() as u64).to_le_bytes());
    for (name, digest) in files {
        writer.field("name", name);
        match digest {
            Some(digest) => writer.field("contents", digest),
            None => writer.field("no file", b""),
        }
    }
    writer.finish()
}

/// SHA-256 of a byte string: for file contents that reach a key through their digest.
/// SHA-256 rather than SHA-512 by measurement: with the CPU's SHA extensions, which the sha2
/// crate uses when present, it ran 2.2-2.5x faster on files of 4 KB to 10 MB
/// (`bench/sha_bench.sh`, figures in bench/README.md).
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The same digest as `digest`, of everything `reader` yields, read in a stream through a
/// buffer of 64 KB (a large file is never held whole).
pub fn digest_reader(mut reader: impl std::io::Read) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(read) => hasher.update(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// The key of a gcc/clang compile: the compiler, the language, the arguments that change the
/// output, the preprocessed source (by its digest, taken as it streamed out of the
/// preprocessor: `source_digest`), the environment that changes the compiler's behaviour, and
/// the working directory when the compiler writes it into an output.
pub fn c_key(
    compiler: &CompilerIdentity,
    exe: &OsStr,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    source: &SourceSummary,
) -> CacheKey {
    let mut key = KeyWriter::new("c compile");
    key.field("compiler", &compiler.digest);
    key.field("language", compilation.language.as_x_arg().as_bytes());
    // The input's name reaches the object (the symbol table's FILE entry, debug info) even
    // where the preprocessed text does not carry it (assembler input, `-P`).
    key.field("input", compilation.input.as_bytes());
    key.list("args", compilation.key_args.iter().map(OsString::as_os_str));
    let roles: Vec<&str> = compilation
        .outputs
        .iter()
        .map(|output| output.role.entry_name())
        .collect();
    key.field("outputs", roles.join(",").as_bytes());
    if compilation.cwd_in_key {
        key.field("cwd", cwd.as_bytes());
        // gcc (libiberty's getpwd) and clang write `$PWD` as spelled when it names the working
        // directory: two symbolic links to one directory give two objects.
        hash_env(&mut key, env, &["PWD"]);
    }
    if compilation
        .key_args
        .iter()
        .any(|arg| arg == crate::compiler::gcc::RECORDED_COMMAND_LINE)
    {
        // A recorded command line holds the driver's own path too.
        key.field("exe", exe.as_bytes());
    }
    hash_env(&mut key, env, C_ENV_VARS);
    key.field("preprocessed digest", &source.digest);
    key.field("preprocessed length", &source.length.to_le_bytes());
    key.finish()
}

/// The key of a C compile's direct-mode manifest (`direct`): everything `c_key` takes except
/// the preprocessed text, which is what direct mode avoids making, and in its place the
/// source file's digest, the working directory (and `$PWD`) always (relative include
/// directories and the names a manifest records are relative to it) and the manifest format.
/// What the preprocessor then reads is in the manifest, checked on every hit.
pub fn manifest_key(
    compiler: &CompilerIdentity,
    exe: &OsStr,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    input_digest: &[u8; 32],
) -> CacheKey {
    let no_text = SourceSummary {
        digest: [0; 32],
        length: u64::MAX,
        refusal: None,
    };
    let without_text = c_key(compiler, exe, compilation, cwd, env, &no_text);
    let mut key = KeyWriter::new("c direct manifest");
    key.field("format", &crate::manifest_version::C.to_le_bytes());
    key.field("compile", &without_text.0);
    key.field("exe", exe.as_bytes());
    key.field("cwd", cwd.as_bytes());
    hash_env(&mut key, env, &["PWD"]);
    hash_env(&mut key, env, DIRECT_ENV_VARS);
    key.field("input digest", input_digest);
    key.finish()
}

/// Adds the named variables of `env` in the order of `names`, marking absent ones, so that a
/// variable set to the empty string differs from one not set.
fn hash_env(key: &mut KeyWriter, env: &[(OsString, OsString)], names: &[&str]) {
    for name in names {
        match env
            .iter()
            .rev()
            .find(|(key, _)| key.as_bytes() == name.as_bytes())
        {
            Some((_, value)) => key.field(name, value.as_bytes()),
            None => key.field(name, b"\0unset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::gcc::COutput;
    use crate::compiler::{Language, OutputRole};

    fn compilation(args: &[&str]) -> CCompilation {
        CCompilation {
            language: Language::C,
            input: "a.c".into(),
            outputs: vec![COutput {
                role: OutputRole::Object,
                path: "a.o".into(),
            }],
            preprocess_args: vec![],
            key_args: args.iter().map(OsString::from).collect(),
            cwd_in_key: false,
            debug_info: false,
            driver_args: vec![],
        }
    }

    fn source(text: &[u8]) -> SourceSummary {
        crate::source_digest::summarize(text)
    }

    /// The key of `compilation` by gcc in `cwd` with `env`, over the source `text`.
    fn key(
        compilation: &CCompilation,
        cwd: &str,
        env: &[(OsString, OsString)],
        text: &[u8],
    ) -> CacheKey {
        c_key(
            &identity(),
            "gcc".as_ref(),
            compilation,
            cwd.as_ref(),
            env,
            &source(text),
        )
    }

    fn identity() -> CompilerIdentity {
        CompilerIdentity::new(CompilerKind::Gcc, &[1; 32], b"gcc 12", b"")
    }

    #[test]
    fn arguments_and_source_change_the_key() {
        let base = key(&compilation(&["-O2"]), "/w", &[], b"int x;");
        let other_flag = key(&compilation(&["-O0"]), "/w", &[], b"int x;");
        let other_source = key(&compilation(&["-O2"]), "/w", &[], b"int y;");
        assert_ne!(base, other_flag);
        assert_ne!(base, other_source);
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let split = key(&compilation(&["-DA", "B"]), "/w", &[], b"");
        let joined = key(&compilation(&["-DAB"]), "/w", &[], b"");
        assert_ne!(split, joined);
    }

    #[test]
    fn cwd_counts_only_when_written_into_outputs() {
        let mut plain = compilation(&[]);
        assert_eq!(key(&plain, "/a", &[], b""), key(&plain, "/b", &[], b""));
        plain.cwd_in_key = true;
        assert_ne!(key(&plain, "/a", &[], b""), key(&plain, "/b", &[], b""));
    }

    #[test]
    fn relevant_environment_counts_and_unset_differs_from_empty() {
        let compilation = compilation(&[]);
        let unset = key(&compilation, "/", &[], b"");
        let empty = key(&compilation, "/", &[("CPATH".into(), "".into())], b"");
        let irrelevant = key(&compilation, "/", &[("HOME".into(), "/x".into())], b"");
        assert_ne!(unset, empty);
        assert_eq!(unset, irrelevant);
    }

    #[test]
    fn the_drivers_programs_and_dry_run_change_the_identity() {
        let base = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &[]));
        let other_cpu = identity().with_driver(&driver_digest(b"cc1 -march=haswell", &[]));
        let assembler = [("/usr/bin/as".as_ref(), [1; 32])];
        let with_as = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &assembler));
        let new_as = [("/usr/bin/as".as_ref(), [2; 32])];
        let with_new_as = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &new_as));
        assert_ne!(base, other_cpu);
        assert_ne!(base, with_as);
        assert_ne!(with_as, with_new_as);
        assert_ne!(base, identity());
    }

    #[test]
    fn a_manifest_key_takes_the_compile_the_cwd_the_include_env_and_the_source() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
        };
        let manifest = |args: &[&str], cwd: &str, vars: &[(&str, &str)], input: u8| {
            manifest_key(
                &identity(),
                "gcc".as_ref(),
                &compilation(args),
                cwd.as_ref(),
                &env(vars),
                &[input; 32],
            )
        };
        let base = manifest(&["-O2"], "/w", &[], 1);
        assert_eq!(base, manifest(&["-O2"], "/w", &[], 1));
        assert_ne!(base, manifest(&["-O0"], "/w", &[], 1));
        assert_ne!(base, manifest(&["-O2"], "/v", &[], 1));
        assert_ne!(base, manifest(&["-O2"], "/w", &[("CPATH", "inc")], 1));
        assert_ne!(
            base,
            manifest(&["-O2"], "/w", &[("SOURCE_DATE_EPOCH", "1")], 1)
        );
        assert_ne!(base, manifest(&["-O2"], "/w", &[("PWD", "/w")], 1));
        assert_ne!(base, manifest(&["-O2"], "/w", &[], 2));
        // Never a result's key for any text.
        assert_ne!(base, key(&compilation(&["-O2"]), "/w", &[], b""));
    }
}

/// Environment variables of cargo's that reach no output: the jobserver (different for every
/// build), the parallelism, and registry settings (which carry tokens). Every other `CARGO_*`
/// variable is in a rust key: cargo sets them per package (`CARGO_PKG_VERSION`,
/// `CARGO_MANIFEST_DIR`, `CARGO_CFG_*`), and a proc macro can read them through `std::env`
/// without rustc reporting it in the dep-info.
const RUST_ENV_IGNORED: &[&str] = &["CARGO_MAKEFLAGS", "CARGO_BUILD_JOBS"];

/// Variables besides cargo's that change what rustc accepts: `RUSTC_BOOTSTRAP` lets a stable
/// compiler take unstable features, so a crate that fails to compile without it must not hit
/// an entry compiled with it.
const RUST_ENV_VARS: &[&str] = &["RUSTC_BOOTSTRAP"];

/// The prefix of cargo's registry variables, left out of a rust key.
const RUST_ENV_IGNORED_PREFIX: &str = "CARGO_REGISTRIES_";

/// Whether a variable of the client's environment goes into a rust key whatever the compile
/// reads: the `CARGO_*` variables except the ones that never change an output.
pub fn rust_env_in_key(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b"CARGO_")
        && !RUST_ENV_IGNORED.iter().any(|n| n.as_bytes() == name)
        && !name.starts_with(RUST_ENV_IGNORED_PREFIX.as_bytes())
}

/// What a rustc compile reads besides its arguments, learnt from its dep-info and the
/// digests of the files it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RustInputs {
    /// Every source file, as the dep-info names it (relative to the working directory or
    /// absolute), with the digest of its contents. Order does not matter.
    pub sources: Vec<(String, [u8; 32])>,
    /// Every `--extern` crate with a file, by name, with the digest of that file, in
    /// command-line order.
    pub externs: Vec<(String, [u8; 32])>,
    /// The digests of the `-l static=` libraries, in command-line order.
    pub static_libs: Vec<[u8; 32]>,
    /// The environment variables the source reads (`env!`, `option_env!`), by name. Their
    /// values are taken from the client's environment, not from the dep-info: this
    /// invocation's environment is the one the outputs must match.
    pub env_deps: Vec<String>,
    /// With `-C target-cpu=native`: what rustc says `native` is on this machine (its
    /// `--print target-cpus` and `--print cfg` for it: the CPU and its features).
    pub native_cpu: Option<Vec<u8>>,
    /// For a compile that links (a `bin`, `proc-macro`, `dylib`, `cdylib`): what the link
    /// reads besides rustc's own outputs.
    pub link: Option<LinkInputs>,
}

/// What a link reads, resolved by the actors layer (`flow/rust_link.rs`): who links and every
/// file it may read. Written into a rust key by `write_link`, apart from the dep-info parts,
/// so a key without the sources (a direct-mode manifest's) can take it too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkInputs {
    /// The linker's identity: the program `-C linker` names (or rustc's default `cc`) as found
    /// on `PATH`, the programs its dry run says it runs and the files it names, and the
    /// linkers it may be asked for (`ld`, `ld.lld`, `-fuse-ld=` ones), all by digest.
    pub linker: [u8; 32],
    /// Every file the link may read, by path and digest: each library and object in every
    /// directory it searches (the `-L` ones, the linker's own, `LIBRARY_PATH`, the target's
    /// sysroot libraries), the files link arguments name and those linker scripts name.
    pub files: Vec<(OsString, [u8; 32])>,
}

/// Variables the linker or the driver running it reads: the search paths for libraries and
/// programs, and those that change what a driver passes on or the output holds (`LD_RUN_PATH`
/// becomes the run path). `LD_LIBRARY_PATH` is not one: cargo sets it to the target directory
/// for every rustc it runs, and ld only looks there for the libraries a linked shared library
/// needs, to check their symbols, which changes no output.
const LINK_ENV_VARS: &[&str] = &[
    "LIBRARY_PATH",
    "LD_RUN_PATH",
    "COMPILER_PATH",
    "GCC_EXEC_PREFIX",
    "CCC_OVERRIDE_OPTIONS",
    "LD_OPTIONS",
    "SDKROOT",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
];

/// Writes a link's part of a rust key: the linker, every file it may read (sorted by path) and
/// the variables it reads.
pub fn write_link(key: &mut KeyWriter, link: &LinkInputs, env: &[(OsString, OsString)]) {
    key.field("linker", &link.linker);
    let mut files: Vec<&(OsString, [u8; 32])> = link.files.iter().collect();
    files.sort();
    files.dedup();
    key.field("link files", &(files.len() as u64).to_le_bytes());
    for (path, digest) in files {
        key.field("link file path", path.as_bytes());
        key.field("link file digest", digest);
    }
    hash_env(key, env, LINK_ENV_VARS);
}

/// The key of a rustc compile: the compiler (with its sysroot), the arguments that change the
/// outputs, the contents of every source, extern crate and static library, the variables the
/// source reads, cargo's `CARGO_*` variables, `RUSTC_BOOTSTRAP`, and the working directory
/// (rustc writes it into debug info, and diagnostics print paths relative to it). The output
/// directory is not in it.
pub fn rust_key(
    compiler: &CompilerIdentity,
    compilation: &crate::compiler::rust::RustCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    inputs: &RustInputs,
) -> CacheKey {
    let mut key = KeyWriter::new("rust compile");
    key.field("compiler", &compiler.digest);
    key.list("args", compilation.key_args.iter().map(OsString::as_os_str));
    key.field("cwd", cwd.as_bytes());

    let mut sources: Vec<&(String, [u8; 32])> = inputs.sources.iter().collect();
    sources.sort();
    sources.dedup();
    key.field("sources", &(sources.len() as u64).to_le_bytes());
    for (path, digest) in sources {
        key.field("source path", path.as_bytes());
        key.field("source digest", digest);
    }
    key.field("externs", &(inputs.externs.len() as u64).to_le_bytes());
    for (name, digest) in &inputs.externs {
        key.field("extern name", name.as_bytes());
        key.field("extern digest", digest);
    }
    key.field(
        "static libs",
        &(inputs.static_libs.len() as u64).to_le_bytes(),
    );
    for digest in &inputs.static_libs {
        key.field("static lib digest", digest);
    }
    if let Some(native) = &inputs.native_cpu {
        key.field("native cpu", native);
    }
    if let Some(link) = &inputs.link {
        write_link(&mut key, link, env);
    }

    let mut env_deps: Vec<&str> = inputs.env_deps.iter().map(String::as_str).collect();
    env_deps.sort_unstable();
    env_deps.dedup();
    key.field("env deps", &(env_deps.len() as u64).to_le_bytes());
    hash_env(&mut key, env, &env_deps);
    hash_env(&mut key, env, RUST_ENV_VARS);

    // The last value of each name wins, as in a process environment.
    let mut cargo_env: Vec<(&OsStr, &OsStr)> = Vec::new();
    for (name, value) in env.iter().filter(|(name, _)| rust_env_in_key(name)) {
        cargo_env.retain(|(seen, _)| *seen != name.as_os_str());
        cargo_env.push((name, value));
    }
    cargo_env.sort();
    key.field("cargo env", &(cargo_env.len() as u64).to_le_bytes());
    for (name, value) in cargo_env {
        key.field("cargo env name", name.as_bytes());
        key.field("cargo env value", value.as_bytes());
    }
    key.finish()
}

/// The key of a rust compile's direct-mode manifest (`direct::rust`): everything `rust_key`
/// takes except what comes from the dep-info (the sources' digests and the values of the
/// variables the source reads), which the manifest's records hold and every hit checks, and
/// the manifest format. `inputs.sources` and `inputs.env_deps` are ignored; everything else
/// in `inputs` (externs, static libraries, what `native` means, a link's inputs, which the
/// flow finds for a manifest without the crates only a dep-info lists) is in the key as in
/// `rust_key`.
pub fn rust_manifest_key(
    compiler: &CompilerIdentity,
    compilation: &crate::compiler::rust::RustCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    inputs: &RustInputs,
) -> CacheKey {
    let without_dep_info = RustInputs {
        sources: Vec::new(),
        env_deps: Vec::new(),
        ..inputs.clone()
    };
    let compile = rust_key(compiler, compilation, cwd, env, &without_dep_info);
    let mut key = KeyWriter::new("rust direct manifest");
    key.field("format", &crate::manifest_version::RUST.to_le_bytes());
    key.field("compile", &compile.0);
    key.finish()
}

#[cfg(test)]
mod rust_tests {
    use super::*;
    use crate::compiler::rust::RustCompilation;

    fn compilation(key_args: &[&str]) -> RustCompilation {
        RustCompilation {
            crate_name: "foo".into(),
            crate_types: vec!["lib".into()],
            emit: vec![],
            input: "src/lib.rs".into(),
            out_dir: "/t/debug/deps".into(),
            extra_filename: String::new(),
            externs: vec![],
            static_libs: vec![],
            key_args: key_args.iter().map(OsString::from).collect(),
            color: None,
            error_format: None,
            json: None,
            outputs: vec!["libfoo.rlib".into()],
            dep_info: None,
            native_cpu: false,
            target: None,
            link: None,
        }
    }

    fn identity() -> CompilerIdentity {
        CompilerIdentity::new(CompilerKind::Rustc, &[2; 32], b"rustc 1.95.0", b"sysroot")
    }

    fn inputs() -> RustInputs {
        RustInputs {
            sources: vec![
                ("src/lib.rs".into(), [1; 32]),
                ("src/data.txt".into(), [2; 32]),
            ],
            externs: vec![("bar".into(), [3; 32])],
            static_libs: vec![[4; 32]],
            env_deps: vec!["MY_VAR".into()],
            native_cpu: None,
            link: None,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect()
    }

    fn key_with(env_pairs: &[(&str, &str)], inputs: &RustInputs) -> CacheKey {
        rust_key(
            &identity(),
            &compilation(&["--crate-name", "foo"]),
            "/w".as_ref(),
            &env(env_pairs),
            inputs,
        )
    }

    #[test]
    fn the_linker_its_files_and_its_environment_change_a_linked_key() {
        let linked = |linker: u8, file: u8, path: &str| RustInputs {
            link: Some(LinkInputs {
                linker: [linker; 32],
                files: vec![(path.into(), [file; 32]), ("/l/crt1.o".into(), [5; 32])],
            }),
            ..inputs()
        };
        let base = key_with(&[], &linked(1, 1, "/l/libz.so"));
        assert_ne!(base, key_with(&[], &inputs()));
        assert_ne!(base, key_with(&[], &linked(2, 1, "/l/libz.so")));
        assert_ne!(base, key_with(&[], &linked(1, 2, "/l/libz.so")));
        assert_ne!(base, key_with(&[], &linked(1, 1, "/m/libz.so")));
        assert_ne!(
            base,
            key_with(&[("LIBRARY_PATH", "/x")], &linked(1, 1, "/l/libz.so"))
        );
        // The order files were found in does not count.
        let mut reversed = linked(1, 1, "/l/libz.so");
        if let Some(link) = &mut reversed.link {
            link.files.reverse();
        }
        assert_eq!(base, key_with(&[], &reversed));
        // A library's key does not read the linker's variables.
        assert_eq!(
            key_with(&[], &inputs()),
            key_with(&[("LIBRARY_PATH", "/x")], &inputs())
        );
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = key_with(&[], &inputs());
        let mut changed = Vec::new();
        let mut source = inputs();
        source.sources[1].1 = [9; 32];
        changed.push(key_with(&[], &source));
        let mut renamed = inputs();
        renamed.sources[1].0 = "src/other.txt".into();
        changed.push(key_with(&[], &renamed));
        let mut extern_crate = inputs();
        extern_crate.externs[0].1 = [9; 32];
        changed.push(key_with(&[], &extern_crate));
        let mut static_lib = inputs();
        static_lib.static_libs[0] = [9; 32];
        changed.push(key_with(&[], &static_lib));
        let mut native = inputs();
        native.native_cpu = Some(b"native - (currently haswell)".to_vec());
        changed.push(key_with(&[], &native));
        let mut other_native = inputs();
        other_native.native_cpu = Some(b"native - (currently znver3)".to_vec());
        changed.push(key_with(&[], &other_native));
        changed.push(rust_key(
            &identity(),
            &compilation(&["--crate-name", "foo", "--cfg", "x"]),
            "/w".as_ref(),
            &[],
            &inputs(),
        ));
        changed.push(rust_key(
            &identity(),
            &compilation(&["--crate-name", "foo"]),
            "/elsewhere".as_ref(),
            &[],
            &inputs(),
        ));
        changed.push(rust_key(
            &CompilerIdentity::new(CompilerKind::Rustc, &[2; 32], b"rustc 1.95.0", b"other"),
            &compilation(&["--crate-name", "foo"]),
            "/w".as_ref(),
            &[],
            &inputs(),
        ));
        for (index, key) in changed.iter().enumerate() {
            assert_ne!(base, *key, "change {index} kept the key");
        }
    }

    #[test]
    fn source_order_and_output_directory_do_not_count() {
        let mut reordered = inputs();
        reordered.sources.reverse();
        assert_eq!(key_with(&[], &inputs()), key_with(&[], &reordered));
        let mut elsewhere = compilation(&["--crate-name", "foo"]);
        elsewhere.out_dir = "/other-target/debug/deps".into();
        assert_eq!(
            key_with(&[], &inputs()),
            rust_key(&identity(), &elsewhere, "/w".as_ref(), &[], &inputs())
        );
    }

    #[test]
    fn env_deps_take_the_current_value_and_unset_differs_from_empty() {
        let unset = key_with(&[], &inputs());
        let empty = key_with(&[("MY_VAR", "")], &inputs());
        let one = key_with(&[("MY_VAR", "1")], &inputs());
        let two = key_with(&[("MY_VAR", "2")], &inputs());
        assert_ne!(unset, empty);
        assert_ne!(empty, one);
        assert_ne!(one, two);
        assert_ne!(unset, key_with(&[("RUSTC_BOOTSTRAP", "1")], &inputs()));
        // A variable the source does not read and cargo does not own changes nothing.
        assert_eq!(unset, key_with(&[("OTHER", "1")], &inputs()));
        // The last assignment of a variable is the one the compile sees.
        assert_eq!(
            two,
            key_with(&[("MY_VAR", "1"), ("MY_VAR", "2")], &inputs())
        );
    }

    #[test]
    fn cargo_variables_count_except_jobserver_jobs_and_registries() {
        let base = key_with(&[("CARGO_PKG_VERSION", "1.0.0")], &inputs());
        assert_ne!(base, key_with(&[("CARGO_PKG_VERSION", "1.0.1")], &inputs()));
        assert_ne!(
            base,
            key_with(
                &[("CARGO_PKG_VERSION", "1.0.0"), ("CARGO_FEATURE_X", "1")],
                &inputs()
            )
        );
        for ignored in [
            (
                "CARGO_MAKEFLAGS",
                "-j --jobserver-fds=6,7 --jobserver-auth=6,7",
            ),
            ("CARGO_BUILD_JOBS", "8"),
            ("CARGO_REGISTRIES_CRATES_IO_PROTOCOL", "sparse"),
            ("CARGO_REGISTRIES_MINE_TOKEN", "secret"),
        ] {
            assert_eq!(
                base,
                key_with(&[("CARGO_PKG_VERSION", "1.0.0"), ignored], &inputs()),
                "{ignored:?}"
            );
        }
        // The order of the environment does not matter.
        assert_eq!(
            key_with(&[("CARGO_A", "1"), ("CARGO_B", "2")], &inputs()),
            key_with(&[("CARGO_B", "2"), ("CARGO_A", "1")], &inputs())
        );
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut split = inputs();
        split.externs = vec![("ab".into(), [3; 32])];
        let mut joined = inputs();
        joined.externs = vec![("a".into(), [3; 32])];
        assert_ne!(key_with(&[], &split), key_with(&[], &joined));
        assert_ne!(
            key_with(&[("CARGO_A", "BC")], &inputs()),
            key_with(&[("CARGO_AB", "C")], &inputs())
        );
    }

    #[test]
    fn a_rust_manifest_key_ignores_the_dep_info_and_takes_everything_else() {
        let manifest = |env_pairs: &[(&str, &str)], inputs: &RustInputs| {
            rust_manifest_key(
                &identity(),
                &compilation(&["--crate-name", "foo"]),
                "/w".as_ref(),
                &env(env_pairs),
                inputs,
            )
        };
        let base = manifest(&[], &inputs());
        let mut sources = inputs();
        sources.sources[0].1 = [9; 32];
        sources.env_deps.push("OTHER".into());
        assert_eq!(base, manifest(&[("MY_VAR", "x")], &sources));
        let mut extern_crate = inputs();
        extern_crate.externs[0].1 = [9; 32];
        assert_ne!(base, manifest(&[], &extern_crate));
        assert_ne!(base, manifest(&[("CARGO_PKG_VERSION", "1")], &inputs()));
        assert_ne!(base, manifest(&[("RUSTC_BOOTSTRAP", "1")], &inputs()));
        // Never a result's key.
        let mut no_dep_info = inputs();
        no_dep_info.sources.clear();
        no_dep_info.env_deps.clear();
        assert_ne!(base, key_with(&[], &no_dep_info));
    }
}
