//! The scan of a compile's preprocessed text (or assembler source) for assembler directives that
//! read files (`.incbin`, `.include`), or could be made to (`.macro`, `.irp`, `.irpc`, which
//! build directive names from parameters), which make the compile uncacheable.
//!
//! It looks only at the bytes it is given; it must not read the files the directives name.

/// Directive names after a dot that make a compile uncacheable: the two that read files, and
/// gas's substitutions, by which a name such as `.inc\()bin` is put together only when the
/// assembler runs (`.macro m a; .\a\()bin "f"; .endm; m inc`).
const DIRECTIVES: [(&[u8], &str); 5] = [
    (b"incbin", ".incbin"),
    (b"include", ".include"),
    (b"macro", ".macro"),
    (b"irp", ".irp"),
    (b"irpc", ".irpc"),
];

/// Why a compile's preprocessed text (or assembler source) makes it uncacheable: the assembler
/// reads files named in `.incbin`/`.include` directives, which reach neither the preprocessed
/// text nor the key.
///
/// Two passes. The first finds the directives as written anywhere in the text: both assemblers
/// take names in any case (`.INCBIN`), and the name must end there (`.include_dirs` is not
/// one), but nothing is asked of what comes before, since inline assembly puts directives after
/// `"` or a `\n` escape. A C member named `include` or `macro` is thus refused too, which costs
/// a miss, never a wrong hit. The second reads each inline assembly statement (`asm`,
/// `__asm`, `__asm__`) the way the compiler hands it to the assembler: its string literals
/// joined (`".in" "cbin"`) and their escapes decoded (`"\x2eincbin"`), and scans that. Ordinary
/// inline assembly and glibc's symbol renames (`__asm__ ("" "__isoc99_fscanf")`) pass.
/// Linear: the dots and the `asm` keywords are found with `memchr`'s SIMD search.
///
/// A third pass reads the whole text with every escape decoded and adjacent string literals
/// joined, for the strings other than inline assembly that gcc hands the assembler as they are
/// (a section attribute's name: `section("s\n\t\x2eincbin \"f\"\n#")`).
pub fn refusal_in_source(source: &[u8]) -> Option<&'static str> {
    directive_in(source)
        .or_else(|| {
            memchr::memmem::find_iter(source, b"asm").find_map(|at| {
                let statement = asm_statement(source, at)?;
                directive_in(&statement).or_else(|| line_directive_in(&statement))
            })
        })
        .or_else(|| directive_in(&joined_and_decoded(source)?))
}

/// `text` with every escape decoded and each pair of a closing and an opening quote with only
/// whitespace between them (adjacent literals, which the compiler joins) taken out; `None` when
/// there is neither, and so nothing the first pass has not seen.
fn joined_and_decoded(text: &[u8]) -> Option<Vec<u8>> {
    let joint_after = |quote: usize| {
        let gap = text[quote + 1..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        (text.get(quote + 1 + gap) == Some(&b'"')).then_some(quote + 1 + gap)
    };
    let has_escape = memchr::memchr(b'\\', text).is_some();
    let has_joint = memchr::memchr_iter(b'"', text).any(|quote| joint_after(quote).is_some());
    if !has_escape && !has_joint {
        return None;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut index = 0;
    while let Some(&byte) = text.get(index) {
        match byte {
            b'\\' => index = decode_escape(text, index + 1, &mut out),
            b'"' => match joint_after(index) {
                Some(opening) => index = opening,
                None => out.push(b'"'),
            },
            other => out.push(other),
        }
        index += 1;
    }
    Some(out)
}

/// `.file`/`.loc` in inline assembly's text: gas then records the working directory in the
/// object's line table, debug info or not, which a C compile's key holds only with `-g`.
/// (Outside inline assembly the words are every other C member's name.)
fn line_directive_in(statement: &[u8]) -> Option<&'static str> {
    memchr::memchr_iter(b'.', statement).find_map(|dot| {
        let after = &statement[dot + 1..];
        let named = |name: &[u8]| {
            after
                .get(..name.len())
                .is_some_and(|word| word.eq_ignore_ascii_case(name))
                && after
                    .get(name.len())
                    .is_none_or(|c| c.is_ascii_whitespace())
        };
        (named(b"file") || named(b"loc")).then_some(".loc")
    })
}

/// The first directive of `DIRECTIVES` written in `text`.
fn directive_in(text: &[u8]) -> Option<&'static str> {
    let ends_name = |next: Option<&u8>| {
        !next.is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.'))
    };
    for dot in memchr::memchr_iter(b'.', text) {
        let after = &text[dot + 1..];
        // Cheap reject first: nearly every dot in C is followed by none of the names' heads.
        let head = after.first().map(u8::to_ascii_lowercase);
        if !matches!(head, Some(b'i' | b'm')) {
            continue;
        }
        for (name, label) in DIRECTIVES {
            if after
                .get(..name.len())
                .is_some_and(|word| word.eq_ignore_ascii_case(name))
                && ends_name(after.get(name.len()))
            {
                return Some(label);
            }
        }
    }
    None
}

/// The text an inline assembly statement whose keyword ends at `at + 3` gives the assembler:
/// every string literal between its parentheses, joined, with escapes decoded (the operands'
/// constraints are joined in too, which can only add refusals). `None` when `asm` there is part
/// of another word or no statement follows.
fn asm_statement(source: &[u8], at: usize) -> Option<Vec<u8>> {
    let is_word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let keyword_end = at + 3;
    let before = source[..at]
        .iter()
        .rev()
        .take_while(|c| **c == b'_')
        .count();
    let starts_word = at
        .checked_sub(before + 1)
        .is_none_or(|index| !is_word(&source[index]));
    let after = source[keyword_end..]
        .iter()
        .take_while(|c| **c == b'_')
        .count();
    if !starts_word || source.get(keyword_end + after).is_some_and(is_word) {
        return None;
    }
    // Qualifiers (`volatile`, `goto`, `inline`) and spaces come before the parenthesis.
    let open = keyword_end
        + after
        + source[keyword_end + after..]
            .iter()
            .position(|&c| c == b'(' || c == b';' || c == b'"')?;
    if source[open] != b'(' {
        return None;
    }
    let mut joined = Vec::new();
    let mut depth = 0usize;
    let mut index = open;
    while let Some(&byte) = source.get(index) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'"' => index = decode_literal(source, index + 1, &mut joined),
            _ => {}
        }
        index += 1;
    }
    Some(joined)
}

/// Decodes the C string literal whose text starts at `start` into `out`; returns the index of
/// its closing quote (or the end of the text).
fn decode_literal(source: &[u8], start: usize, out: &mut Vec<u8>) -> usize {
    let mut index = start;
    while let Some(&byte) = source.get(index) {
        match byte {
            b'"' => return index,
            b'\\' => index = decode_escape(source, index + 1, out),
            other => out.push(other),
        }
        index += 1;
    }
    index
}

/// Decodes the escape whose letter (after the backslash) is at `index` into `out`; returns the
/// index of its last byte (the end of the text when it is cut short).
fn decode_escape(source: &[u8], mut index: usize, out: &mut Vec<u8>) -> usize {
    let Some(&escaped) = source.get(index) else {
        return source.len();
    };
    match escaped {
        b'x' => {
            let digits = source[index + 1..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let value = source[index + 1..index + 1 + digits]
                .iter()
                .fold(0u32, |value, &c| {
                    value.wrapping_mul(16) + char::from(c).to_digit(16).unwrap_or(0)
                });
            out.push(value as u8);
            index += digits;
        }
        b'0'..=b'7' => {
            let digits = source[index..]
                .iter()
                .take(3)
                .take_while(|c| matches!(c, b'0'..=b'7'))
                .count();
            let value = source[index..index + digits]
                .iter()
                .fold(0u32, |value, &c| value * 8 + u32::from(c - b'0'));
            out.push(value as u8);
            index += digits - 1;
        }
        b'n' => out.push(b'\n'),
        b't' => out.push(b'\t'),
        b'r' => out.push(b'\r'),
        b'a' | b'b' | b'f' | b'v' => out.push(b' '),
        other => out.push(other),
    }
    index
}
