//! `@file` response files on gcc/clang command lines: expanding them recursively, with a bound
//! on nesting, and splitting their text into arguments as libiberty's `buildargv` does.
//!
//! It reads the files it is named and nothing else; a file it cannot read or split is reported
//! as a refusal, never guessed at.

use std::ffi::OsString;
use std::path::Path;

/// How deep `@file`s may include further `@file`s; deeper nesting is almost surely a loop.
const MAX_RESPONSE_DEPTH: usize = 16;

/// Replaces every `@file` by the arguments in that file, recursively, reading relative paths
/// from `cwd` as gcc does.
pub(super) fn expand_response_files(
    args: &[OsString],
    cwd: &Path,
    depth: usize,
    out: &mut Vec<OsString>,
) -> Result<(), &'static str> {
    for arg in args {
        if arg.as_encoded_bytes().first() != Some(&b'@') {
            out.push(arg.clone());
            continue;
        }
        // A non-UTF-8 `@file` name is refused rather than decoded by hand.
        let path = arg
            .to_str()
            .and_then(|s| s.get(1..))
            .ok_or("unreadable @file")?;
        if depth >= MAX_RESPONSE_DEPTH {
            return Err("@file nesting too deep");
        }
        let bytes = read_regular_file(&cwd.join(path)).ok_or("unreadable @file")?;
        let words = split_response_file(&bytes).ok_or("unreadable @file")?;
        expand_response_files(&words, cwd, depth + 1, out)?;
    }
    Ok(())
}

/// A response file's bytes, when it is a regular file. A FIFO, a terminal or another device
/// could block the reader forever or read differently for the compiler (which reads it again),
/// so anything else is refused.
fn read_regular_file(path: &Path) -> Option<Vec<u8>> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    Some(bytes)
}

/// Splits a response file like libiberty's `buildargv`: whitespace separates arguments, single
/// and double quotes group, and a backslash takes the next character literally, even in quotes.
pub(super) fn split_response_file(bytes: &[u8]) -> Option<Vec<OsString>> {
    let mut words = Vec::new();
    let mut iter = bytes.iter().copied().peekable();
    loop {
        while iter.next_if(u8::is_ascii_whitespace).is_some() || iter.next_if_eq(&0x0b).is_some() {}
        if iter.peek().is_none() {
            return Some(words);
        }
        let (mut word, mut quote, mut escaped) = (Vec::new(), None, false);
        while let Some(c) = iter.peek().copied() {
            if !escaped && quote.is_none() && (c.is_ascii_whitespace() || c == 0x0b) {
                break;
            }
            iter.next();
            match (escaped, quote) {
                (true, _) => {
                    escaped = false;
                    word.push(c);
                }
                (false, _) if c == b'\\' => escaped = true,
                (false, Some(q)) if c == q => quote = None,
                (false, None) if c == b'\'' || c == b'"' => quote = Some(c),
                _ => word.push(c),
            }
        }
        words.push(bytes_to_os(word)?);
    }
}

#[cfg(unix)]
fn bytes_to_os(bytes: Vec<u8>) -> Option<OsString> {
    use std::os::unix::ffi::OsStringExt;
    Some(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn bytes_to_os(bytes: Vec<u8>) -> Option<OsString> {
    String::from_utf8(bytes).ok().map(OsString::from)
}
