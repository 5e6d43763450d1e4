//! The spelling of rustc's options: the table of options this parser understands and the
//! resolution of each argument into a `Tok` the way rustc's getopts reads it.
//!
//! It only resolves spellings; what an option means to the cache is `scan`'s job. It must not
//! refuse anything itself beyond marking an argument it cannot read as `Tok::Bad`.

use std::ffi::{OsStr, OsString};

/// The options this parser understands: their spellings (the first one is the one the key uses)
/// and whether they take a value. Anything else starting with `-` is an unknown flag.
#[rustfmt::skip]
const OPTIONS: &[(&[&str], bool)] = &[
    (&["--cfg"], true), (&["--check-cfg"], true), (&["-L"], true), (&["-l"], true),
    (&["--crate-type"], true), (&["--crate-name"], true), (&["--edition"], true),
    (&["--emit"], true), (&["--print"], true), (&["-o"], true), (&["--out-dir"], true),
    (&["--explain"], true), (&["--target"], true), (&["--extern"], true), (&["--sysroot"], true),
    (&["-A", "--allow"], true), (&["-W", "--warn"], true), (&["--force-warn"], true),
    (&["-D", "--deny"], true), (&["-F", "--forbid"], true), (&["--cap-lints"], true),
    (&["-C", "--codegen"], true), (&["-Z"], true), (&["--error-format"], true), (&["--json"], true),
    (&["--color"], true), (&["--diagnostic-width"], true), (&["--remap-path-prefix"], true),
    (&["-g"], false), (&["-O"], false), (&["--test"], false), (&["-V", "--version"], false),
    (&["-v", "--verbose"], false), (&["-h", "--help"], false),
];

/// One command-line argument once its spelling is resolved.
#[derive(Debug)]
pub(super) enum Tok {
    /// An option without a value, by its canonical spelling.
    Flag(&'static str),
    /// An option with its value, by its canonical spelling.
    Opt(&'static str, OsString),
    /// A free argument: a source file.
    Input(OsString),
    /// Something that cannot be read with confidence, with the label to refuse it by.
    Bad(&'static str),
}

/// Finds an option by one of its spellings: its canonical spelling and whether it takes a value.
pub(super) fn lookup(name: &str) -> Option<(&'static str, bool)> {
    OPTIONS
        .iter()
        .find(|(names, _)| names.contains(&name))
        .and_then(|(names, takes)| names.first().map(|canon| (*canon, *takes)))
}

/// The part of `s` after its first `n` bytes, which must end on an ASCII character; on Unix
/// non-UTF-8 text survives, elsewhere it gives `None`.
fn os_tail(s: &OsStr, n: usize) -> Option<OsString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        s.as_bytes()
            .get(n..)
            .map(|b| OsStr::from_bytes(b).to_owned())
    }
    #[cfg(not(unix))]
    {
        s.to_str()?.get(n..).map(OsString::from)
    }
}

/// Splits `s` at its first `=` into a UTF-8 head and the tail, which may be any path.
pub(super) fn split_eq(s: &OsStr) -> Option<(&str, OsString)> {
    let bytes = s.as_encoded_bytes();
    let at = bytes.iter().position(|&b| b == b'=')?;
    let head = std::str::from_utf8(bytes.get(..at)?).ok()?;
    Some((head, os_tail(s, at + 1)?))
}

/// Resolves each argument's spelling the way rustc's getopts does: `--name value`,
/// `--name=value`, `-Xvalue`, `-X value` and grouped short flags (`-vV`). Reading goes on past
/// a bad argument so that a later `--print` or `--version` still marks a query.
pub(super) fn tokenize(args: &[OsString]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        let mut take = |canon: &'static str, attached: Option<OsString>| match attached
            .or_else(|| rest.next().cloned())
        {
            Some(value) => Tok::Opt(canon, value),
            None => Tok::Bad("missing value"),
        };
        if bytes == b"--" {
            // Everything after a bare `--` is a free argument.
            toks.extend(rest.by_ref().map(|a| Tok::Input(a.clone())));
        } else if bytes.starts_with(b"--") {
            let (name, attached) = match split_eq(arg) {
                Some((head, tail)) => (Some(head), Some(tail)),
                None => (arg.to_str(), None),
            };
            toks.push(match (name, name.and_then(lookup)) {
                (None, _) => Tok::Bad("non-UTF-8 argument"),
                (Some(_), Some((canon, true))) => take(canon, attached),
                (Some(_), Some((canon, false))) if attached.is_none() => Tok::Flag(canon),
                _ => Tok::Bad("unknown flag"),
            });
        } else if bytes.len() >= 2 && bytes.first() == Some(&b'-') {
            let short = |b: u8| match b.is_ascii() {
                true => lookup(&format!("-{}", b as char)),
                false => None,
            };
            match bytes.get(1).copied().and_then(short) {
                Some((canon, true)) if bytes.len() > 2 => toks.push(match os_tail(arg, 2) {
                    Some(value) => Tok::Opt(canon, value),
                    None => Tok::Bad("non-UTF-8 argument"),
                }),
                Some((canon, true)) => toks.push(take(canon, None)),
                // A run of value-less short flags, such as cargo's `-vV`.
                _ => toks.extend(bytes.iter().skip(1).map(|&b| match short(b) {
                    Some((canon, false)) => Tok::Flag(canon),
                    _ if arg.to_str().is_none() => Tok::Bad("non-UTF-8 argument"),
                    _ => Tok::Bad("unknown flag"),
                })),
            }
        } else if bytes.starts_with(b"@") {
            toks.push(Tok::Bad("@file"));
        } else {
            toks.push(Tok::Input(arg.clone()));
        }
    }
    toks
}
