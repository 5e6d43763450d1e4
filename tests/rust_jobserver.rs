//! cargo's jobserver reaches the rustc the server runs: the client passes the pipe
//! `CARGO_MAKEFLAGS` names over the Unix socket, and the compile inherits it under the server's
//! descriptor numbers. Without it each rustc made a jobserver of its own with a token per CPU
//! (cold builds 5 % slower on two cores). rustc is a stand-in script that records which pipe
//! its `CARGO_MAKEFLAGS` names; the fixture's build script, which cargo runs itself, records
//! cargo's. Over TCP nothing can be passed, and the compile gets no jobserver setting (as before).

use crate::harness::{assert_success, count, have, run, sccache_bin, write_script, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `sh` words that record, into `$LOG`, the pipe behind the read descriptor of the
/// `--jobserver-auth=R,W` in `CARGO_MAKEFLAGS` (or `none`).
const RECORD_PIPE: &str = r#"
pipe=none
for word in $CARGO_MAKEFLAGS; do
  case "$word" in
    --jobserver-auth=*) fds=${word#--jobserver-auth=}; pipe=$(readlink /proc/$$/fd/${fds%,*}) ;;
  esac
done
"#;

/// A stand-in `rustc` in `dir`: records the pipe of each compile (not cargo's queries) and
/// runs the real one.
fn recording_rustc(dir: &Path) -> PathBuf {
    let sysroot = run(Command::new("rustc").args(["--print", "sysroot"]));
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let script = dir.join("rustc");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\ncase \"$*\" in *--crate-name\\ fixture*|*--crate-name\\ build_script_build*) {RECORD_PIPE}  echo \"$pipe\" >> '{}' ;; esac\n\
             exec '{sysroot}/bin/rustc' \"$@\"\n",
            dir.join("compiles.log").display()
        ),
    );
    script
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|error| panic!("{}: {error}", parent.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

/// A crate whose build script records the pipe of cargo's own jobserver.
fn write_crate(dir: &Path) {
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(&dir.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n");
    write(
        &dir.join("build.rs"),
        r#"fn main() {
    let flags = std::env::var("CARGO_MAKEFLAGS").unwrap_or_default();
    let pipe = flags
        .split(' ')
        .find_map(|word| word.strip_prefix("--jobserver-auth="))
        .and_then(|fds| fds.split(',').next())
        .and_then(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok())
        .map_or("none".to_owned(), |link| link.display().to_string());
    std::fs::write(std::env::var("CARGOS_PIPE_LOG").unwrap(), pipe).unwrap();
}
"#,
    );
}

/// Builds the crate in `dir` through `server` with the stand-in rustc; the pipes its compiles
/// named (build script, then library) and cargo's.
fn build(server: &Server, dir: &Path, rustc: &Path) -> (Vec<String>, String) {
    let log = dir.join("compiles.log");
    let _ = std::fs::remove_file(&log);
    let cargos = dir.join("cargos-pipe.log");
    let mut command = server.command("cargo");
    command
        .current_dir(dir.join("crate"))
        .args(["build", "-j2"])
        .env("RUSTC_WRAPPER", sccache_bin())
        .env("RUSTC", rustc)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("CARGO_INCREMENTAL", "0")
        .env("CARGOS_PIPE_LOG", &cargos)
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let output = run(&mut command);
    assert_success(&output, "cargo build");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("jobserver"), "{stderr}");
    let compiles = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let cargos = std::fs::read_to_string(&cargos).unwrap_or_default();
    (compiles, cargos)
}

#[test]
fn the_compiles_the_server_runs_use_cargos_jobserver() {
    assert!(have("cargo"), "cargo is not installed");
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let socket = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let socket = socket.path().join("server.sock");
    let socket = socket.to_string_lossy().into_owned();
    let rustc = recording_rustc(dir.path());
    write_crate(&dir.path().join("crate"));

    // Direct mode as by default: each crate's compile is its one rustc run.
    let server = Server::start_with(&[("SCCACHE_SERVER_UDS", &socket), ("SCCACHE_DIRECT", "true")]);
    let (compiles, cargos) = build(&server, dir.path(), &rustc);
    assert!(
        cargos.starts_with("pipe:["),
        "cargo's jobserver: {cargos:?}"
    );
    // The build script's compile and the library's, both run by the server.
    assert_eq!(compiles.len(), 2, "{compiles:#?}");
    for pipe in &compiles {
        assert_eq!(pipe, &cargos, "a compile's jobserver is not cargo's");
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "compilations"), 2, "{stats:#}");

    // Over TCP the descriptors cannot be passed: no jobserver setting, as before.
    let tcp = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let _ = std::fs::remove_dir_all(dir.path().join("target"));
    let (compiles, cargos) = build(&tcp, dir.path(), &rustc);
    assert!(
        cargos.starts_with("pipe:["),
        "cargo's jobserver: {cargos:?}"
    );
    assert_eq!(compiles, ["none", "none"], "over TCP");
    assert_eq!(count(&tcp.stats(), "compilations"), 2);
}
