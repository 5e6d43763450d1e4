//! The linker command a compile ran, as rustc prints it (`--print link-args=FILE`), read into
//! what it makes the linker look for: the libraries by name, the search directories, the
//! files it names.
//!
//! rustc prints the command as Rust's `Debug` of a `Command`: variables first
//! (`NAME="value"`, maybe after `env -u NAME` or `cd "dir" &&`), then the program and every
//! argument, each quoted, with `Debug`'s escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\0`, `\'`,
//! `\xNN` for a byte that is no UTF-8, `\u{...}`). Anything else is refused: the caller then
//! stores nothing rather than guess.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStringExt;

/// Why a printed command could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkArgsError {
    /// A quoted word without its closing quote, or text between words.
    Malformed,
    /// An escape `Debug` does not write.
    UnknownEscape,
    /// No program.
    Empty,
    /// More than one command (a compile that linked twice).
    SeveralCommands,
}

impl fmt::Display for LinkArgsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            LinkArgsError::Malformed => "printed link command malformed",
            LinkArgsError::UnknownEscape => "printed link command has an unknown escape",
            LinkArgsError::Empty => "printed link command empty",
            LinkArgsError::SeveralCommands => "more than one link command printed",
        })
    }
}

impl std::error::Error for LinkArgsError {}

/// What a link command makes the linker look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Linked {
    /// `-lNAME` (`false`) and `-l:NAME` (`true`: a file of exactly that name), as the driver or
    /// the linker is handed them (`-Wl,` words split).
    pub libs: Vec<(OsString, bool)>,
    /// `-L` directories, as written.
    pub dirs: Vec<OsString>,
    /// `-B` directories (the driver's programs: rustc's own `gcc-ld`).
    pub program_dirs: Vec<OsString>,
    /// Every word that is no option nor an option's known value: objects, archives, crates,
    /// rustc's temporary files. Which of them are files is for the caller to see.
    pub words: Vec<OsString>,
}

/// The arguments of the one command in `text` (the program first), unquoted.
pub fn read_printed_command(text: &[u8]) -> Result<Vec<OsString>, LinkArgsError> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.contains(&b'\n') {
        return Err(LinkArgsError::SeveralCommands);
    }
    let mut words = Vec::new();
    let mut rest = text;
    let mut seen_program = false;
    loop {
        rest = trim_start(rest);
        if rest.is_empty() {
            break;
        }
        if rest[0] == b'"' {
            let (word, after) = quoted(&rest[1..])?;
            words.push(OsString::from_vec(word));
            seen_program = true;
            rest = after;
            continue;
        }
        if seen_program {
            // After the program every word is quoted.
            return Err(LinkArgsError::Malformed);
        }
        // Before the program: `NAME="value"`, `env`, `-u`, `NAME`, `cd "dir" &&`.
        let end = rest
            .iter()
            .position(|byte| *byte == b' ')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        if word == b"cd" {
            let after = trim_start(&rest[end..]);
            let Some(after) = after.strip_prefix(b"\"") else {
                return Err(LinkArgsError::Malformed);
            };
            let (_, after) = quoted(after)?;
            let after = trim_start(after);
            rest = after.strip_prefix(b"&&").ok_or(LinkArgsError::Malformed)?;
            continue;
        }
        if let Some(eq) = word.iter().position(|byte| *byte == b'=') {
            if !word[..eq]
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
            {
                return Err(LinkArgsError::Malformed);
            }
            let after = &rest[eq + 1..];
            let Some(after) = after.strip_prefix(b"\"") else {
                return Err(LinkArgsError::Malformed);
            };
            let (_, after) = quoted(after)?;
            rest = after;
            continue;
        }
        rest = &rest[end..];
    }
    if words.is_empty() {
        return Err(LinkArgsError::Empty);
    }
    Ok(words)
}

fn trim_start(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|byte| *byte != b' ')
        .unwrap_or(text.len());
    &text[start..]
}

/// The word up to the closing quote (after the opening one), unescaped, and the text after.
fn quoted(text: &[u8]) -> Result<(Vec<u8>, &[u8]), LinkArgsError> {
    let mut word = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match text[at] {
            b'"' => {
                let after = &text[at + 1..];
                if !(after.is_empty() || after[0] == b' ') {
                    return Err(LinkArgsError::Malformed);
                }
                return Ok((word, after));
            }
            b'\\' => {
                let escape = text.get(at + 1).ok_or(LinkArgsError::Malformed)?;
                at += 2;
                match escape {
                    b'"' | b'\\' | b'\'' => word.push(*escape),
                    b'n' => word.push(b'\n'),
                    b't' => word.push(b'\t'),
                    b'r' => word.push(b'\r'),
                    b'0' => word.push(0),
                    b'x' => {
                        let hex = text.get(at..at + 2).ok_or(LinkArgsError::Malformed)?;
                        let hex = std::str::from_utf8(hex).map_err(|_| LinkArgsError::Malformed)?;
                        word.push(
                            u8::from_str_radix(hex, 16).map_err(|_| LinkArgsError::Malformed)?,
                        );
                        at += 2;
                    }
                    b'u' => {
                        let rest = text.get(at..).ok_or(LinkArgsError::Malformed)?;
                        let rest = rest.strip_prefix(b"{").ok_or(LinkArgsError::Malformed)?;
                        let close = rest
                            .iter()
                            .position(|byte| *byte == b'}')
                            .ok_or(LinkArgsError::Malformed)?;
                        let hex = std::str::from_utf8(&rest[..close])
                            .map_err(|_| LinkArgsError::Malformed)?;
                        let code =
                            u32::from_str_radix(hex, 16).map_err(|_| LinkArgsError::Malformed)?;
                        let char = char::from_u32(code).ok_or(LinkArgsError::Malformed)?;
                        let mut buffer = [0; 4];
                        word.extend_from_slice(char.encode_utf8(&mut buffer).as_bytes());
                        at += close + 2;
                    }
                    _ => return Err(LinkArgsError::UnknownEscape),
                }
            }
            byte => {
                word.push(byte);
                at += 1;
            }
        }
    }
    Err(LinkArgsError::Malformed)
}

/// What the link command `args` (the program first, as `read_printed_command` gives them)
/// makes the linker look for. `-o`'s value (the output) is left out.
pub fn linked(args: &[OsString]) -> Linked {
    let mut linked = Linked::default();
    let mut words = args
        .iter()
        .skip(1)
        .map(|arg| arg.as_encoded_bytes().to_vec());
    while let Some(word) = words.next() {
        if let Some(list) = word.strip_prefix(b"-Wl,") {
            let mut inner = list.split(|byte| *byte == b',').map(<[u8]>::to_vec);
            while let Some(word) = inner.next() {
                take_word(&mut linked, word, &mut inner);
            }
        } else if word == b"-Xlinker" {
            if let Some(next) = words.next() {
                take_word(&mut linked, next, &mut words);
            }
        } else if let Some(dir) = word
            .strip_prefix(b"-B")
            .filter(|dir| dir.is_empty() || dir.contains(&b'/'))
        {
            // The driver's `-B` (ld's `-Bstatic`, `-Bdynamic`... are flags).
            let dir = value(dir, &mut words);
            linked.program_dirs.push(OsString::from_vec(dir));
        } else {
            take_word(&mut linked, word, &mut words);
        }
    }
    linked
}

/// An option's value: `attached` to it, or the next word.
fn value(attached: &[u8], rest: &mut impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    match attached.is_empty() {
        true => rest.next().unwrap_or_default(),
        false => attached.to_vec(),
    }
}

/// Reads one word of the linker's (or the driver's), taking a separate value from `rest`.
fn take_word(linked: &mut Linked, word: Vec<u8>, rest: &mut impl Iterator<Item = Vec<u8>>) {
    if word == b"-o" || word == b"--output" {
        rest.next();
    } else if let Some(name) = word
        .strip_prefix(b"--library=")
        .or_else(|| word.strip_prefix(b"-l"))
    {
        let name = value(name, rest);
        match name.strip_prefix(b":") {
            Some(file) => linked.libs.push((OsString::from_vec(file.to_vec()), true)),
            None => linked.libs.push((OsString::from_vec(name), false)),
        }
    } else if word == b"--library" {
        let name = value(b"", rest);
        match name.strip_prefix(b":") {
            Some(file) => linked.libs.push((OsString::from_vec(file.to_vec()), true)),
            None => linked.libs.push((OsString::from_vec(name), false)),
        }
    } else if let Some(dir) = word
        .strip_prefix(b"--library-path=")
        .or_else(|| word.strip_prefix(b"-L"))
    {
        linked.dirs.push(OsString::from_vec(value(dir, rest)));
    } else if let Some((_, attached)) = word
        .starts_with(b"-")
        .then(|| word.iter().position(|byte| *byte == b'='))
        .flatten()
        .map(|eq| word.split_at(eq + 1))
    {
        // `--version-script=FILE`, `-fuse-ld=lld`...: the value may be a file.
        linked.words.push(OsString::from_vec(attached.to_vec()));
    } else if !word.starts_with(b"-") && !word.is_empty() {
        linked.words.push(OsString::from_vec(word));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_printed_command_is_read_past_its_variables() {
        let text =
            br#"LC_ALL="C" PATH="/a:/b" VSLANG="1033" "cc" "-m64" "/t/x y.o" "-lc" "-o" "out"
"#;
        assert_eq!(
            read_printed_command(text).unwrap(),
            words(&["cc", "-m64", "/t/x y.o", "-lc", "-o", "out"])
        );
        let text = br#"env -u FOO cd "/w \"d\"" && BAR="1" "ld" "a\\b" "\xff" "\u{e9}\n""#;
        let read = read_printed_command(text).unwrap();
        assert_eq!(read[0], "ld");
        assert_eq!(read[1], "a\\b");
        assert_eq!(read[2].as_encoded_bytes(), b"\xff");
        assert_eq!(read[3], "\u{e9}\n");
    }

    #[test]
    fn a_command_it_cannot_read_is_refused() {
        for text in [
            &br#""cc" "-lc"#[..],
            br#""cc" -lc"#,
            br#""cc" "a\qb""#,
            br#""cc" "a""b""#,
            br#""cc"
"ld""#,
            b"",
            br#"A="1""#,
        ] {
            assert!(
                read_printed_command(text).is_err(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn libraries_directories_and_files_are_told_apart() {
        let args = words(&[
            "cc",
            "-m64",
            "/tmp/rustcX/symbols.o",
            "deps/m.rcgu.o",
            "-Wl,--as-needed",
            "-Wl,-Bstatic",
            "/sys/lib/libstd-1.rlib",
            "-Wl,-Bdynamic",
            "-lgcc_s",
            "-l:cv.bin",
            "-l",
            "z",
            "-Wl,-lfoo,-L,/wl/dir,--version-script=/tmp/rustcX/list",
            "-Xlinker",
            "-lbar",
            "-L",
            "/tmp/rustcX/raw-dylibs",
            "-L/native",
            "-B/sys/gcc-ld",
            "-fuse-ld=lld",
            "-o",
            "deps/m-1",
            "-nodefaultlibs",
            "-Bstatic",
        ]);
        let linked = linked(&args);
        assert_eq!(
            linked.libs,
            vec![
                ("gcc_s".into(), false),
                ("cv.bin".into(), true),
                ("z".into(), false),
                ("foo".into(), false),
                ("bar".into(), false),
            ]
        );
        assert_eq!(
            linked.dirs,
            words(&["/wl/dir", "/tmp/rustcX/raw-dylibs", "/native"])
        );
        assert_eq!(linked.program_dirs, words(&["/sys/gcc-ld"]));
        assert_eq!(
            linked.words,
            words(&[
                "/tmp/rustcX/symbols.o",
                "deps/m.rcgu.o",
                "/sys/lib/libstd-1.rlib",
                "/tmp/rustcX/list",
                "lld",
            ])
        );
    }
}
