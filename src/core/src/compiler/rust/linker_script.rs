//! What a GNU linker script given to a link (`-T script`, a text file among the link's inputs
//! or a library that is one, which ld reads as a script) makes the linker read besides itself:
//! the files its `INCLUDE`, `INPUT`, `GROUP`, `AS_NEEDED` and `STARTUP` commands name.
//!
//! Linkers do not agree on a script's words (lld takes `#` to the end of a line as a comment,
//! GNU ld does not), and a name missed is a stale key, so the script is read twice: as lld
//! reads it (its word characters, `/*` and `#` comments where a word would start), and with
//! no comments at all (every word of the text, comments included). The names of both readings
//! are taken; a name that is no file adds nothing, so taking too many costs a lookup. A
//! command the cache cannot follow is a refusal in either reading: `OUTPUT(` writes a file,
//! `SEARCH_DIR(` adds a directory to the search, and a name under the sysroot (`=/...`,
//! `$SYSROOT`) is found where the cache does not look.
//!
//! It reads only the script's text; finding the names (the working directory, the script's
//! own directory, the link's search directories) and digesting them is the actors layer's job
//! (`flow/rust_link.rs`), as is following the scripts they name in turn.

use memchr::memmem;

/// The names a script's commands read, in order (quotes removed): every `INCLUDE` name and
/// every name in `INPUT`, `GROUP`, `AS_NEEDED` and `STARTUP` lists (`-l:NAME` as `NAME`, a file
/// of the search directories), and the `-lNAME` libraries as they are written (`-lNAME`: the
/// caller looks for `libNAME.so` and `.a` in the search directories). `None` when `bytes` (the file's
/// start will do) is an object or an archive: the linker reads such a file as it is, and
/// anything else as a script, whatever bytes it holds. `Err` with a label when the script asks
/// for what the cache cannot follow.
pub fn script_reads(bytes: &[u8]) -> Option<Result<Vec<Vec<u8>>, &'static str>> {
    if !is_script(bytes) {
        return None;
    }
    let reads = || {
        let mut names = reading(bytes, true)?;
        for name in reading(bytes, false)? {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    };
    Some(reads())
}

/// Whether a file starting with `head` is a linker script to ld: not an ELF object, an
/// archive (`!<arch>`, `!<thin>`), LLVM bitcode (raw, or in its wrapper) or a crate's metadata
/// (`.rmeta`, which the linker is never handed).
pub fn is_script(head: &[u8]) -> bool {
    const NOT_SCRIPTS: &[&[u8]] = &[
        b"\x7fELF",
        b"!<arch>",
        b"!<thin>",
        b"BC\xc0\xde",
        b"\xde\xc0\x17\x0b",
        b"rust\0",
    ];
    !NOT_SCRIPTS.iter().any(|magic| head.starts_with(magic))
}

/// The commands whose arguments are lists of files.
const LIST_COMMANDS: &[&[u8]] = &[b"INPUT", b"GROUP", b"AS_NEEDED", b"STARTUP"];

/// The names one reading of the script finds in its commands: as lld reads it (`as_lld`),
/// where a command without its argument is a refusal; or with no comments and GNU ld's commas,
/// which passes over such a command (a comment may have held it).
fn reading(bytes: &[u8], as_lld: bool) -> Result<Vec<Vec<u8>>, &'static str> {
    let strict = as_lld;
    let tokens = tokens(bytes, as_lld);
    let mut names = Vec::new();
    // How many parentheses of a list command are open.
    let mut depth = 0usize;
    let mut rest = tokens.iter().peekable();
    while let Some(&token) = rest.next() {
        let opens = rest.peek().is_some_and(|next| **next == b"(");
        match token {
            b"OUTPUT" if opens => return Err("link: linker script OUTPUT"),
            b"SEARCH_DIR" if opens => return Err("link: linker script SEARCH_DIR"),
            b"INCLUDE" => match rest.next_if(|next| is_word(next)) {
                Some(name) => names.push(file_name(name)?),
                None if strict => return Err("link: linker script INCLUDE without a name"),
                None => {}
            },
            command if LIST_COMMANDS.contains(&command) => {
                if opens {
                    rest.next();
                    depth += 1;
                } else if strict {
                    return Err("link: linker script list without parentheses");
                }
            }
            b"(" if depth > 0 => depth += 1,
            b")" if depth > 0 => depth -= 1,
            name if depth > 0 && is_word(name) => match name.strip_prefix(b"-l:") {
                Some(file) => names.push(file_name(file)?),
                None => names.push(file_name(name)?),
            },
            _ => {}
        }
    }
    Ok(names)
}

/// A name as ld reads it: quotes removed; one under the sysroot is refused.
fn file_name(token: &[u8]) -> Result<Vec<u8>, &'static str> {
    let name = token
        .strip_prefix(b"\"")
        .and_then(|inner| inner.strip_suffix(b"\""))
        .unwrap_or(token);
    if name.starts_with(b"=/") || name.starts_with(b"$SYSROOT") {
        return Err("link: linker script name under the sysroot");
    }
    Ok(name.to_vec())
}

/// The characters lld continues a word with; GNU ld also keeps `,` in a file name
/// (`INCLUDE a,b.ld`), which the second reading (`gnu`) does too.
fn word_byte(byte: u8, gnu: bool) -> bool {
    byte.is_ascii_alphanumeric() || b"_.$/\\~=+[]*?-!^:".contains(&byte) || (gnu && byte == b',')
}

/// Whether a token is a word (or a quoted name), not punctuation.
fn is_word(token: &[u8]) -> bool {
    token
        .first()
        .is_some_and(|&byte| byte != b',' && (word_byte(byte, true) || byte == b'"'))
}

/// The script's words as lld splits them (runs of word characters, a quoted name, any other
/// character alone); `as_lld`, without its comments (`/*` to `*/` and `#` to the end of the
/// line, each where a word would start); else every word, and commas kept in them as GNU ld
/// does.
fn tokens(bytes: &[u8], as_lld: bool) -> Vec<&[u8]> {
    let (comments, gnu) = (as_lld, !as_lld);
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let end = if byte.is_ascii_whitespace() {
            at += 1;
            continue;
        } else if comments && bytes[at..].starts_with(b"/*") {
            at = memmem::find(&bytes[at + 2..], b"*/").map_or(bytes.len(), |end| at + 2 + end + 2);
            continue;
        } else if comments && byte == b'#' {
            at = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |end| at + end + 1);
            continue;
        } else if byte == b'"' {
            bytes[at + 1..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(bytes.len(), |end| at + 1 + end + 1)
        } else if word_byte(byte, gnu) {
            bytes[at..]
                .iter()
                .position(|&b| !word_byte(b, gnu))
                .map_or(bytes.len(), |end| at + end)
        } else {
            at + 1
        };
        tokens.push(&bytes[at..end]);
        at = end;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(text: &str) -> Result<Vec<String>, &'static str> {
        script_reads(text.as_bytes())
            .expect("a script")
            .map(|names| {
                names
                    .into_iter()
                    .map(|name| String::from_utf8(name).unwrap())
                    .collect()
            })
    }

    #[test]
    fn the_files_a_script_reads_are_named() {
        // cortex-m-rt's link.x, in short.
        let link_x = "/* memory layout */\nINCLUDE memory.x\nINCLUDE device.x\n\
                      ENTRY(Reset);\nSECTIONS { .text : { *(.text .text.*) } > FLASH }\n";
        assert_eq!(reads(link_x).unwrap(), ["memory.x", "device.x"]);
        // libc.so.
        let libc = "OUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/libc.so.6 /usr/lib/libc_nonshared.a \
                    AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n";
        assert_eq!(
            reads(libc).unwrap(),
            [
                "/lib/libc.so.6",
                "/usr/lib/libc_nonshared.a",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        // The second reading keeps the comma (`c.o,`): a name that is no file costs a lookup.
        assert_eq!(
            reads("INPUT(c.o, \"d e.o\" -lm -l:cv.obj)/*x*/STARTUP(crt0.o)").unwrap(),
            ["c.o", "d e.o", "-lm", "cv.obj", "crt0.o", "c.o,"]
        );
        assert_eq!(reads("sym = 0x1000;").unwrap(), Vec::<String>::new());
        // A version script is a script that reads nothing.
        assert_eq!(
            reads("V1 { global: f; local: *; };").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn names_are_found_however_a_linker_splits_the_words() {
        // Braces glued to words, a file pattern with `/*` in it, lld's `#` comments.
        let cases = [
            "SECTIONS {INCLUDE br1.ld} INSERT AFTER .text;",
            "SECTIONS { .x : { *(.x) }INCLUDE br1.ld } INSERT AFTER .text;",
            "SECTIONS { .x : { build/*.o(.x) } } INSERT AFTER .text;\nINCLUDE br1.ld\n",
            "# objects from build/*.o\nINCLUDE br1.ld\n# see docs */\n",
            // GNU ld does not take `#` as a comment: what follows one is read too.
            "# a comment? INCLUDE br1.ld\n",
            "/* INCLUDE br1.ld */",
            "INPUT( a.o /* ) */ br1.ld )",
        ];
        // GNU ld keeps a comma in a name, lld ends the word there: both are taken.
        let comma = reads("INCLUDE rr,inc.ld\nINPUT(c,d.o)").unwrap();
        for name in ["rr,inc.ld", "rr", "c,d.o", "c", "d.o"] {
            assert!(comma.contains(&name.to_owned()), "{name}: {comma:?}");
        }
        for case in cases {
            assert!(
                reads(case).unwrap().contains(&"br1.ld".to_owned()),
                "{case}"
            );
        }
        // A word in a comment is no command to refuse.
        assert!(reads("/* the OUTPUT section, an INPUT file */").is_ok());
    }

    #[test]
    fn what_cannot_be_followed_is_refused() {
        assert_eq!(
            reads("OUTPUT(a.out)").unwrap_err(),
            "link: linker script OUTPUT"
        );
        assert_eq!(
            reads("SEARCH_DIR(/opt/lib)").unwrap_err(),
            "link: linker script SEARCH_DIR"
        );
        assert_eq!(
            reads("INPUT(=/usr/lib/crt1.o)").unwrap_err(),
            "link: linker script name under the sysroot"
        );
        assert_eq!(
            reads("INCLUDE").unwrap_err(),
            "link: linker script INCLUDE without a name"
        );
        assert_eq!(
            reads("INPUT c.o").unwrap_err(),
            "link: linker script list without parentheses"
        );
    }

    #[test]
    fn objects_and_archives_are_no_scripts() {
        assert!(script_reads(b"\x7fELF\x02\x01").is_none());
        assert!(script_reads(b"!<arch>\nx").is_none());
        assert!(script_reads(b"!<thin>\nx").is_none());
        assert!(script_reads(b"BC\xc0\xde\x35").is_none());
        assert!(script_reads(b"rust\0\0\0\x0a").is_none());
        // Anything else is a script to ld, a NUL byte in a comment or not.
        assert_eq!(
            script_reads(b"INCLUDE a.ld /* \0 */").unwrap().unwrap(),
            [b"a.ld".to_vec()]
        );
    }
}
