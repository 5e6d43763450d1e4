//! Debug info's columns: with `-g` the line tables record the column of each statement, which
//! whitespace in the middle of a line moves while the preprocessed text (which collapses it)
//! stays the same. A hit must still be what the compiler would write for the files as they
//! are on disk.

use crate::harness::{assert_same_file, assert_success, count, fixture, have, run, Server};
use std::process::Command;

#[test]
fn whitespace_inside_a_line_changes_a_debug_object_and_misses() {
    let server = Server::start();
    let dir = fixture("c");
    let mut compilers = vec!["gcc"];
    if have("clang") {
        compilers.push("clang");
    }
    let header =
        |spaces: &str| format!("static inline int twice(int a) {{ return{spaces}a + a; }}\n");
    let mut expected_misses = 0;
    for compiler in compilers {
        for (file, text) in [
            ("w.h", header(" ")),
            ("w.h", header("        ")),
            ("w.h", header(" ")),
        ] {
            std::fs::write(dir.path().join(file), text).unwrap_or_default();
            std::fs::write(
                dir.path().join("d.c"),
                "#include \"w.h\"\nint f(int x) { return twice(x); }\n",
            )
            .unwrap_or_default();
            let args = ["-g", "-c", "d.c", "-o", "d.o"];
            assert_success(&server.compile(dir.path(), compiler, &args), compiler);
            let plain = run(Command::new(compiler)
                .current_dir(dir.path())
                .args(["-g", "-c", "d.c", "-o", "plain.o"]));
            assert_success(&plain, "plain compile");
            assert_same_file(&dir.path().join("d.o"), &dir.path().join("plain.o"));
            server.wait_for_stats(|stats| {
                count(stats, "cache_writes") + count(stats, "cache_hits.counts.C/C++") >= 1
            });
        }
        // The first two differ only in whitespace: two misses; the third is the first again.
        expected_misses += 2;
        let stats = server.stats();
        assert_eq!(
            count(&stats, "cache_misses.counts.C/C++"),
            expected_misses,
            "{stats:#}"
        );
    }
}
