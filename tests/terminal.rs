//! Diagnostics on a terminal: gcc and clang colour them when stderr is a terminal, so a client
//! on one must get colours from a compile the server ran and from the cache, and a client on a
//! pipe must not.

use crate::harness::{compile_by_hand, count, fixture, gcc_path, request, Server};
use sccache_core::protocol::Response;
use std::ffi::OsString;

#[test]
fn a_client_on_a_terminal_gets_coloured_diagnostics_from_the_compile_and_from_the_cache() {
    let server = Server::start();
    let dir = fixture("c");
    let cwd = dir.path().as_os_str().to_owned();
    let warn = |terminal: bool| {
        let mut compile = request(
            gcc_path(),
            cwd.clone(),
            ["-Wall", "-c", "warn.c", "-o", "warn.o"]
                .map(OsString::from)
                .to_vec(),
        );
        compile.stderr_is_terminal = terminal;
        set_env(&mut compile.env, &[("TERM", Some("xterm"))]);
        match compile_by_hand(&server, compile).last() {
            Some(Response::CompileFinished(finished)) => {
                assert_eq!(finished.exit_code, Some(0));
                finished.stderr.clone()
            }
            other => panic!("unexpected answer {other:?}"),
        }
    };
    let coloured = warn(true);
    assert!(coloured.contains(&0x1b), "no colour for a terminal");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_eq!(warn(true), coloured, "the hit replays the colours");
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
    let plain = warn(false);
    assert!(!plain.contains(&0x1b), "colour sent to a pipe");
    assert!(String::from_utf8_lossy(&plain).contains("never_used"));
}

/// Sets (or with `None` removes) variables of a request's environment.
fn set_env(env: &mut Vec<(OsString, OsString)>, vars: &[(&str, Option<&str>)]) {
    for (name, value) in vars {
        env.retain(|(key, _)| key != name);
        if let Some(value) = value {
            env.push((name.into(), value.into()));
        }
    }
}

#[test]
fn a_terminal_the_compiler_would_not_colour_gets_no_colour() {
    // gcc and clang print plain diagnostics to a terminal with TERM=dumb or no TERM, and gcc
    // with an empty GCC_COLORS; NO_COLOR asks for plain text.
    let server = Server::start();
    let dir = fixture("c");
    let cwd = dir.path().as_os_str().to_owned();
    let cases: &[&[(&str, Option<&str>)]] = &[
        &[("TERM", Some("dumb"))],
        &[("TERM", None)],
        &[("TERM", Some("xterm")), ("GCC_COLORS", Some(""))],
        &[("TERM", Some("xterm")), ("NO_COLOR", Some("1"))],
    ];
    for vars in cases {
        let mut compile = request(
            gcc_path(),
            cwd.clone(),
            ["-Wall", "-c", "warn.c", "-o", "warn.o"]
                .map(OsString::from)
                .to_vec(),
        );
        compile.stderr_is_terminal = true;
        set_env(
            &mut compile.env,
            &[("GCC_COLORS", None), ("NO_COLOR", None), ("TERM", None)],
        );
        set_env(&mut compile.env, vars);
        match compile_by_hand(&server, compile).last() {
            Some(Response::CompileFinished(finished)) => {
                assert!(!finished.stderr.contains(&0x1b), "colour with {vars:?}");
                assert!(String::from_utf8_lossy(&finished.stderr).contains("never_used"));
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

/// The stderr of `gcc -Wall -c warn.c` with `flags` added, for a client on an xterm, from the
/// fixture at `dir` through `server`; its warning is always there.
fn warning_on_an_xterm(server: &Server, dir: &std::path::Path, flags: &[&str]) -> Vec<u8> {
    let mut args: Vec<OsString> = ["-Wall", "-c", "warn.c", "-o", "warn.o"]
        .map(OsString::from)
        .to_vec();
    args.extend(flags.iter().map(OsString::from));
    let mut compile = request(gcc_path(), dir.as_os_str().to_owned(), args);
    compile.stderr_is_terminal = true;
    set_env(
        &mut compile.env,
        &[
            ("GCC_COLORS", None),
            ("NO_COLOR", None),
            ("TERM", Some("xterm")),
        ],
    );
    match compile_by_hand(server, compile).last() {
        Some(Response::CompileFinished(finished)) => {
            assert!(String::from_utf8_lossy(&finished.stderr).contains("never_used"));
            finished.stderr.clone()
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

/// The last colour flag counts: gcc's `-fdiagnostics-plain-output` is plain on a terminal, and
/// `-fdiagnostics-color=auto` leaves it to the terminal, which colours.
#[test]
fn a_terminal_gets_what_the_last_colour_flag_chose() {
    let server = Server::start();
    let dir = fixture("c");
    let cases: &[(&[&str], bool)] = &[
        (&["-fdiagnostics-plain-output"], false),
        (&["-fdiagnostics-color=auto"], true),
        (
            &["-fno-diagnostics-color", "-fdiagnostics-color=auto"],
            true,
        ),
        (
            &["-fdiagnostics-color=auto", "-fno-diagnostics-color"],
            false,
        ),
    ];
    for (flags, coloured) in cases {
        let stderr = warning_on_an_xterm(&server, dir.path(), flags);
        assert_eq!(stderr.contains(&0x1b), *coloured, "{flags:?}");
    }
}

/// A colour flag inside an `@file` counts as one on the command line.
#[test]
fn a_colour_flag_in_a_response_file_is_the_users_choice() {
    let server = Server::start();
    let dir = fixture("c");
    std::fs::write(dir.path().join("plain.rsp"), "-fno-diagnostics-color\n").unwrap_or_default();
    let stderr = warning_on_an_xterm(&server, dir.path(), &["@plain.rsp"]);
    assert!(!stderr.contains(&0x1b), "colour despite the @file");
}
