//! The rust family's keys: a rustc compile's result key (`rust_key`) and its direct-mode
//! manifest's key (`rust_manifest_key`).

use super::link::{write_link, LinkInputs};
use super::writer::{hash_env, CacheKey, CompilerIdentity, KeyWriter};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Environment variables of cargo's that reach no output: the jobserver (different for every
/// build), the parallelism, and registry settings (which carry tokens). Every other `CARGO_*`
/// variable is in a rust key: cargo sets them per package (`CARGO_PKG_VERSION`,
/// `CARGO_MANIFEST_DIR`, `CARGO_CFG_*`), and a proc macro can read them through `std::env`
/// without rustc reporting it in the dep-info.
const RUST_ENV_IGNORED: &[&str] = &["CARGO_MAKEFLAGS", "CARGO_BUILD_JOBS"];

/// Variables besides cargo's that rustc itself reads and that change what it accepts or
/// writes: `RUSTC_BOOTSTRAP` lets a stable compiler take unstable features, so a crate that
/// fails to compile without it must not hit an entry compiled with it;
/// `RUSTC_FORCE_RUSTC_VERSION` is the version written into a crate's metadata (its rlib and
/// rmeta bytes change), and `RUSTC_OVERRIDE_VERSION_STRING` the version rustc reports;
/// `RUST_TARGET_PATH` is where a `--target` name finds its JSON specification. None of them is
/// in the dep-info.
const RUST_ENV_VARS: &[&str] = &[
    "RUSTC_BOOTSTRAP",
    "RUSTC_FORCE_RUSTC_VERSION",
    "RUSTC_OVERRIDE_VERSION_STRING",
    "RUST_TARGET_PATH",
    // LLVM writes it as the producer of bitcode (an `lto` build's rlibs).
    "LLVM_OVERRIDE_PRODUCER",
];

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
    /// The shared objects rustc loaded (its proc macros, and any library they brought in),
    /// by file name (cargo's names carry the crate's metadata hash; the directory is the
    /// target directory's, which a result does not depend on) with the digest of the file.
    /// Order does not matter. Learnt with the sources, from the run itself.
    pub loaded: Vec<(String, [u8; 32])>,
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

    write_named_digests(
        &mut key,
        ["sources", "source path", "source digest"],
        &inputs.sources,
    );
    key.field("externs", &(inputs.externs.len() as u64).to_le_bytes());
    for (name, digest) in &inputs.externs {
        key.field("extern name", name.as_bytes());
        key.field("extern digest", digest);
    }
    key.field(
        "static libs",
        &(inputs.static_libs.len() as u64).to_le_bytes(),
    );
    // By name and digest: rustc picks a library by its name (`#[link(name = "b")]`), so two
    // archives that swap names are other inputs.
    let names = compilation.static_libs.iter().map(|name| name.as_bytes());
    for (name, digest) in names
        .chain(std::iter::repeat(&b""[..]))
        .zip(&inputs.static_libs)
    {
        key.field("static lib name", name);
        key.field("static lib digest", digest);
    }
    if let Some(native) = &inputs.native_cpu {
        key.field("native cpu", native);
    }
    if let Some(link) = &inputs.link {
        write_link(&mut key, link, env);
    }
    // Only when there are any: a key of a compile that loads nothing stays as it was.
    if !inputs.loaded.is_empty() {
        let labels = ["loaded", "loaded name", "loaded digest"];
        write_named_digests(&mut key, labels, &inputs.loaded);
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

/// Writes `list` (names with digests) sorted and without repeats, as the order they were
/// found in does not count: its length under `labels[0]`, then each name and digest.
fn write_named_digests(key: &mut KeyWriter, labels: [&str; 3], list: &[(String, [u8; 32])]) {
    let mut list: Vec<&(String, [u8; 32])> = list.iter().collect();
    list.sort();
    list.dedup();
    key.field(labels[0], &(list.len() as u64).to_le_bytes());
    for (name, digest) in list {
        key.field(labels[1], name.as_bytes());
        key.field(labels[2], digest);
    }
}

/// The key of a rust compile's direct-mode manifest (`direct::rust`): everything `rust_key`
/// takes except what comes from the dep-info (the sources' digests and the values of the
/// variables the source reads), which the manifest's records hold and every hit checks, and
/// the manifest format. `inputs.sources`, `inputs.env_deps` and `inputs.loaded` are
/// ignored; everything else in `inputs` (externs, static libraries, what `native` means, a
/// link's inputs, which the flow finds for a manifest without the crates only a dep-info
/// lists) is in the key as in `rust_key`.
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
        loaded: Vec::new(),
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
    use crate::compiler::CompilerKind;

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
            crate_search: vec![],
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
            loaded: vec![],
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

    /// Two static archives that swap names are other inputs, though the same digests in the
    /// same order.
    #[test]
    fn static_libraries_are_keyed_by_name_and_digest() {
        let with_libs = |names: [&str; 2]| {
            let mut compilation = compilation(&["--crate-name", "foo"]);
            compilation.static_libs = names.iter().map(OsString::from).collect();
            let inputs = RustInputs {
                static_libs: vec![[4; 32], [5; 32]],
                ..inputs()
            };
            rust_key(&identity(), &compilation, "/w".as_ref(), &[], &inputs)
        };
        assert_ne!(
            with_libs(["n/liba.a", "n/libb.a"]),
            with_libs(["n/libb.a", "n/libc.a"])
        );
        assert_eq!(
            with_libs(["n/liba.a", "n/libb.a"]),
            with_libs(["n/liba.a", "n/libb.a"])
        );
    }

    #[test]
    fn the_linker_its_files_and_its_environment_change_a_linked_key() {
        let linked = |linker: u8, file: u8, path: &str| RustInputs {
            link: Some(LinkInputs {
                linker: [linker; 32],
                files: vec![(path.into(), [file; 32]), ("/l/crt1.o".into(), [5; 32])],
                listings: Vec::new(),
                searched: Vec::new(),
                order: Vec::new(),
            }),
            ..inputs()
        };
        let base = key_with(&[], &linked(1, 1, "/l/libz.so"));
        // A directory's listing (direct mode's way) counts, by its directory and its names.
        let listed = |dir: &str, names: u8| {
            let mut inputs = linked(1, 1, "/l/libz.so");
            if let Some(link) = &mut inputs.link {
                link.listings = vec![(dir.into(), [names; 32])];
            }
            inputs
        };
        assert_ne!(base, key_with(&[], &listed("/l", 1)));
        assert_ne!(
            key_with(&[], &listed("/l", 1)),
            key_with(&[], &listed("/l", 2))
        );
        assert_ne!(
            key_with(&[], &listed("/l", 1)),
            key_with(&[], &listed("/m", 1))
        );
        assert_ne!(base, key_with(&[], &inputs()));
        assert_ne!(base, key_with(&[], &linked(2, 1, "/l/libz.so")));
        assert_ne!(base, key_with(&[], &linked(1, 2, "/l/libz.so")));
        assert_ne!(base, key_with(&[], &linked(1, 1, "/m/libz.so")));
        for variable in ["LIBRARY_PATH", "LPATH", "LLD_VERSION"] {
            assert_ne!(
                base,
                key_with(&[(variable, "/x")], &linked(1, 1, "/l/libz.so")),
                "{variable}"
            );
        }
        // LLVM's producer string is written into every crate's bitcode, linked or not.
        assert_ne!(
            key_with(&[], &inputs()),
            key_with(&[("LLVM_OVERRIDE_PRODUCER", "x")], &inputs())
        );
        // The order files were found in does not count.
        let mut reversed = linked(1, 1, "/l/libz.so");
        if let Some(link) = &mut reversed.link {
            link.files.reverse();
        }
        assert_eq!(base, key_with(&[], &reversed));
        // The order directories are searched in does (the first of two libraries of one name
        // is linked).
        let searching = |order: &[&str]| {
            let mut inputs = linked(1, 1, "/l/libz.so");
            if let Some(link) = &mut inputs.link {
                link.order = order.iter().map(OsString::from).collect();
            }
            key_with(&[], &inputs)
        };
        assert_ne!(base, searching(&["/a", "/b"]));
        assert_ne!(searching(&["/a", "/b"]), searching(&["/b", "/a"]));
        assert_ne!(
            searching(&["dependency=/t/deps"]),
            searching(&["dependency=/u/deps"])
        );
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
        let mut loaded = inputs();
        loaded.loaded = vec![("libpm-1.so".into(), [5; 32])];
        changed.push(key_with(&[], &loaded));
        let mut loaded_other = inputs();
        loaded_other.loaded = vec![("libpm-1.so".into(), [6; 32])];
        changed.push(key_with(&[], &loaded_other));
        let mut loaded_renamed = inputs();
        loaded_renamed.loaded = vec![("libpm-2.so".into(), [5; 32])];
        changed.push(key_with(&[], &loaded_renamed));
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
        for name in RUST_ENV_VARS {
            assert_ne!(unset, key_with(&[(name, "1")], &inputs()), "{name}");
        }
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
        sources.loaded.push(("libpm-1.so".into(), [5; 32]));
        assert_eq!(base, manifest(&[("MY_VAR", "x")], &sources));
        let mut extern_crate = inputs();
        extern_crate.externs[0].1 = [9; 32];
        assert_ne!(base, manifest(&[], &extern_crate));
        assert_ne!(base, manifest(&[("CARGO_PKG_VERSION", "1")], &inputs()));
        for name in RUST_ENV_VARS {
            assert_ne!(base, manifest(&[(name, "1")], &inputs()), "{name}");
        }
        // Never a result's key.
        let mut no_dep_info = inputs();
        no_dep_info.sources.clear();
        no_dep_info.env_deps.clear();
        assert_ne!(base, key_with(&[], &no_dep_info));
    }
}
