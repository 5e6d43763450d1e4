//! Things a C compile reads or writes that its preprocessed text does not show (issue 16,
//! items 4, 14, 5): assembler directives put together so that no `.incbin` is written, files
//! the assembler writes on the side, and the working directory in assembler debug info.

use crate::harness::{
    assert_outcomes_add_up, assert_same_file, assert_success, count, fixture, run, Server,
};
use std::process::Command;

/// Compiles `args` through sccache and plainly (to `plain.o`), and returns the stats.
fn compile_both(server: &Server, dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let output = server.compile(dir, "gcc", args);
    assert_success(&output, &format!("sccache gcc {args:?}"));
    let mut plain: Vec<&str> = args.to_vec();
    if let Some(at) = plain.iter().position(|arg| *arg == "-o") {
        plain[at + 1] = "plain.o";
    }
    assert_success(
        &run(Command::new("gcc").current_dir(dir).args(&plain)),
        "plain gcc",
    );
    server.stats()
}

#[test]
fn an_incbin_put_together_from_pieces_is_not_cached() {
    let server = Server::start();
    let dir = fixture("c");
    let sources = [
        (
            "split.c",
            "asm(\".section .rodata\\n.in\" \"cbin \\\"blob.bin\\\"\\n.text\");\n",
        ),
        (
            "escaped.c",
            "__asm__(\".section .rodata\\n\\x2eincbin \\\"blob.bin\\\"\\n.text\");\n",
        ),
        (
            "macro.c",
            "asm(\".macro m a\\n.\\\\a\\\\()bin \\\"blob.bin\\\"\\n.endm\\n\
             .section .rodata\\nm inc\\n.text\");\n",
        ),
    ];
    for (name, text) in sources {
        std::fs::write(dir.path().join(name), text).unwrap();
        for blob in ["first", "second"] {
            std::fs::write(dir.path().join("blob.bin"), blob).unwrap();
            compile_both(&server, dir.path(), &["-c", name, "-o", "blob.o"]);
            assert_same_file(&dir.path().join("blob.o"), &dir.path().join("plain.o"));
        }
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "requests_not_cacheable"), 6, "{stats:#}");
    assert_outcomes_add_up(&stats);
}

#[test]
fn ordinary_headers_with_asm_renames_stay_cacheable() {
    // glibc's headers rename symbols with `__asm__`; those must not make compiles uncacheable.
    let server = Server::start();
    let dir = fixture("c");
    let text = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\
                #include <math.h>\n#include <pthread.h>\n#include <time.h>\n\
                int f(FILE *in) { int x; return fscanf(in, \"%d\", &x); }\n";
    std::fs::write(dir.path().join("libc.c"), text).unwrap();
    for _ in 0..2 {
        compile_both(&server, dir.path(), &["-c", "libc.c", "-o", "libc.o"]);
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
}

#[test]
fn assembler_options_that_write_files_are_not_cached() {
    let server = Server::start();
    let dir = fixture("c");
    let cases: &[&[&str]] = &[
        &["-c", "util.c", "-o", "util.o", "-Wa,-adhln=util.lst"],
        &["-c", "util.c", "-o", "util.o", "-Xassembler", "-a=util.lst"],
        &["-c", "util.c", "-o", "util.o", "-Wa,--MD,util.ad"],
    ];
    for args in cases {
        for _ in 0..2 {
            for side in ["util.lst", "util.ad"] {
                let _ = std::fs::remove_file(dir.path().join(side));
            }
            let output = server.compile(dir.path(), "gcc", args);
            assert_success(&output, &format!("{args:?}"));
            let side = if args.iter().any(|arg| arg.contains("MD")) {
                "util.ad"
            } else {
                "util.lst"
            };
            assert!(dir.path().join(side).exists(), "{args:?}: no {side}");
        }
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
}

#[test]
fn assembler_debug_info_keys_the_working_directory() {
    // `gcc -Wa,-g -c x.s` records the working directory in the object.
    let server = Server::start();
    let root = fixture("c");
    let text = ".text\n.globl f\nf:\n\tret\n";
    for name in ["one", "two"] {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("f.s"), text).unwrap();
        // Written a clock step (or more) before the compile starts, so its result is stored: a
        // source whose change time is not before the compile's start counts as changed during
        // it (the file system's clock moves in steps of a few milliseconds).
        std::thread::sleep(std::time::Duration::from_millis(100));
        compile_both(&server, &dir, &["-Wa,-g", "-c", "f.s", "-o", "f.o"]);
        assert_same_file(&dir.join("f.o"), &dir.join("plain.o"));
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_hits.counts.C/C++") >= 1
        });
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
}

#[test]
fn debug_info_keys_pwd_as_spelled() {
    // Two symbolic links to one directory: gcc and clang write `$PWD` as spelled.
    let server = Server::start();
    let root = fixture("c");
    for (compiler, link) in [
        ("gcc", "gcc-a"),
        ("gcc", "gcc-b"),
        ("clang", "clang-a"),
        ("clang", "clang-b"),
    ] {
        let link_path = root.path().join(link);
        std::os::unix::fs::symlink(root.path(), &link_path).unwrap();
        let pwd = link_path.to_str().unwrap();
        let args = ["-g", "-c", "util.c", "-o", "util.o"];
        let output = run(server
            .command(crate::harness::sccache_bin())
            .current_dir(&link_path)
            .env("PWD", pwd)
            .arg(compiler)
            .args(args));
        assert_success(&output, &format!("sccache {compiler} in {link}"));
        let plain = run(Command::new(compiler)
            .current_dir(&link_path)
            .env("PWD", pwd)
            .args(["-g", "-c", "util.c", "-o", "plain.o"]));
        assert_success(&plain, "plain");
        assert_same_file(&root.path().join("util.o"), &root.path().join("plain.o"));
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_hits.counts.C/C++") >= 1
        });
    }
}
