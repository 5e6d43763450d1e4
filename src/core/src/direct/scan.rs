//! What in a compile makes its result unfit for direct mode, found without a preprocessor:
//! flags that name files the preprocessor reads outside its include searches (or whose
//! reads the line markers do not show), and, in the raw bytes of each file read, the macros
//! whose value is not in any file (`__TIME__`, `__DATE__`, `__TIMESTAMP__`), `#embed`, and the
//! `__has_include` arguments the include searches must also cover.
//!
//! A refusal here only turns direct mode off for the compile (it takes the preprocessor path,
//! which is always right); it never makes a compile uncacheable.

use memchr::memmem;
use std::ffi::OsString;

/// Flags after which direct mode is refused: their files are read by the preprocessor or
/// driver in ways line markers do not list (a precompiled header, `-imacros`), or they name
/// programs, specs or plugins whose reads nobody enumerates.
const REFUSED_FLAG_PREFIXES: &[&str] = &[
    "-include-pch",
    "-fpch-preprocess",
    "-imacros",
    "-B",
    "-specs",
    "--specs",
    "-fplugin",
    "-save-temps",
    "--save-temps",
    "-fprofile-use",
    "-fprofile-sample-use",
    "-fprofile-instr-use",
    "-fsanitize-ignorelist",
    "-fsanitize-blacklist",
    "-fsanitize-system-ignorelist",
    "-ivfsoverlay",
    "-index-header-map",
    "-fsanitize-coverage-allowlist",
    "-fsanitize-coverage-ignorelist",
    "-fprofile-list",
    "-Xpreprocessor",
    "-Wp,",
    "-Xclang",
    "--embed-dir",
    "-iwithprefix",
    "-iprefix",
    "-fmodules",
    "-fmodule-file",
    "-fmodule-map-file",
    "-fdepfile-entry",
    "--config",
];

/// Why direct mode is refused for this command line, if it is.
pub fn refusal_in_args(args: &[OsString]) -> Option<&'static str> {
    for arg in args {
        let bytes = arg.as_encoded_bytes();
        if bytes.first() == Some(&b'@') {
            return Some("response file");
        }
        let Some(text) = arg.to_str() else {
            continue;
        };
        if let Some(prefix) = REFUSED_FLAG_PREFIXES
            .iter()
            .find(|prefix| text.starts_with(**prefix))
        {
            return Some(prefix_reason(prefix));
        }
    }
    None
}

fn prefix_reason(prefix: &str) -> &'static str {
    match prefix {
        "-include-pch" | "-fpch-preprocess" => "precompiled header",
        "-B" | "-specs" | "--specs" | "--config" => "driver files",
        "-fplugin" => "plugin",
        _ => "flag naming a file",
    }
}

/// What the raw bytes of one file read tell direct mode.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeaderScan {
    /// Why the result cannot be recorded, if it cannot.
    pub refusal: Option<&'static str>,
    /// The names `__has_include`/`__has_include_next` ask about and `#include`,
    /// `#include_next` and `#import` name, as spelled.
    pub asked: Vec<Vec<u8>>,
    /// Whether an `#include` names its file by a macro.
    pub computed_include: bool,
    /// Whether the file says `#pragma once`: gcc then skips, without a line marker, another
    /// file of the same size, modification second and contents.
    pub pragma_once: bool,
}

/// Scans a file the preprocessor read.
pub fn scan_header(bytes: &[u8]) -> HeaderScan {
    let mut scan = HeaderScan::default();
    for (token, reason) in [
        (&b"__TIME__"[..], "__TIME__"),
        (b"__DATE__", "__DATE__"),
        (b"__TIMESTAMP__", "__TIMESTAMP__"),
        (b"__has_embed", "#embed"),
    ] {
        if memmem::find(bytes, token).is_some() {
            scan.refusal = Some(reason);
            return scan;
        }
    }
    if memmem::find_iter(bytes, b"embed").any(|at| is_directive(bytes, at)) {
        scan.refusal = Some("#embed");
        return scan;
    }
    for at in memmem::find_iter(bytes, b"__has_include") {
        match has_include_argument(&bytes[at + b"__has_include".len()..]) {
            Argument::NotACall => {}
            Argument::Literal(name) => scan.asked.push(name.to_vec()),
            Argument::Computed => {
                scan.refusal = Some("computed __has_include");
                return scan;
            }
        }
    }
    for at in memmem::find_iter(bytes, b"include").chain(memmem::find_iter(bytes, b"import")) {
        if !is_directive(bytes, at) {
            continue;
        }
        let rest = skip_identifier(&bytes[at..]);
        let rest = skip_blanks(rest);
        match literal(rest) {
            Some(name) => scan.asked.push(name.to_vec()),
            None => scan.computed_include = true,
        }
    }
    scan.pragma_once = memmem::find_iter(bytes, b"once").any(|at| {
        let before = bytes[..at].trim_ascii_end();
        before.ends_with(b"pragma") && is_directive(bytes, before.len() - b"pragma".len())
    });
    scan
}

/// A `"name"` or `<name>` at the start of `rest`.
fn literal(rest: &[u8]) -> Option<&[u8]> {
    let close = match rest.first() {
        Some(b'<') => b'>',
        Some(b'"') => b'"',
        _ => return None,
    };
    let end = rest[1..]
        .iter()
        .position(|byte| *byte == close || *byte == b'\n')?;
    (rest[1 + end] == close).then(|| &rest[1..1 + end])
}

/// Whether the word at `at` follows a `#` (and blanks) at the start of a directive.
fn is_directive(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at]
        .iter()
        .rev()
        .find(|byte| !matches!(byte, b' ' | b'\t'));
    before == Some(&b'#')
}

enum Argument<'a> {
    NotACall,
    Literal(&'a [u8]),
    Computed,
}

/// The argument of a `__has_include` (or `__has_include_next`) whose name ended just before
/// `rest`.
fn has_include_argument(rest: &[u8]) -> Argument<'_> {
    let rest = skip_identifier(rest);
    let rest = skip_blanks(rest);
    let Some(rest) = rest.strip_prefix(b"(") else {
        // `#ifdef __has_include`, `defined(__has_include)`: asks about the operator.
        return Argument::NotACall;
    };
    let rest = skip_blanks(rest);
    match literal(rest) {
        Some(name) => Argument::Literal(name),
        None => Argument::Computed,
    }
}

fn skip_identifier(rest: &[u8]) -> &[u8] {
    let end = rest
        .iter()
        .position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_'))
        .unwrap_or(rest.len());
    &rest[end..]
}

fn skip_blanks(rest: &[u8]) -> &[u8] {
    let end = rest
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\\'))
        .unwrap_or(rest.len());
    &rest[end..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_macros_and_computed_has_include_refuse_and_literals_are_listed() {
        assert_eq!(
            scan_header(b"const char *t = __TIME__;").refusal,
            Some("__TIME__")
        );
        assert_eq!(scan_header(b"# embed \"x.bin\"").refusal, Some("#embed"));
        assert_eq!(scan_header(b"int embedded;").refusal, None);
        let scan = scan_header(
            b"#ifdef __has_include\n#if __has_include(<a/b.h>) || __has_include_next (\"c.h\")\n",
        );
        assert_eq!(scan.refusal, None);
        assert_eq!(scan.asked, [b"a/b.h".to_vec(), b"c.h".to_vec()]);
        let scan = scan_header(b"# include <x/y.h>\n#include_next \"z.h\"\n#include NAME\n");
        assert_eq!(scan.asked, [b"x/y.h".to_vec(), b"z.h".to_vec()]);
        assert!(scan.computed_include && !scan.pragma_once);
        assert!(scan_header(b"#  pragma   once\n").pragma_once);
        assert_eq!(
            scan_header(b"#define H(x) __has_include(x)").refusal,
            Some("computed __has_include")
        );
    }

    #[test]
    fn flags_naming_unlisted_files_refuse() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(refusal_in_args(&args(&["-c", "a.c", "-Iinc"])), None);
        assert_eq!(
            refusal_in_args(&args(&["-include-pch", "x.pch"])),
            Some("precompiled header")
        );
        assert_eq!(
            refusal_in_args(&args(&["-imacros", "m.h"])),
            Some("flag naming a file")
        );
        assert_eq!(refusal_in_args(&args(&["@rsp"])), Some("response file"));
    }
}
