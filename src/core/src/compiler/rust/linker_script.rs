//! What a GNU linker script given to a link (`-T script`, or a text file among the link's
//! inputs, which ld reads as an implicit script) makes the linker read besides itself: the
//! files its `INCLUDE`, `INPUT`, `GROUP`, `AS_NEEDED` and `STARTUP` commands name.
//!
//! It reads only the script's text; finding the names (the working directory, the script's
//! own directory, the link's search directories) and digesting them is the actors layer's job
//! (`flow/rust_link.rs`), as is following the scripts they name in turn. A command the cache
//! cannot follow is a refusal: `OUTPUT` writes a file, `SEARCH_DIR` adds a directory to the
//! search, and a name under the sysroot (`=name`, `$SYSROOT`) is found where the cache does not
//! look.

/// The names a script's commands read, in order (quotes removed): every `INCLUDE` name and
/// every name in `INPUT`, `GROUP`, `AS_NEEDED` and `STARTUP` lists (`-l:NAME` as `NAME`, a file
/// of the search directories) but the `-lNAME` libraries, which ld finds in the search
/// directories whose libraries a link's key holds already. `None` when `bytes` (the file's
/// start will do) is an object or an archive: the linker reads such a file as it is, and
/// anything else as a script, whatever bytes it holds. `Err` with a label when the script asks
/// for what the cache cannot follow.
pub fn script_reads(bytes: &[u8]) -> Option<Result<Vec<Vec<u8>>, &'static str>> {
    if !is_script(bytes) {
        return None;
    }
    Some(reads_of(&tokens(bytes)))
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

fn reads_of(tokens: &[&[u8]]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut names = Vec::new();
    // How many parentheses of a list command are open.
    let mut depth = 0usize;
    let mut rest = tokens.iter().peekable();
    while let Some(&token) = rest.next() {
        match token {
            b"OUTPUT" => return Err("link: linker script OUTPUT"),
            b"SEARCH_DIR" => return Err("link: linker script SEARCH_DIR"),
            b"INCLUDE" => {
                let name = rest
                    .next()
                    .ok_or("link: linker script INCLUDE without a name")?;
                names.push(file_name(name)?);
            }
            command if LIST_COMMANDS.contains(&command) => {
                if rest.next_if(|next| **next == b"(").is_none() {
                    return Err("link: linker script list without parentheses");
                }
                depth += 1;
            }
            b"(" if depth > 0 => depth += 1,
            b")" if depth > 0 => depth -= 1,
            name if depth > 0 && !matches!(name, b"," | b"(") => match name.strip_prefix(b"-l:") {
                Some(file) => names.push(file_name(file)?),
                None if name.starts_with(b"-l") => {}
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
    if name.is_empty() || name.starts_with(b"=") || name.starts_with(b"$SYSROOT") {
        return Err("link: linker script name under the sysroot");
    }
    Ok(name.to_vec())
}

/// The script's words without its comments: parentheses, commas and semicolons are words of
/// their own; a quoted name is one word.
fn tokens(bytes: &[u8]) -> Vec<&[u8]> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if bytes[at..].starts_with(b"/*") {
            at = match find(&bytes[at + 2..], b"*/") {
                Some(end) => at + 2 + end + 2,
                None => bytes.len(),
            };
        } else if byte.is_ascii_whitespace() {
            at += 1;
        } else if matches!(byte, b'(' | b')' | b',' | b';') {
            tokens.push(&bytes[at..=at]);
            at += 1;
        } else if byte == b'"' {
            let end = bytes[at + 1..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(bytes.len(), |end| at + 1 + end + 1);
            tokens.push(&bytes[at..end]);
            at = end;
        } else {
            let end = bytes[at..]
                .iter()
                .position(|&b| b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b',' | b';'))
                .map_or(bytes.len(), |end| at + end);
            // A comment may follow a word without a space.
            let end = find(&bytes[at..end], b"/*").map_or(end, |comment| at + comment.max(1));
            tokens.push(&bytes[at..end]);
            at = end;
        }
    }
    tokens
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
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
        assert_eq!(
            reads("INPUT(c.o, \"d e.o\" -lm -l:cv.obj)/*x*/STARTUP(crt0.o)").unwrap(),
            ["c.o", "d e.o", "cv.obj", "crt0.o"]
        );
        assert_eq!(reads("sym = 0x1000;").unwrap(), Vec::<String>::new());
        // A version script is a script that reads nothing.
        assert_eq!(
            reads("V1 { global: f; local: *; };").unwrap(),
            Vec::<String>::new()
        );
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
