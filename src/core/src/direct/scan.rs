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
    // gcc's `-remap`: a `header.gcc` in any search directory maps names to other files.
    "-remap",
];

/// Input charsets whose bytes spell the directives as ASCII does (UTF-8 is the compilers'
/// default): any other (UTF-16, UTF-32, EBCDIC) hides them from the scan.
const ASCII_COMPATIBLE_CHARSETS: &[&str] = &[
    "utf-8",
    "utf8",
    "ascii",
    "us-ascii",
    "ansi_x3.4-1968",
    "iso-8859-",
    "iso8859-",
    "iso_8859-",
    "latin",
    "cp125",
    "windows-125",
];

/// Words that, in a macro the command line defines (`-DSTAMP=__TIME__`,
/// `-DHAVE=__has_include(<x.h>)`), make the preprocessor's output depend on something no
/// file read holds: the clock, the include searches of its arguments, a pragma.
const REFUSED_IN_DEFINITIONS: &[&str] = &[
    "__TIME__",
    "__DATE__",
    "__TIMESTAMP__",
    "__has_include",
    "__has_embed",
    "_Pragma",
    "__pragma",
];

/// Why direct mode is refused for this command line, if it is.
pub fn refusal_in_args(args: &[OsString]) -> Option<&'static str> {
    for arg in args {
        let bytes = arg.as_encoded_bytes();
        if bytes.first() == Some(&b'@') {
            return Some("response file");
        }
        if REFUSED_IN_DEFINITIONS
            .iter()
            .any(|word| memmem::find(bytes, word.as_bytes()).is_some())
        {
            // Any argument: a `-D` value, or the macro of one spelled apart (`-D NAME=...`).
            return Some("clock or operator in a command-line macro");
        }
        let Some(text) = arg.to_str() else {
            continue;
        };
        if let Some(charset) = text.strip_prefix("-finput-charset") {
            let charset = charset.trim_start_matches('=').to_ascii_lowercase();
            if !ASCII_COMPATIBLE_CHARSETS
                .iter()
                .any(|known| charset.starts_with(known))
            {
                return Some("source encoding");
            }
        }
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
        "-remap" => "header remapping",
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
    /// Macros this file defines as the `__has_include` (or `__has_include_next`) operator
    /// itself; what they ask is found by `alias_uses`.
    pub aliases: Vec<Vec<u8>>,
    /// Whether the file says `#pragma once` or `#import`s a file: gcc then skips, without a
    /// line marker, another file of the same size, modification second and contents.
    pub pragma_once: bool,
}

/// Scans a file the preprocessor read: its text with lines spliced as the preprocessor splices
/// them (`splice_lines`), and for what must not count when it is only in a comment, the same
/// text with its comments blanked out (`blank_comments`).
pub fn scan_header(raw: &[u8]) -> HeaderScan {
    let mut scan = HeaderScan::default();
    if memmem::find(raw, b"??/").is_some() || memmem::find(raw, b"??=").is_some() {
        // With trigraphs on (`-trigraphs`, any `-std=c..`), `??/` is a backslash, which can
        // splice a line where this scan would not, and `??=` a `#`, which can start a
        // directive (`??=pragma once`) this scan would not see.
        scan.refusal = Some("trigraph");
        return scan;
    }
    let bytes = &splice_lines(raw)[..];
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
    let code = blank_comments(bytes);
    if names_a_file_by_line(&code) {
        // The compiler quotes a diagnostic's source line from the file a `#line` names, which
        // the line markers name but nothing reads: not in any record.
        scan.refusal = Some("#line naming a file");
        return scan;
    }
    for text in [bytes, &code[..]] {
        if memmem::find_iter(text, b"embed").any(|at| is_directive(text, at)) {
            scan.refusal = Some("#embed");
            return scan;
        }
        if memmem::find_iter(text, b"dependency").any(|at| follows_word(text, at, b"GCC")) {
            // `#pragma GCC dependency`: a diagnostic by the files' modification times.
            scan.refusal = Some("#pragma GCC dependency");
            return scan;
        }
    }
    for at in memmem::find_iter(bytes, b"__has_include") {
        if code[at] == b' ' {
            continue; // in a comment
        }
        match has_include_argument(&bytes[at + b"__has_include".len()..]) {
            Argument::Literal(name) => scan.asked.push(name.to_vec()),
            Argument::Computed => {
                scan.refusal = Some("computed __has_include");
                return scan;
            }
            // Asking whether the operator exists: nothing is looked up.
            Argument::NotACall if asks_if_defined(&code, at) => {}
            Argument::NotACall => match alias_defined(&code, at) {
                // `#define HAS __has_include` (xxhash.h's way): its uses, in any file, are
                // looked for once every file is scanned (`alias_uses`).
                Some(alias) => scan.aliases.push(alias.to_vec()),
                // The operator passed to a macro, or some other spelling: it asks about
                // names this scan does not see.
                None => {
                    scan.refusal = Some("__has_include by another name");
                    return scan;
                }
            },
        }
    }
    // The text as it is gives spellings in comments too (more candidates, harmless); a
    // directive with no literal counts only outside comments (`stdio.h` says "previously
    // #included." in one).
    for (text, in_code) in [(bytes, false), (&code[..], true)] {
        for at in memmem::find_iter(text, b"include").chain(memmem::find_iter(text, b"import")) {
            if !is_directive(text, at) {
                continue;
            }
            // An `#import`ed file is included once, as under `#pragma once`.
            scan.pragma_once |= text[at..].starts_with(b"import");
            let rest = skip_identifier(&text[at..]);
            let rest = skip_blanks(rest);
            match literal(rest) {
                Some(name) if !scan.asked.iter().any(|asked| asked == name) => {
                    scan.asked.push(name.to_vec())
                }
                Some(_) => {}
                None => scan.computed_include |= in_code,
            }
        }
        scan.pragma_once |= memmem::find_iter(text, b"once").any(|at| {
            let before = text[..at].trim_blanks_end();
            before.ends_with(b"pragma") && is_directive(text, before.len() - b"pragma".len())
        });
    }
    // `_Pragma("once")`, `__pragma(once)`, or one a macro writes: any pragma operator in a
    // file that spells the word is taken for one.
    scan.pragma_once |= (memmem::find(bytes, b"_Pragma").is_some()
        || memmem::find(bytes, b"__pragma").is_some())
        && memmem::find(bytes, b"once").is_some();
    scan
}

/// The names the macros `aliases` (each defined as the `__has_include` operator somewhere in
/// the compile, `HeaderScan::aliases`) ask about in the file `raw`, or why they cannot be
/// known: a use whose argument is no literal, or a use other than a call, `defined`, `#ifdef`
/// or a definition of the name.
pub fn alias_uses(raw: &[u8], aliases: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, &'static str> {
    let bytes = &splice_lines(raw)[..];
    let code = blank_comments(bytes);
    let mut asked = Vec::new();
    for alias in aliases {
        for at in memmem::find_iter(bytes, alias) {
            let after = &bytes[at + alias.len()..];
            let whole_word = !is_identifier_byte(after.first())
                && !is_identifier_byte(at.checked_sub(1).map(|before| &bytes[before]));
            if !whole_word || code[at] == b' ' || asks_if_defined(&code, at) {
                continue;
            }
            let before = code[..at].trim_blanks_end();
            if ["define", "undef"].iter().any(|word| {
                before.ends_with(word.as_bytes()) && is_directive(before, before.len() - word.len())
            }) {
                continue; // the name being (re)defined
            }
            match has_include_argument(after) {
                Argument::Literal(name) => asked.push(name.to_vec()),
                Argument::Computed => return Err("computed __has_include"),
                Argument::NotACall => return Err("__has_include by another name"),
            }
        }
    }
    Ok(asked)
}

/// The name of the object-like macro that the `__has_include` at `at` is the whole
/// definition of (`#define NAME __has_include`), if it is.
fn alias_defined(code: &[u8], at: usize) -> Option<&[u8]> {
    let after = skip_identifier(&code[at..]);
    let line_end = after
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap_or(after.len());
    if !after[..line_end].trim_blanks().is_empty() {
        return None;
    }
    let before = code[..at].trim_blanks_end();
    let start = before
        .iter()
        .rposition(|byte| !is_identifier_byte(Some(byte)))
        .map_or(0, |end| end + 1);
    let name = &before[start..];
    let directive = before[..start].trim_blanks_end();
    (!name.is_empty()
        && directive.ends_with(b"define")
        && is_directive(directive, directive.len() - b"define".len()))
    .then_some(name)
}

fn is_identifier_byte(byte: Option<&u8>) -> bool {
    byte.is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
}

/// `bytes` with every backslash-newline removed (blanks between the two included, as gcc
/// allows), so that a name split over lines is found whole.
fn splice_lines(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'\\', bytes).is_none() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut spliced = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'\\' {
            let mut end = at + 1;
            while end < bytes.len() && matches!(bytes[end], b' ' | b'\t' | b'\x0b' | b'\x0c') {
                end += 1;
            }
            let newline = match bytes.get(end..) {
                Some([b'\r', b'\n', ..]) => 2,
                Some([b'\n' | b'\r', ..]) => 1,
                _ => 0,
            };
            if newline > 0 {
                at = end + newline;
                continue;
            }
        }
        spliced.push(bytes[at]);
        at += 1;
    }
    std::borrow::Cow::Owned(spliced)
}

/// `bytes` (spliced) with each comment's bytes turned to spaces (newlines kept), as long as
/// `bytes`: string and character literals (raw strings too) are kept, so that what looks
/// like a comment inside one stays.
fn blank_comments(bytes: &[u8]) -> Vec<u8> {
    let mut code = bytes.to_vec();
    let mut at = 0;
    while at < bytes.len() {
        // Most bytes start nothing: on to the next that may.
        match memchr::memchr3(b'/', b'"', b'\'', &bytes[at..]) {
            Some(skip) => at += skip,
            None => break,
        }
        match bytes[at] {
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
                code[at..end].fill(b' ');
                at = end;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                let end =
                    memmem::find(&bytes[at + 2..], b"*/").map_or(bytes.len(), |n| at + 2 + n + 2);
                for byte in &mut code[at..end] {
                    if *byte != b'\n' {
                        *byte = b' ';
                    }
                }
                at = end;
            }
            b'"' if at > 0 && bytes[at - 1] == b'R' => at = after_raw_string(bytes, at),
            quote @ (b'"' | b'\'') => at = after_literal(bytes, at, quote),
            _ => at += 1,
        }
    }
    code
}

/// Where a `"..."` or `'...'` literal that opens at `at` ends: after its closing quote, or at
/// the end of its line (an unterminated one, or an apostrophe that was no literal).
fn after_literal(bytes: &[u8], at: usize, quote: u8) -> usize {
    let mut end = at + 1;
    while end < bytes.len() {
        match bytes[end] {
            b'\\' => end += 2,
            b'\n' => return end,
            byte if byte == quote => return end + 1,
            _ => end += 1,
        }
    }
    bytes.len()
}

/// Where a raw string `R"delim(...)delim"` whose quote is at `at` ends; a malformed one ends
/// at its quote (read on as ordinary text).
fn after_raw_string(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at + 1..];
    let Some(open) = rest.iter().take(17).position(|byte| *byte == b'(') else {
        return at + 1;
    };
    let mut close = vec![b')'];
    close.extend_from_slice(&rest[..open]);
    close.push(b'"');
    memmem::find(&rest[open..], &close).map_or(bytes.len(), |n| at + 1 + open + n + close.len())
}

/// Whether a `#line` directive (or its GNU form, `# 12 "name"`) may name a file: one with a
/// string, or with anything but a number (a macro may expand to a name).
fn names_a_file_by_line(code: &[u8]) -> bool {
    code.split(|byte| *byte == b'\n').any(|line| {
        let line = line.trim_ascii_start();
        let Some(rest) = line.strip_prefix(b"#").or_else(|| line.strip_prefix(b"%:")) else {
            return false;
        };
        let rest = rest.trim_ascii_start();
        let rest = match rest.strip_prefix(b"line") {
            Some(after) if !is_identifier_byte(after.first()) => after.trim_blanks(),
            Some(_) => return false,
            None if rest.first().is_some_and(u8::is_ascii_digit) => rest.trim_blanks(),
            None => return false,
        };
        !rest.iter().all(u8::is_ascii_digit)
    })
}

/// Whether the word ending just before blanks before `at` is `word` (a whole identifier).
fn follows_word(text: &[u8], at: usize, word: &[u8]) -> bool {
    let before = text[..at].trim_blanks_end();
    before.ends_with(word)
        && before[..before.len() - word.len()]
            .last()
            .is_none_or(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'_'))
}

/// Whether the `__has_include` at `at` is the operand of `defined` (`defined __has_include`,
/// `defined(__has_include)`) or of `#ifdef`, `#ifndef`, `#elifdef`, `#elifndef`.
fn asks_if_defined(code: &[u8], at: usize) -> bool {
    let before = code[..at].trim_blanks_end();
    let before = before
        .strip_suffix(b"(")
        .unwrap_or(before)
        .trim_blanks_end();
    let directive =
        |word: &[u8]| before.ends_with(word) && is_directive(before, before.len() - word.len());
    follows_word(before, before.len(), b"defined")
        || [&b"ifdef"[..], b"ifndef", b"elifdef", b"elifndef"]
            .into_iter()
            .any(directive)
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

/// Whether the word at `at` follows a `#` or its digraph `%:` (and blanks) at the start of a
/// directive.
fn is_directive(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at].trim_blanks_end();
    before.ends_with(b"#") || before.ends_with(b"%:")
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
        .position(|byte| !(is_blank(*byte) || *byte == b'\\'))
        .unwrap_or(rest.len());
    &rest[end..]
}

/// `trim_ascii_end` and `trim_ascii` with the vertical tab too, which the preprocessor takes
/// for a blank in a directive (and `u8::is_ascii_whitespace` does not).
trait TrimBlanks {
    fn trim_blanks_end(&self) -> &Self;
    fn trim_blanks(&self) -> &Self;
}

impl TrimBlanks for [u8] {
    fn trim_blanks_end(&self) -> &[u8] {
        let end = self
            .iter()
            .rposition(|byte| !is_blank(*byte))
            .map_or(0, |at| at + 1);
        &self[..end]
    }

    fn trim_blanks(&self) -> &[u8] {
        let start = self
            .iter()
            .position(|byte| !is_blank(*byte))
            .unwrap_or(self.len());
        self[start..].trim_blanks_end()
    }
}

fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
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
    fn the_operator_by_another_name_or_over_lines_is_seen() {
        // gcc and clang splice lines before anything else.
        let scan = scan_header(b"#if __has_\\\ninclude(\"config.h\")\n#endif\n");
        assert_eq!(
            (scan.refusal, scan.asked),
            (None, vec![b"config.h".to_vec()])
        );
        // A macro defined as the operator: its uses are read in every file.
        let scan = scan_header(
            b"#ifndef HAS\n# ifdef __has_include\n/* not HAS(x) */\n#  define HAS __has_include\n\
              # else\n#  define HAS(x) 0\n# endif\n#endif\n#if HAS(<a.h>)\n#endif\n",
        );
        assert_eq!(
            (scan.refusal, &scan.aliases[..]),
            (None, &[b"HAS".to_vec()][..])
        );
        let aliases = [b"HAS".to_vec()];
        assert_eq!(
            alias_uses(
                b"#if defined(HAS) && HAS(<a.h>) || HAS (\"b.h\")\nint HASH;",
                &aliases
            ),
            Ok(vec![b"a.h".to_vec(), b"b.h".to_vec()])
        );
        assert_eq!(
            alias_uses(b"#if HAS(NAME)\n", &aliases),
            Err("computed __has_include")
        );
        assert_eq!(
            alias_uses(b"#define H2 HAS\n", &aliases),
            Err("__has_include by another name")
        );
        // Any other spelling asks about names written elsewhere.
        for text in [
            &b"#define MY_HAS_INCLUDE __has_include || 1\n"[..],
            b"#if CALL(__has_include, \"c.h\")\n",
            b"#if __has_include /* why */ (\"c.h\")\n",
        ] {
            assert_eq!(
                scan_header(text).refusal,
                Some("__has_include by another name")
            );
        }
        // Asking whether it exists, or naming it in a comment, asks about no file.
        for text in [
            &b"#ifdef __has_include\n#endif\n"[..],
            b"#if defined ( __has_include ) && defined __has_include_next\n#endif\n",
            b"#elifndef __has_include\n",
            b"/* a __has_include argument (GCC PR 80005) */\n#endif // __has_include\n",
        ] {
            let scan = scan_header(text);
            assert_eq!((scan.refusal, scan.asked.len()), (None, 0), "{text:?}");
        }
        // A raw string is no comment's start, nor a comment in it its end.
        let text = b"const char *s = R\"x(/* )x\";\n#define H __has_include\n";
        assert_eq!(scan_header(text).aliases, [b"H".to_vec()]);
        assert_eq!(scan_header(b"int a = 1??/\n2;").refusal, Some("trigraph"));
    }

    #[test]
    fn pragma_gcc_dependency_refuses() {
        for text in [
            &b"#pragma GCC dependency \"parse.y\"\n"[..],
            b"#pragma GCC /* c */ dependency \"parse.y\"\n",
            b"_Pragma(\"GCC dependency \\\"parse.y\\\"\")\n",
            b"#pragma GCC \\\ndependency \"parse.y\"\n",
        ] {
            assert_eq!(
                scan_header(text).refusal,
                Some("#pragma GCC dependency"),
                "{text:?}"
            );
        }
        assert_eq!(
            scan_header(b"int dependency; int MYGCC dependency2;").refusal,
            None
        );
    }

    #[test]
    fn digraphs_pragma_operators_and_line_names_are_seen() {
        let scan = scan_header(b"%:include \"a.h\"\n%: pragma once\n");
        assert_eq!(
            (scan.asked, scan.pragma_once),
            (vec![b"a.h".to_vec()], true)
        );
        assert!(scan_header(b"_Pragma(\"once\")\n").pragma_once);
        assert!(scan_header(b"%:import <b.h>\n").pragma_once);
        for text in [
            &b"#line 1 \"parser.y\"\n"[..],
            b"# 7 \"x.y\" 2\n",
            b"#line N\n",
        ] {
            assert_eq!(
                scan_header(text).refusal,
                Some("#line naming a file"),
                "{text:?}"
            );
        }
        assert_eq!(scan_header(b"#line 12\n#lineup\n").refusal, None);
        let args: Vec<OsString> = ["-c", "a.c", "-DSTAMP=__TIME__"].map(OsString::from).into();
        assert_eq!(
            refusal_in_args(&args),
            Some("clock or operator in a command-line macro")
        );
    }

    #[test]
    fn a_directive_spelled_around_a_comment_is_read() {
        let scan = scan_header(b"# /* c */ include_next <x.h>\n# /**/ pragma /**/ once\n");
        assert_eq!(scan.asked, [b"x.h".to_vec()]);
        assert!(scan.pragma_once);
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
        for (flag, reason) in [
            ("-remap", "header remapping"),
            ("-finput-charset=UTF-16LE", "source encoding"),
            ("-finput-charset=IBM037", "source encoding"),
            ("-finput-charset", "source encoding"),
        ] {
            assert_eq!(refusal_in_args(&args(&["-c", "a.c", flag])), Some(reason));
        }
        for flag in ["-finput-charset=UTF-8", "-finput-charset=iso-8859-1"] {
            assert_eq!(refusal_in_args(&args(&["-c", "a.c", flag])), None, "{flag}");
        }
    }

    /// A vertical tab or form feed is a blank in a directive, and `??=` a `#` with trigraphs
    /// on: a `#pragma once` or `#include` spelled with them is seen (or refused).
    #[test]
    fn directives_spelled_with_other_blanks_or_trigraphs_are_seen() {
        for text in [&b"#\x0bpragma once\n"[..], b"#\x0cpragma\x0bonce\n"] {
            assert!(scan_header(text).pragma_once, "{text:?}");
        }
        let scan = scan_header(b"#\x0binclude\x0b<v.h>\n");
        assert_eq!(scan.asked, [b"v.h".to_vec()]);
        assert!(!scan.computed_include);
        assert_eq!(scan_header(b"??=pragma once\n").refusal, Some("trigraph"));
    }

    /// A directive without a literal in a comment (`stdio.h`: "previously #included.") is no
    /// computed include; one in the code is.
    #[test]
    fn an_include_word_in_a_comment_is_no_computed_include() {
        let scan = scan_header(b"/* Once previously #included. */\n// #include_next through\n");
        assert!(!scan.computed_include);
        assert!(scan_header(b"#include HEADER\n").computed_include);
        assert!(scan_header(b"/* c */ #include HEADER /* d */\n").computed_include);
    }
}
