//! The files a preprocessor read, as its line markers (`# 1 "util.h" 1`) name them.
//!
//! It reads only the text it is given; stat'ing the files is the caller's job. Names the
//! preprocessor makes up (`<built-in>`, `<command-line>`) and gcc's working-directory marker
//! (a name ending in `//`) are left out.

use std::collections::BTreeSet;

/// Every distinct file named by a line marker of `text`, as written (relative names are
/// relative to the compile's working directory), with the preprocessor's escapes undone.
pub fn files_named(text: &[u8]) -> BTreeSet<Vec<u8>> {
    let mut names = BTreeSet::new();
    let mut line_start = 0;
    while line_start < text.len() {
        let end =
            memchr::memchr(b'\n', &text[line_start..]).map_or(text.len(), |at| line_start + at);
        let line = &text[line_start..end];
        line_start = end + 1;
        if let Some(name) = marker_name(line) {
            if !name.starts_with(b"<") && !name.ends_with(b"//") && !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The file name of one line marker: `# N "name"` (also `#line N "name"`), or `None`.
fn marker_name(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"#")?;
    let rest = rest.strip_prefix(b"line").unwrap_or(rest);
    let rest = rest.strip_prefix(b" ")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let rest = rest[digits..].strip_prefix(b" \"")?;
    let mut name = Vec::new();
    let mut bytes = rest.iter().peekable();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'"' => return Some(name),
            // gcc and clang escape `\` and `"` in names, and clang writes a byte that is not
            // printable ASCII (each byte of `é`) as three octal digits; other escapes are
            // taken literally.
            b'\\' => {
                let escaped = *bytes.next()?;
                if matches!(escaped, b'0'..=b'7') {
                    let mut value = u32::from(escaped - b'0');
                    for _ in 0..2 {
                        match bytes.peek() {
                            Some(&&digit @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(digit - b'0');
                                bytes.next();
                            }
                            _ => break,
                        }
                    }
                    name.push(u8::try_from(value).ok()?);
                } else {
                    name.push(escaped);
                }
            }
            other => name.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clang writes each byte of a name that is not printable ASCII as an octal escape.
    #[test]
    fn octal_escapes_in_a_name_are_its_bytes() {
        let found = files_named(b"# 1 \"/w/jos\\303\\251/a.h\" 1\n");
        assert!(found.contains("/w/josé/a.h".as_bytes()), "{found:?}");
    }

    #[test]
    fn markers_name_the_files_read_and_made_up_names_are_left_out() {
        let text = b"# 0 \"t.c\"\n# 0 \"<built-in>\"\n# 1 \"/tmp/x//\"\n\
            # 1 \"/usr/include/stdio.h\" 1 3 4\nint x;\n# 1 \"./a b.h\" 1\n\
            # 7 \"q\\\"uote\\\\.h\"\n#line 3 \"other.h\"\n#pragma once\n# 2 \"t.c\" 2";
        let found = files_named(text);
        let names: Vec<&[u8]> = found.iter().map(Vec::as_slice).collect();
        let mut expected: Vec<&[u8]> = vec![
            b"t.c",
            b"/usr/include/stdio.h",
            b"./a b.h",
            b"q\"uote\\.h",
            b"other.h",
        ];
        expected.sort();
        assert_eq!(names, expected);
    }
}
