//! cargo's queries at the start of every build (issue 14): `rustc -vV` and `rustc - --print=...`
//! with an empty stdin, asked through the wrapper, are answered by the server without a rustc
//! process once it knows the answer, byte for byte what rustc prints; a query that reads a
//! real stdin, depends on the machine (`target-cpu=native`) or runs in another environment
//! starts rustc. rustc is a logging stand-in (`RUSTC=<script>`, as cargo would run it), so the
//! tests count its starts.

use crate::harness::{sccache_bin, write_script, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// cargo's `--print` query (its crate types shortened).
const PRINT: [&str; 11] = [
    "-",
    "--crate-name",
    "___",
    "--print=file-names",
    "--crate-type",
    "bin",
    "--crate-type",
    "rlib",
    "--print=sysroot",
    "--print=split-debuginfo",
    "--print=cfg",
];

/// A stand-in `rustc` in `dir` that logs each start's arguments and runs the real one.
fn logging_rustc(dir: &Path) -> PathBuf {
    let real = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|error| panic!("rustc --print sysroot: {error}"));
    let sysroot = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    let script = dir.join("rustc");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{sysroot}/bin/rustc' \"$@\"\n",
            dir.join("starts.log").display()
        ),
    );
    script
}

fn starts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("starts.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `args` through the server (`through`) or the stand-in alone, stdin `/dev/null` unless
/// `input` is given.
fn query(
    server: &Server,
    rustc: &Path,
    args: &[&str],
    through: bool,
    input: Option<&str>,
) -> Output {
    let mut command = if through {
        let mut command = server.command(sccache_bin());
        command.arg(rustc);
        command
    } else {
        Command::new(rustc)
    };
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {args:?}: {error}"));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|error| panic!("stdin: {error}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{args:?}: {error}"))
}

fn assert_same(actual: &Output, expected: &Output, what: &str) {
    assert_eq!(actual.status.code(), Some(0), "{what}");
    assert_eq!(
        String::from_utf8_lossy(&actual.stdout),
        String::from_utf8_lossy(&expected.stdout),
        "{what}: stdout"
    );
    assert_eq!(actual.stderr, expected.stderr, "{what}: stderr");
}

#[test]
fn cargos_version_and_print_queries_are_answered_without_rustc() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let rustc = logging_rustc(dir.path());
    let plain_version = query(&server, &rustc, &["-vV"], false, None);
    let plain_print = query(&server, &rustc, &PRINT, false, None);
    // A new server's first query runs rustc as the client would, while the compiler is
    // detected (its probe runs `-vV` too); the answer is rustc's all the same.
    let first = query(&server, &rustc, &["-vV"], true, None);
    assert_same(&first, &plain_version, "-vV, first");
    let mut detected = false;
    for _ in 0..200 {
        let before = starts(dir.path()).len();
        let answered = query(&server, &rustc, &["-vV"], true, None);
        assert_same(&answered, &plain_version, "-vV, while detecting");
        if starts(dir.path()).len() == before {
            detected = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(detected, "{:#?}", starts(dir.path()));
    let before = starts(dir.path()).len();

    // Once detected, `-vV` is answered from the probe's.
    for round in 0..3 {
        let answered = query(&server, &rustc, &["-vV"], true, None);
        assert_same(&answered, &plain_version, &format!("-vV, round {round}"));
    }
    let after_version = starts(dir.path());
    assert_eq!(after_version.len(), before, "{after_version:#?}");

    // The `--print` query runs once, then is answered.
    for round in 0..3 {
        let answered = query(&server, &rustc, &PRINT, true, None);
        assert_same(&answered, &plain_print, &format!("--print, round {round}"));
    }
    let printed = |log: &[String]| {
        log.iter()
            .filter(|line| line.contains("--print=file-names"))
            .count()
    };
    assert_eq!(printed(&starts(dir.path())), 2, "{:#?}", starts(dir.path()));

    // A stdin with bytes in it is the client's to read: rustc starts every time.
    for _ in 0..2 {
        let piped = query(
            &server,
            &rustc,
            &PRINT,
            true,
            Some("#![crate_type = \"lib\"]\n"),
        );
        assert_eq!(piped.status.code(), Some(0));
    }
    assert_eq!(printed(&starts(dir.path())), 4);

    // `target-cpu=native` is the machine's: never remembered.
    let mut native = PRINT.to_vec();
    native.extend(["-C", "target-cpu=native"]);
    for _ in 0..2 {
        assert_eq!(
            query(&server, &rustc, &native, true, None).status.code(),
            Some(0)
        );
    }
    assert_eq!(printed(&starts(dir.path())), 6);

    // Another environment is another question (RUSTC_BOOTSTRAP may change what rustc says).
    let mut bootstrapped = server.command(sccache_bin());
    let output = bootstrapped
        .arg(&rustc)
        .args(PRINT)
        .env("RUSTC_BOOTSTRAP", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(printed(&starts(dir.path())), 7);
}

/// `rustc -vV` with `RUSTC_OVERRIDE_VERSION_STRING` prints that version: answered by rustc
/// itself, and the detector's answer for a later `-vV` without it is the toolchain's own.
#[test]
fn a_version_override_reaches_the_version_query_and_no_other() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let rustc = logging_rustc(dir.path());
    let plain = query(&server, &rustc, &["-vV"], false, None);
    let through = |overridden: bool| {
        let mut command = server.command(sccache_bin());
        command.arg(&rustc).arg("-vV");
        if overridden {
            command.env("RUSTC_OVERRIDE_VERSION_STRING", "9.9.9");
        }
        command
            .output()
            .unwrap_or_else(|error| panic!("cannot run -vV: {error}"))
    };
    // The first asks with the override (the detector probes then), the rest alternate.
    for round in 0..3 {
        let overridden = through(true);
        assert!(
            String::from_utf8_lossy(&overridden.stdout).starts_with("rustc 9.9.9"),
            "round {round}: {}",
            String::from_utf8_lossy(&overridden.stdout)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_same(&through(false), &plain, &format!("-vV, round {round}"));
    }
}
