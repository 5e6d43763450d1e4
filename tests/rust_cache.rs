//! Rust through the real server with real cargo and rustc, on the fixture workspace in
//! `tests/fixtures/cargo`: `cargo clean && cargo build` served from the cache, what makes a crate
//! miss (an edited source, a feature, an env-dep) and what must not (cargo's jobserver and job
//! count), warnings replayed on a hit, and incremental builds passed through and counted.
//!
//! The fixture has three library crates (`util`; `greet`, which depends on `util`; `gen`, with
//! a build script) and a binary `app` using them. Only the libraries are cacheable: the binary
//! and the build script count as `crate-type (bin)`.

use crate::harness::{assert_success, count, fixture, have, run, Server};
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// The library crates of the fixture: the hits of a fully cached build.
const LIBRARIES: u64 = 3;

/// The line the fixture's binary prints without features or env-deps.
const PLAIN_OUTPUT: &str = "hello from greet (from data.txt), env dep unset; answer 42\n";

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
        let mut command = self.server.command("cargo");
        command
            .current_dir(self.dir.path())
            .args(args)
            .env("RUSTC_WRAPPER", crate::harness::sccache_bin())
            .env("CARGO_TARGET_DIR", self.target_dir())
            .env("CARGO_INCREMENTAL", "0")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("FIXTURE_ENV_DEP");
        for (name, value) in env {
            command.env(name, value);
        }
        run(&mut command)
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
        let output = run(&mut std::process::Command::new(
            self.target_dir().join("debug").join("app"),
        ));
        assert_success(&output, "the fixture's binary");
        String::from_utf8_lossy(&output.stdout).into_owned()
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
    assert_eq!(workspace.rust_counts(), (0, LIBRARIES));
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
        (LIBRARIES, LIBRARIES),
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
    // Both builds ran the binary's and the build script's compiles uncached.
    assert_eq!(count(&stats, "not_cached.crate-type (bin)"), 4, "{stats:#}");
}

#[test]
fn edits_features_and_env_deps_miss_only_the_crates_they_reach() {
    let workspace = Workspace::new();
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (0, LIBRARIES));

    // `util` changes, and with it the metadata `greet` reads; `gen` is unrelated.
    workspace.edit("util/src/lib.rs", |text| {
        text + "\npub fn whisper(text: &str) -> String {\n    text.to_lowercase()\n}\n"
    });
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (1, 2));
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);

    // A feature of `greet` reaches `greet` only.
    assert_eq!(
        workspace.hits_and_misses_of(&["--features", "greet/loud"], &[]),
        (2, 1)
    );
    assert_eq!(
        workspace.run_app(),
        PLAIN_OUTPUT.replace(
            "hello from greet (from data.txt), env dep unset",
            "HELLO FROM GREET (FROM DATA.TXT), ENV DEP UNSET"
        )
    );

    // The variable `greet` reads with `option_env!` reaches `greet` only.
    assert_eq!(
        workspace.hits_and_misses_of(&[], &[("FIXTURE_ENV_DEP", "set")]),
        (2, 1)
    );
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT.replace("unset", "set"));

    // Back to the first state: everything is in the cache.
    assert_eq!(workspace.hits_and_misses_of(&[], &[]), (LIBRARIES, 0));
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
}

#[test]
fn incremental_builds_compile_and_are_counted() {
    let workspace = Workspace::new();
    workspace.clean_build(&[], &[("CARGO_INCREMENTAL", "1")]);
    assert_eq!(workspace.run_app(), PLAIN_OUTPUT);
    let stats = workspace.server.stats();
    assert_eq!(
        count(&stats, "not_cached.incremental"),
        LIBRARIES,
        "{stats:#}"
    );
    assert_eq!(workspace.rust_counts(), (0, 0));
}
