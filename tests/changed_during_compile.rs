//! A file read by the preprocessor that changes before the compile reads it again (issue 16,
//! item 6): the result must not be stored under the old text's key.

use crate::harness::{
    assert_outcomes_add_up, assert_same_file, assert_success, compile_through_wrapper, count,
    fixture, run, Server,
};
use std::process::Command;

#[test]
fn a_header_edited_during_the_compile_is_not_stored_under_the_old_key() {
    let server = Server::start();
    let dir = fixture("c");
    // This "gcc" edits util.h after the preprocessor's run, before the compile reads it.
    let text = r#"#!/bin/sh
case " $* " in
  *" -E "*) ;;
  *) if [ -n "$EDIT_DURING" ]; then sed -i 's/UTIL_BASE 39/UTIL_BASE 41/' util.h; fi ;;
esac
exec gcc "$@"
"#;
    let header = dir.path().join("util.h");
    let original = std::fs::read(&header).unwrap();
    // A first compile, so that the compiler's probe is done before the edit is asked for.
    assert_success(
        &compile_through_wrapper(&server, dir.path(), text, &[]),
        "first compile",
    );
    std::fs::remove_file(dir.path().join("util.o")).unwrap();
    let with_39 = String::from_utf8(original.clone())
        .unwrap()
        .replace("UTIL_BASE 40", "UTIL_BASE 39");
    std::fs::write(&header, &with_39).unwrap();
    let edited = compile_through_wrapper(&server, dir.path(), text, &[("EDIT_DURING", "1")]);
    assert_success(&edited, "the compile during which util.h changes");
    // The edit is reverted; the header is what the key was taken from again.
    std::fs::write(&header, &with_39).unwrap();
    let stats = server
        .wait_for_stats(|stats| count(stats, "inputs_changed") + count(stats, "cache_writes") >= 2);
    assert_eq!(count(&stats, "inputs_changed"), 1, "{stats:#}");
    assert_success(
        &compile_through_wrapper(&server, dir.path(), text, &[]),
        "the compile after the revert",
    );
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "util.c", "-o", "plain.o"]));
    assert_success(&plain, "plain gcc");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_outcomes_add_up(&stats);
    std::fs::write(&header, original).unwrap();
}
