//! Tests of `@file` response files: recursive expansion, problems and splitting.

use super::*;
use crate::compiler::gcc::response_file::split_response_file;

#[test]
fn response_files_expand_recursively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("args.rsp"),
        "-c 'my file.c' -D\"A=1 2\" -DB=a\\ b\n\t@inner.rsp -Iq\\'d",
    )
    .unwrap();
    std::fs::write(dir.path().join("inner.rsp"), "-o out.o -O2").unwrap();
    let c = match parse_in(&["-Wall", "@args.rsp"], dir.path()) {
        Parsed::Cacheable(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(c.input, "my file.c");
    assert_eq!(output(&c, OutputRole::Object), Some("out.o"));
    assert_eq!(
        strs(&c.key_args),
        ["-Wall", "-DA=1 2", "-DB=a b", "-O2", "-Iq'd"]
    );
    // The empty quoted word is an argument of its own, which here is a second input.
    std::fs::write(dir.path().join("e.rsp"), "-c f.c ''").unwrap();
    assert_eq!(
        parse_in(&["@e.rsp"], dir.path()),
        Parsed::NotCacheable("multiple input files".into())
    );
}

#[test]
fn response_file_problems() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        parse_in(&["-c", "f.c", "@missing.rsp"], dir.path()),
        Parsed::NotCacheable("unreadable @file".into())
    );
    std::fs::write(dir.path().join("loop.rsp"), "-c f.c @loop.rsp").unwrap();
    assert_eq!(
        parse_in(&["@loop.rsp"], dir.path()),
        Parsed::NotCacheable("@file nesting too deep".into())
    );
}

/// A FIFO as a response file would block its reader until something writes to it (and the
/// compiler would read it a second time): it is refused without being opened.
#[test]
fn response_file_that_is_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("args.fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        parse_in(&["-c", "f.c", "@args.fifo"], dir.path()),
        Parsed::NotCacheable("unreadable @file".into())
    );
    assert_eq!(
        parse_in(&["-c", "f.c", "@/dev/null"], dir.path()),
        Parsed::NotCacheable("unreadable @file".into())
    );
}

#[test]
fn response_file_splitting() {
    let words = split_response_file(b"  a\\\"b \"c d\" 'e \\' f' \"\\\"\" g\\\n\\").unwrap();
    assert_eq!(strs(&words), ["a\"b", "c d", "e ' f", "\"", "g\n"]);
    assert!(split_response_file(b" \n\t ").unwrap().is_empty());
}
