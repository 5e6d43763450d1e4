//! Rust through the real server with real cargo and rustc, on the fixture workspace in
//! `tests/fixtures/cargo`: `cargo clean && cargo build` served from the cache, what makes a crate
//! miss (an edited source, a feature, an env-dep) and what must not (cargo's jobserver and job
//! count), warnings replayed on a hit, and incremental builds passed through and counted.
//!
//! The fixture has three library crates (`util`; `greet`, which depends on `util`; `gen`, with
//! a build script) and a binary `app` using them. Every crate is cacheable, the binary and the
//! build script included (`rust_crates.rs` tests what a link's key holds).
//!
//! The remote backends' tests (`redis.rs`, `s3.rs`) share the fixture build through
//! `assert_cargo_build_shared`.

use crate::harness::{assert_success, count, fixture, have, run, Server};
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// The library crates of the fixture.
pub(crate) const LIBRARIES: u64 = 3;

/// The compiles of a fixture build, every one cacheable (the libraries, the build script and
/// the binary): the hits of a fully cached build.
pub(crate) const CRATES: u64 = 5;

/// The line the fixture's binary prints without features or env-deps.
pub(crate) const PLAIN_OUTPUT: &str =
    "hello from greet (from data.txt), env dep unset; answer 42\n";

/// Runs cargo with `args` in the fixture workspace `dir` through `server` (`RUSTC_WRAPPER`),
/// into `target`, without incremental compilation unless `env` (added last) says otherwise.
pub(crate) fn cargo_in(
    server: &Server,
    dir: &Path,
    target: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    assert!(have("cargo"), "cargo is not installed");
    let mut command = server.command("cargo");
    command
        .current_dir(dir)
        .args(args)
        .env("RUSTC_WRAPPER", crate::harness::sccache_bin())
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("FIXTURE_ENV_DEP");
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

/// What the fixture's binary built into `target` prints.
pub(crate) fn run_app_in(target: &Path) -> String {
    let output = run(&mut std::process::Command::new(
        target.join("debug").join("app"),
    ));
    assert_success(&output, "the fixture's binary");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[cfg(any(feature = "redis", feature = "s3", feature = "reapi"))]
/// The `.rlib` and `.rmeta` files of the libraries in `<target>/debug/deps`, sorted by name.
fn library_artifacts(target: &Path) -> Vec<String> {
    let deps = target.join("debug").join("deps");
    let mut names: Vec<String> = std::fs::read_dir(&deps)
        .unwrap_or_else(|error| panic!("{}: {error}", deps.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("{}: {error}", deps.display()))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".rlib") || name.ends_with(".rmeta"))
        .collect();
    names.sort();
    names
}

#[cfg(any(feature = "redis", feature = "s3", feature = "reapi"))]
/// The cargo fixture shared through a remote cache by two servers with their own `SCCACHE_DIR`s.
///
/// `first` builds a copy of the fixture (every library a miss) and its writes are awaited; the
/// target directory is then moved aside and `second` builds the same checkout again: another
/// machine with the same checkout path, since the working directory and cargo's paths
/// (`CARGO_MANIFEST_DIR`, a build script's `OUT_DIR`) are in a rust key. Every library must be a
/// hit of `second`'s very first build, its `.rlib`s and `.rmeta`s the first build's bytes, and
/// the binary must print the same. Returns the first server's stats after its writes.
pub(crate) fn assert_cargo_build_shared(first: &Server, second: &Server) -> serde_json::Value {
    assert_ne!(first.cache_dir, second.cache_dir);
    let dir = fixture("cargo");
    let target = dir.path().join("target");
    let build = ["build", "--offline"];
    let output = cargo_in(first, dir.path(), &target, &build, &[]);
    assert_success(&output, &format!("first cargo build\n{}", first.log()));
    let stats = first.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_write_errors") >= CRATES
    });
    assert_eq!(
        count(&stats, "cache_misses.counts.Rust"),
        CRATES,
        "{stats:#}"
    );
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), CRATES, "{stats:#}");
    assert_eq!(run_app_in(&target), PLAIN_OUTPUT);

    let first_target = dir.path().join("target-first");
    std::fs::rename(&target, &first_target)
        .unwrap_or_else(|error| panic!("moving {} aside: {error}", target.display()));
    let output = cargo_in(second, dir.path(), &target, &build, &[]);
    assert_success(&output, &format!("second cargo build\n{}", second.log()));
    let second_stats = second.stats();
    assert_eq!(
        count(&second_stats, "cache_hits.counts.Rust"),
        CRATES,
        "{second_stats:#}\n{}",
        second.log()
    );
    assert_eq!(
        count(&second_stats, "cache_misses.counts.Rust"),
        0,
        "{second_stats:#}"
    );
    assert_eq!(run_app_in(&target), PLAIN_OUTPUT);

    let artifacts = library_artifacts(&first_target);
    assert_eq!(artifacts.len() as u64, 2 * LIBRARIES, "{artifacts:?}");
    assert_eq!(library_artifacts(&target), artifacts);
    let first_deps = first_target.join("debug").join("deps");
    let second_deps = target.join("debug").join("deps");
    for name in &artifacts {
        crate::harness::assert_same_file(&second_deps.join(name), &first_deps.join(name));
    }
    stats
}

/// A copy of the fixture workspace with its own server and target directory.
struct Workspace {
    server: Server,
    dir: TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        assert!(have("cargo"), "cargo is not installed");
        Workspace {
            server: Server::start(),
            dir: fixture("cargo"),
        }
    }

    fn target_dir(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    /// Runs cargo in the workspace through sccache, without incremental compilation unless
    /// `env` says otherwise.
    fn cargo(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        cargo_in(&self.server, self.dir.path(), &self.target_dir(), args, env)
    }

    /// `cargo clean`, then `cargo build` with `args`. Returns the build's output.
    fn clean_build(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        assert_success(&self.cargo(&["clean", "--quiet"], &[]), "cargo clean");
        let mut build_args = vec!["build", "--offline"];
        build_args.extend_from_slice(args);
        let build = self.cargo(&build_args, env);
        assert_success(&build, &format!("cargo build {args:?}"));
        build
    }

    /// Waits until every Rust miss so far has been written to the cache (writes are sent after
    /// the client has its result), so that the next build can hit them.
    fn wait_for_writes(&self) {
        self.server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_write_errors")
                >= count(stats, "cache_misses.counts.Rust")
        });
    }

    /// Rust hits and misses so far.
    fn rust_counts(&self) -> (u64, u64) {
        let stats = self.server.stats();
        (
            count(&stats, "cache_hits.counts.Rust"),
            count(&stats, "cache_misses.counts.Rust"),
        )
    }

    /// Builds after a `cargo clean` and returns the hits and misses of that build.
    fn hits_and_misses_of(&self, args: &[&str], env: &[(&str, &str)]) -> (u64, u64) {
        self.wait_for_writes();
        let (hits, misses) = self.rust_counts();
        self.clean_build(args, env);
        let (hits_after, misses_after) = self.rust_counts();
        (hits_after - hits, misses_after - misses)
    }

    /// What the fixture's binary prints.
    fn run_app(&self) -> String {
        run_app_in(&self.target_dir())
    }

    fn edit(&self, file: &str, edit: impl FnOnce(String) -> String) {
        let path: &Path = &self.dir.path().join(file);
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        std::fs::write(path, edit(text))
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
}

#[test]
fn cargo_clean_build_hits_every_library_and_replays_warnings() {
    let workspace = Workspace::new();
    let jobs_one = [
        ("CARGO_BUILD_JOBS", "1"),
        (
            "CARGO_MAKEFLAGS",
            "-j1 --jobserver-auth=fifo:/nonexistent-one",
        ),
    ];
    let first = workspace.clean_build(&[], &jobs_one);
    assert_eq!(workspace.rust_counts(), (0, CRATES));
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
    let first_stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first_stderr.contains("unused_in_greet"), "{first_stderr}");
    assert!(!first_stderr.contains("jobserver"), "{first_stderr}");

    // Another job count and jobserver: cargo's parallelism reaches no key.
    let jobs_two = [
        ("CARGO_BUILD_JOBS", "2"),
        (
            "CARGO_MAKEFLAGS",
            "-j2 --jobserver-auth=fifo:/nonexistent-two",
        ),
    ];
    workspace.wait_for_writes();
    let second = workspace.clean_build(&[], &jobs_two);
    let stats = workspace.server.stats();
    assert_eq!(
        workspace.rust_counts(),
        (CRATES, CRATES),
        "{stats:#}\n{}",
        workspace.server.log()
    );
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
    // The warning of the cached crate is shown as on the miss.
    let second_stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        second_stderr.contains("unused variable: `unused_in_greet`"),
        "{second_stderr}"
    );
    // The binary and the build script were cached too, and counted by crate type.
    assert_eq!(count(&stats, "rust_crate_hits.bin"), 1, "{stats:#}");
    assert_eq!(
        count(&stats, "rust_crate_hits.build-script"),
        1,
        "{stats:#}"
    );
    assert_eq!(count(&stats, "rust_crate_hits.lib"), LIBRARIES, "{stats:#}");
    assert_eq!(count(&stats, "requests_not_cacheable"), 0, "{stats:#}");
}

#[test]
fn edits_features_and_env_deps_miss_only_the_crates_they_reach() {
    let workspace = Workspace::new();
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (0, CRATES));

    // `util` changes, and with it the metadata `greet` reads and the binary links; `gen` and
    // its build script are unrelated.
    workspace.edit("util/src/lib.rs", |text| {
        text + "\npub fn whisper(text: &str) -> String {\n    text.to_lowercase()\n}\n"
    });
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (2, 3));
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);

    // A feature of `greet` reaches `greet` and the binary linking it.
    assert_eq!(
        workspace.hits_and_misses_of(&["--features", "greet/loud"], &[]),
        (3, 2)
    );
    assert_eq!(
        workspace.run_app(),
        PLAIN_OUTPUT.replace(
            "hello from greet (from data.txt), env dep unset",
            "HELLO FROM GREET (FROM DATA.TXT), ENV DEP UNSET"
        )
    );

    // The variable `greet` reads with `option_env!` reaches `greet` and the binary.
    assert_eq!(
        workspace.hits_and_misses_of(&[], &[("FIXTURE_ENV_DEP", "set")]),
        (3, 2)
    );
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT.replace("unset", "set"));

    // Back to the first state: everything is in the cache.
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (CRATES, 0));
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
}

#[test]
fn incremental_builds_compile_and_are_counted() {
    let workspace = Workspace::new();
    workspace.clean_build(&[], &[("CARGO_INCREMENTAL", "1")]);
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
    let stats = workspace.server.stats();
    assert_eq!(count(&stats, "not_cached.incremental"), CRATES, "{stats:#}");
    assert_eq!(workspace.rust_counts(), (0, 0));
}

#[test]
fn a_crate_built_into_another_target_directory_hits_with_its_own_paths() {
    built_into_another_target_directory("target-one", "target-two");
}

/// rustc writes a dep-info's rule targets as they are and its prerequisites with spaces
/// escaped: a hit into another directory with spaces names it as rustc would.
#[test]
fn a_crate_built_into_another_target_directory_with_spaces_hits_with_its_own_paths() {
    built_into_another_target_directory("target one", "target two");
}

/// With `-C rpath` (and std linked dynamically) a binary names its libraries by paths
/// relative to its directory: one built into another target directory is its own, and runs.
#[test]
fn an_rpath_binary_built_into_another_target_directory_runs() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path())).unwrap_or_default();
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{name}: {error}"));
    };
    write(
        "Cargo.toml",
        "[package]\nname = \"rp\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write("src/main.rs", "fn main() { println!(\"hello\"); }\n");
    let build = |target: &Path| {
        build_into(
            &server,
            dir.path(),
            target,
            &[("RUSTFLAGS", "-C prefer-dynamic -C rpath")],
        );
        let binary = target.join("debug").join("rp");
        // Found through its rpath alone (`cargo test` puts the toolchain's libraries on
        // `LD_LIBRARY_PATH`).
        let output = run(std::process::Command::new(&binary).env_remove("LD_LIBRARY_PATH"));
        assert_success(&output, &format!("{}", binary.display()));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(build(&dir.path().join("t1")), "hello\n");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    assert_eq!(build(&dir.path().join("a").join("b").join("t2")), "hello\n");
    // Built into the first directory again: a hit.
    let before = count(&server.stats(), "cache_hits.counts.Rust");
    std::fs::remove_dir_all(dir.path().join("t1")).unwrap_or_default();
    assert_eq!(build(&dir.path().join("t1")), "hello\n");
    assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), before + 1);
}

/// `cargo build --target-dir target` of the workspace at `dir` through `server`, with `env`.
fn build_into(server: &Server, dir: &Path, target: &Path, env: &[(&str, &str)]) {
    let mut command = server.command("cargo");
    command
        .current_dir(dir)
        .args(["build", "--offline", "--target-dir"])
        .arg(target)
        .env("RUSTC_WRAPPER", crate::harness::sccache_bin())
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("FIXTURE_ENV_DEP")
        .envs(env.iter().copied());
    assert_success(
        &run(&mut command),
        &format!("cargo build --target-dir {}", target.display()),
    );
}

fn built_into_another_target_directory(one: &str, two: &str) {
    let server = Server::start();
    let dir = fixture("cargo");
    // `--target-dir`, not CARGO_TARGET_DIR: every CARGO_* variable is in a rust key.
    let build = |target: &Path| build_into(&server, dir.path(), target, &[]);
    let first = dir.path().join(one);
    build(&first);
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= CRATES);
    let second = dir.path().join(two);
    build(&second);
    assert_eq!(run_app_in(&second), PLAIN_OUTPUT);
    // `gen` reads its build script's OUT_DIR, which names the target directory, so it misses,
    // and so does the binary linking it; the others hit, and their dep-info files name the new
    // directory, never the old one or the placeholder the cache stores.
    let stats = server.stats();
    assert_eq!(
        count(&stats, "cache_hits.counts.Rust"),
        CRATES - 2,
        "{stats:#}"
    );
    let deps = second.join("debug").join("deps");
    let dep_files: Vec<PathBuf> = std::fs::read_dir(&deps)
        .unwrap_or_else(|error| panic!("{}: {error}", deps.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_some_and(|extension| extension == "d")
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("util"))
        })
        .collect();
    assert_eq!(dep_files.len(), 1, "{dep_files:?}");
    let text = String::from_utf8_lossy(&crate::harness::read(&dep_files[0])).into_owned();
    assert!(
        text.starts_with(&format!("{}/util-", deps.display())),
        "{text}"
    );
    assert!(!text.contains(one), "{text}");
    assert!(!text.contains('\0'), "{text:?}");
}

/// rustc's arguments for a library `name` from `source` into `out_dir`, as cargo emits them
/// (dep-info, metadata, link), with `extra` before the source.
pub fn lib_args(name: &str, source: &str, out_dir: &str, extra: &[&str]) -> Vec<String> {
    [
        "--crate-type",
        "lib",
        "--crate-name",
        name,
        "--edition",
        "2021",
    ]
    .iter()
    .chain(extra)
    .chain(&[
        source,
        "--emit=dep-info,metadata,link",
        "--out-dir",
        out_dir,
    ])
    .map(|word| word.to_string())
    .collect()
}

/// Writes `files` (path, text) under `dir`, with their directories.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).unwrap_or_default();
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

/// `cargo build` of `dir` through `server`'s cache (or plainly, without a server) with
/// `RUSTFLAGS`, after `cargo clean`; then what its binary `name` prints.
fn clean_build_and_run(server: Option<&Server>, dir: &Path, rustflags: &str, name: &str) -> String {
    for args in [&["clean"][..], &["build", "--offline"]] {
        let mut command = match server {
            Some(server) => {
                let mut command = server.command("cargo");
                command.env("RUSTC_WRAPPER", crate::harness::sccache_bin());
                command
            }
            None => {
                let mut command = std::process::Command::new("cargo");
                command.env_remove("RUSTC_WRAPPER");
                command
            }
        };
        command
            .current_dir(dir)
            .args(args)
            .env("CARGO_INCREMENTAL", "0")
            .env("RUSTFLAGS", rustflags)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER");
        assert_success(&run(&mut command), &format!("cargo {args:?}"));
    }
    let output = run(&mut std::process::Command::new(
        dir.join("target").join("debug").join(name),
    ));
    assert_success(&output, name);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A library that loads a prebuilt crate by name (`extern crate foo;`) from a `-L crate=`
/// directory: the crate rebuilt with other code is a miss of the library, and the binary prints
/// the new value.
#[test]
fn a_crate_found_by_name_in_a_crate_directory_is_in_the_key() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let ext = dir.path().join("ext");
    let make_foo = |value: u32| {
        write_files(
            &ext,
            &[("foo.rs", &format!("pub fn v() -> u32 {{ {value} }}\n"))],
        );
        let mut command = std::process::Command::new("rustc");
        command
            .current_dir(&ext)
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "rlib",
                "--crate-name",
                "foo",
            ])
            .args(["-C", "metadata=x", "foo.rs", "--out-dir", "."]);
        assert_success(&run(&mut command), "rustc foo.rs");
    };
    make_foo(1);
    write_files(
        dir.path(),
        &[
            (
                "lib/Cargo.toml",
                "[package]\nname = \"lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "lib/src/lib.rs",
                "extern crate foo;\npub fn v() -> u32 { foo::v() }\n",
            ),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                 [dependencies]\nlib = { path = \"../lib\" }\n",
            ),
            (
                "app/src/main.rs",
                "fn main() { println!(\"{}\", lib::v()); }\n",
            ),
        ],
    );
    let app = dir.path().join("app");
    let flags = format!("-L crate={0} -L dependency={0}", ext.display());
    assert_eq!(
        clean_build_and_run(Some(&server), &app, &flags, "app"),
        "1\n"
    );
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 2);
    make_foo(2);
    assert_eq!(
        clean_build_and_run(Some(&server), &app, &flags, "app"),
        "2\n"
    );
    assert_eq!(clean_build_and_run(None, &app, &flags, "app"), "2\n");
}

/// An explicit `--sysroot`: its standard library is in the key, so a compile against a
/// sysroot whose crates changed (here: `core` gone) is not the old sysroot's hit.
#[test]
fn a_compile_with_an_explicit_sysroot_keys_its_standard_library() {
    // In direct mode, which starts no rustc before a hit (the dep-info run would fail here).
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let version = run(std::process::Command::new("rustc").args(["-vV"]));
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let host = version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("no host in {version}"));
    let sysroot = run(std::process::Command::new("rustc").args(["--print", "sysroot"]));
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let from = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host)
        .join("lib");
    let to = dir.path().join("sys/lib/rustlib").join(host).join("lib");
    std::fs::create_dir_all(&to).unwrap_or_default();
    // Symbolic links: a hard link would move the toolchain's files' change times, which
    // other tests' servers stamp.
    for entry in std::fs::read_dir(&from).into_iter().flatten().flatten() {
        if entry.path().is_file() {
            std::os::unix::fs::symlink(entry.path(), to.join(entry.file_name()))
                .unwrap_or_default();
        }
    }
    write_files(dir.path(), &[("l.rs", "pub fn v() -> u32 { 7 }\n")]);
    std::fs::create_dir_all(dir.path().join("o")).unwrap_or_default();
    let args = lib_args("l", "l.rs", "o", &["--sysroot", "sys"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_success(&server.compile(dir.path(), "rustc", &args), "first");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    for entry in std::fs::read_dir(&to).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("libcore-") {
            std::fs::remove_file(entry.path()).unwrap_or_default();
        }
    }
    let plain = run(std::process::Command::new("rustc")
        .current_dir(dir.path())
        .args(&args));
    assert!(
        !plain.status.success(),
        "plain rustc found no core and succeeded"
    );
    let cached = server.compile(dir.path(), "rustc", &args);
    assert_eq!(cached.status.code(), plain.status.code());
}

/// The server drops or renumbers the jobserver's variables before it runs rustc: a crate that
/// reads one at compile time is never stored (what it compiled is not what the client's
/// environment would make), in either mode.
#[test]
fn a_crate_reading_the_jobserver_variables_is_not_stored() {
    for direct in ["true", "false"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        write_files(
            dir.path(),
            &[(
                "m.rs",
                "pub const M: Option<&str> = option_env!(\"MAKEFLAGS\");\n",
            )],
        );
        std::fs::create_dir_all(dir.path().join("o")).unwrap_or_default();
        let args = lib_args("m", "m.rs", "o", &[]);
        for _ in 0..2 {
            let output = run(server
                .command(crate::harness::sccache_bin())
                .current_dir(dir.path())
                .arg("rustc")
                .args(&args)
                .env("MAKEFLAGS", "-j2 --jobserver-auth=8,9"));
            assert_success(&output, "rustc m.rs");
        }
        let stats = server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.Rust"), 0, "{stats:#}");
        assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    }
}

/// A source under the miss's out-dir keeps its own empty rule in a hit's dep-info: only the
/// compile's outputs are rule targets that name the out-dir.
#[test]
fn a_hits_dep_info_keeps_a_source_under_the_old_out_dir() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    write_files(dir.path(), &[("src/lib.rs", "pub fn v() -> u32 { 1 }\n")]);
    std::fs::create_dir_all(dir.path().join("o2")).unwrap_or_default();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let source = dir.path().join("src/lib.rs");
    let args = |out: &Path| {
        let (source, out) = (source.display().to_string(), out.display().to_string());
        lib_args("l", &source, &out, &[])
    };
    let compile = |out: &Path| {
        let args = args(out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_success(&server.compile(dir.path(), "rustc", &args), "rustc");
    };
    compile(dir.path());
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    let out = dir.path().join("o2");
    compile(&out);
    assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
    let cached = crate::harness::read(&out.join("l.d"));
    let plain = run(std::process::Command::new("rustc")
        .current_dir(dir.path())
        .args(args(&out)));
    assert_success(&plain, "plain rustc");
    assert_eq!(
        String::from_utf8_lossy(&cached),
        String::from_utf8_lossy(&crate::harness::read(&out.join("l.d")))
    );
}

/// rustc writes an env-dep's name escaped as it does the value (`BACK\\SLASH` for a backslash):
/// the key and the record look the variable up by its own name, so a changed value misses, by
/// both ways of keying.
#[test]
fn an_env_dep_whose_name_rustc_escapes_misses_when_its_value_changes() {
    for direct in ["true", "false"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path();
        std::fs::write(
            path.join("main.rs"),
            "fn main() { print!(\"{}\", option_env!(\"BACK\\\\SLASH\").unwrap_or(\"unset\")); }\n",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        std::fs::create_dir_all(path.join("out")).unwrap_or_else(|error| panic!("{error}"));
        let build = |value: &str| {
            std::thread::sleep(std::time::Duration::from_millis(30));
            let mut command = server.command(crate::harness::sccache_bin());
            command
                .current_dir(path)
                .args(["rustc", "--crate-name", "main", "--edition=2021", "main.rs"])
                .args([
                    "--crate-type",
                    "bin",
                    "--emit=dep-info,link",
                    "--out-dir",
                    "out",
                ])
                .env("BACK\\SLASH", value);
            assert_success(&run(&mut command), "rustc");
            let output = run(&mut std::process::Command::new(path.join("out/main")));
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        assert_eq!(build("one"), "one");
        server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
        assert_eq!(build("two"), "two", "SCCACHE_DIRECT={direct}");
    }
}
