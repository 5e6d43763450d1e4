//! Failed rustc compiles in direct mode (issue 14): a build script's feature probe, which a
//! stable compiler refuses with E0554 on every build, is replayed from the cache (its errors,
//! its exit status, the dep-info it wrote) without starting rustc; any other failure compiles
//! again. Each probe runs as proc-macro2's and anyhow's build scripts run theirs: into a
//! fresh output directory, removed afterwards.

use crate::harness::{count, Server};
use std::path::Path;
use std::process::{Command, Output};

/// A probe's source: an unstable feature, and a `mod` file.
const PROBE: &str = "#![feature(error_generic_member_access)]\nmod part;\npub use part::f;\n";

/// The probe's command line, as the build scripts spell it.
const ARGS: [&str; 8] = [
    "--edition=2021",
    "--crate-name=probe",
    "--crate-type=lib",
    "--cap-lints=allow",
    "--emit=dep-info,metadata",
    "--out-dir",
    "out",
    "src/probe.rs",
];

/// Runs the probe in `dir` through the server (`Some(env)`) or plain rustc (`None`), in a
/// fresh `out`; returns its output and the dep-info it left.
fn probe(server: &Server, dir: &Path, through: Option<&[(&str, &str)]>) -> (Output, Vec<u8>) {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir(&out).unwrap_or_else(|error| panic!("mkdir out: {error}"));
    let mut command = match through {
        Some(env) => {
            let mut command = server.command(crate::harness::sccache_bin());
            command.arg("rustc").envs(env.iter().copied());
            command
        }
        None => Command::new("rustc"),
    };
    if through.is_none_or(|env| env.iter().all(|(name, _)| *name != "RUSTC_BOOTSTRAP")) {
        command.env_remove("RUSTC_BOOTSTRAP");
    }
    let output = command
        .args(ARGS)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run the probe: {error}"));
    let dep_info = std::fs::read(out.join("probe.d")).unwrap_or_default();
    std::fs::remove_dir_all(&out).unwrap_or_else(|error| panic!("rm out: {error}"));
    (output, dep_info)
}

/// Writes a source file in `dir/src` (the output directory is beside it, so that making it
/// changes no directory the compile read).
fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join("src").join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap_or_else(|error| panic!("mkdir src: {error}"));
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{name}: {error}"));
}

/// Waits until the server has stored `writes` entries (a result and a manifest per miss).
fn wait_for_writes(server: &Server, writes: u64) {
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= writes);
}

fn assert_same_failure(actual: &(Output, Vec<u8>), expected: &(Output, Vec<u8>), what: &str) {
    assert_eq!(actual.0.status.code(), expected.0.status.code(), "{what}");
    assert_eq!(
        String::from_utf8_lossy(&actual.0.stderr),
        String::from_utf8_lossy(&expected.0.stderr),
        "{what}: stderr"
    );
    assert_eq!(actual.0.stdout, expected.0.stdout, "{what}: stdout");
    assert_eq!(actual.1, expected.1, "{what}: the dep-info file");
}

#[test]
fn a_stable_compilers_feature_probe_is_replayed_without_rustc_and_an_edit_misses() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let dir = dir.path();
    write(dir, "probe.rs", PROBE);
    write(dir, "part.rs", "pub fn f() {}\n");
    let plain = probe(&server, dir, None);
    assert_eq!(
        plain.0.status.code(),
        Some(1),
        "the probe must fail on a stable rustc"
    );
    assert!(
        String::from_utf8_lossy(&plain.0.stderr).contains("error[E0554]"),
        "not a stable rustc's refusal: {}",
        String::from_utf8_lossy(&plain.0.stderr)
    );
    assert!(!plain.1.is_empty(), "rustc wrote no dep-info");

    let first = probe(&server, dir, Some(&[]));
    assert_same_failure(&first, &plain, "the first probe");
    wait_for_writes(&server, 2);
    let second = probe(&server, dir, Some(&[]));
    assert_same_failure(&second, &plain, "the replayed probe");
    let stats = server.stats();
    assert_eq!(count(&stats, "compilations"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compile_fails"), 1, "{stats:#}");
    assert_eq!(count(&stats, "failure_hits"), 1, "{stats:#}");
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");

    // RUSTC_BOOTSTRAP lets a stable rustc take the feature: the probe compiles and succeeds.
    let bootstrapped = probe(&server, dir, Some(&[("RUSTC_BOOTSTRAP", "1")]));
    assert_eq!(
        bootstrapped.0.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&bootstrapped.0.stderr)
    );
    // An edit of the `mod` file the dep-info lists: compiled again.
    write(dir, "part.rs", "pub fn f() -> u8 { 1 }\n");
    let edited = probe(&server, dir, Some(&[]));
    assert_same_failure(&edited, &probe(&server, dir, None), "the edited probe");
    let stats = server.stats();
    assert_eq!(count(&stats, "compilations"), 3, "{stats:#}");
    assert_eq!(count(&stats, "failure_hits"), 1, "{stats:#}");
}

/// A failure beside another error is compiled every time; and a missing `mod` file, created
/// then deleted again, is never answered by the failure recorded while it was there.
#[test]
fn any_other_error_compiles_again_and_a_module_deleted_is_never_a_stale_replay() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let dir = dir.path();
    write(dir, "probe.rs", PROBE);
    // No part.rs: E0583 beside E0554.
    let missing = probe(&server, dir, None);
    assert!(String::from_utf8_lossy(&missing.0.stderr).contains("error[E0583]"));
    for round in 0..2 {
        let through = probe(&server, dir, Some(&[]));
        assert_same_failure(
            &through,
            &missing,
            &format!("missing module, round {round}"),
        );
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "compilations"), 2, "{stats:#}");
    assert_eq!(count(&stats, "failure_hits"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");

    write(dir, "part.rs", "pub fn f() {}\n");
    let with_part = probe(&server, dir, None);
    assert_same_failure(&probe(&server, dir, Some(&[])), &with_part, "with part.rs");
    wait_for_writes(&server, 2);
    assert_same_failure(&probe(&server, dir, Some(&[])), &with_part, "replayed");
    std::fs::remove_file(dir.join("src/part.rs")).unwrap_or_else(|error| panic!("rm: {error}"));
    assert_same_failure(&probe(&server, dir, Some(&[])), &missing, "part.rs deleted");
    let stats = server.stats();
    assert_eq!(count(&stats, "failure_hits"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compilations"), 4, "{stats:#}");
}
