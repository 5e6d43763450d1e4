//! Answers to the two questions cargo asks rustc through `RUSTC_WRAPPER` at the start of every
//! build, before any compile (`target/.rustc_info.json`, where cargo keeps the answers, goes
//! with `cargo clean`): `rustc -vV`, and `rustc - --crate-name ___ --print=file-names ...
//! --print=cfg` with an empty input. Each is a rustc process on the build's critical path
//! (10-30 ms here), the same answer every time for a toolchain.
//!
//! `-vV` is answered with what the detector's probe of this very program printed for `-vV`
//! (the probe is remembered per path, stamp and rustup scope, and made again when the
//! toolchain's files change: `detector.rs`). A `--print` query is run once by the server and
//! its output remembered (`query_answers::QueryAnswers`, for the server's lifetime) under everything it may
//! depend on: the toolchain's identity and sysroot, the program, the working directory, every
//! argument and the whole environment but the jobserver's variables. Only queries whose every
//! `--print` is one cargo asks for, with the empty standard input cargo gives (the client says
//! whether its stdin is `/dev/null`), no `@file`, no `--target` but the host's (another may be
//! a target file, found by name in `RUST_TARGET_PATH` or the sysroot, whose contents no key
//! holds) and no `target-cpu=native` (which depends on the machine, not the toolchain), and
//! only answers with exit status 0. Everything else runs as before: the client runs it itself.

use crate::detector::CompilerInfo;
use crate::flow::services::Services;
use crate::query_answers::{Answer, QueryKey};
use futures::future::FutureExt;
use sccache_core::jobserver;
use sccache_core::protocol::{CompileFinished, CompileRequest};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The `--print` requests a remembered answer may hold: cargo's.
const PRINTS: [&str; 5] = [
    "file-names",
    "sysroot",
    "split-debuginfo",
    "crate-name",
    "cfg",
];

/// Left out of a query's key beside the jobserver's variables (`sccache_core::jobserver::VARS`,
/// a new pipe every build): make's nesting depth. Neither changes what rustc prints.
const MAKELEVEL: &str = "MAKELEVEL";

/// The answer to `request` when it is one of cargo's queries this server answers; `None`
/// when the client is to run it (as for any other query).
pub async fn answer(
    services: &Services,
    info: &CompilerInfo,
    request: &CompileRequest,
) -> Option<CompileFinished> {
    let rust = info.rust.as_ref()?;
    let overridden =
        crate::flow::request_env::lookup(&request.env, crate::detector::VERSION_OVERRIDE).is_some();
    if request.args.len() == 1 && request.args[0] == "-vV" && !overridden {
        return rust
            .verbose_version
            .clone()
            .map(|stdout| answered((stdout, Vec::new())));
    }
    let host = rust.host.as_deref()?;
    if !request.stdin_is_null || !answerable(&request.args, host) {
        return None;
    }
    let mut env: Vec<(OsString, OsString)> = request
        .env
        .iter()
        .filter(|(name, _)| name != MAKELEVEL && !jobserver::VARS.iter().any(|skip| name == skip))
        .cloned()
        .collect();
    env.sort();
    let key = QueryKey {
        toolchain: info.identity.digest,
        sysroot: rust.sysroot.clone(),
        exe: request.exe.clone(),
        cwd: request.cwd.clone(),
        args: request.args.clone(),
        env,
    };
    // Run by a process no single client's leaving stops, for everyone who asks the same.
    let (services, request) = (services.detached(), request.clone());
    let probe = services.query_answers.clone().probe(key, move || {
        async move {
            let output = services
                .run(&request.exe, request.args.clone(), &request)
                .await
                .map_err(|error| error.to_string())?;
            if output.success() {
                Ok((output.stdout, output.stderr))
            } else {
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
        .boxed()
    })?;
    probe.await.ok().map(answered)
}

fn answered((stdout, stderr): Answer) -> CompileFinished {
    CompileFinished {
        exit_code: Some(0),
        signal: None,
        stdout,
        stderr,
    }
}

/// Whether a command line asks rustc something rather than compiling (`-vV`, `--version`, a
/// `--print`), by its words alone: before the compiler is known.
pub fn is_query(args: &[OsString]) -> bool {
    args.iter().any(|arg| {
        let arg = arg.as_bytes();
        matches!(arg, b"-vV" | b"-V" | b"--version") || arg.starts_with(b"--print")
    })
}

/// Whether a command line is a query whose answer may be remembered: it reads standard input
/// (`-`), asks only for `PRINTS`, and names no file rustc would read for it: no target but
/// `host`.
fn answerable(args: &[OsString], host: &str) -> bool {
    let words: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
    let (mut prints, mut stdin) = (0, false);
    let mut at = 0;
    while let Some(&word) = words.get(at) {
        at += 1;
        // `--name value` or `--name=value`.
        let mut value_of = |name: &[u8]| match word.strip_prefix(name) {
            Some([]) => {
                at += 1;
                words.get(at - 1).copied()
            }
            Some([b'=', rest @ ..]) => Some(rest),
            _ => None,
        };
        if word == b"-" {
            stdin = true;
        } else if word.starts_with(b"--print") {
            match value_of(b"--print") {
                Some(print) if PRINTS.iter().any(|p| p.as_bytes() == print) => prints += 1,
                _ => return false,
            }
        } else if word.starts_with(b"--target") {
            match value_of(b"--target") {
                Some(target) if target == host.as_bytes() => {}
                _ => return false,
            }
        } else if word.starts_with(b"@") || word.windows(6).any(|w| w == b"native") {
            // An argument file, or `target-cpu=native`: the machine's, not the toolchain's.
            return false;
        }
    }
    stdin && prints > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    fn args(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn a_query_is_told_by_its_words_alone() {
        assert!(is_query(&args("-vV")));
        assert!(is_query(&args("--version")));
        assert!(is_query(&args("- --crate-name ___ --print=file-names")));
        assert!(is_query(&args("--print sysroot")));
        assert!(!is_query(&args("--crate-name a src/lib.rs --emit=link")));
        // A source named like a flag's value is no query.
        assert!(!is_query(&args("--crate-name print src/print.rs")));
    }

    #[test]
    fn cargos_query_is_answerable() {
        assert!(answerable(
            &args(
                "- --crate-name ___ --print=file-names --crate-type bin --crate-type rlib \
             --crate-type dylib --crate-type cdylib --crate-type staticlib --crate-type \
             proc-macro --print=sysroot --print=split-debuginfo --print=crate-name --print=cfg \
             -Wwarnings"
            ),
            HOST
        ));
        assert!(answerable(
            &args("- --crate-name ___ --print file-names --target x86_64-unknown-linux-gnu"),
            HOST
        ));
    }

    #[test]
    fn other_queries_and_compiles_are_not() {
        for line in [
            // No standard input: a file's attributes may decide the answer.
            "src/lib.rs --crate-name ___ --print=file-names",
            "- --crate-name ___",
            "- --print=native-static-libs",
            "- --print=target-cpus",
            "- --print=cfg --target my-target.json",
            "- --print=cfg --target ./targets/x",
            // Another target may be a target file found by its name.
            "- --print=cfg --target aarch64-unknown-linux-gnu",
            "- --print=cfg --target=my-target",
            "- --print=cfg -C target-cpu=native",
            "- --print=cfg -Ctarget-cpu=native",
            "- --print=cfg @args",
            "- --print",
        ] {
            assert!(!answerable(&args(line), HOST), "{line}");
        }
    }
}
