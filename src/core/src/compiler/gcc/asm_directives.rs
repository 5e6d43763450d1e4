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
pub fn refusal_in_source(source: &[u8]) -> Option<&'static str> {
    directive_in(source).or_else(|| {
        memchr::memmem::find_iter(source, b"asm").find_map(|at| {
            let statement = asm_statement(source, at)?;
            directive_in(&statement)
        })
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
            b'\\' => {
                index += 1;
                let Some(&escaped) = source.get(index) else {
                    break;
                };
                match escaped {
                    b'x' => {
                        let digits = source[index + 1..]
                            .iter()
                            .take_while(|c| c.is_ascii_hexdigit())
                            .count();
                        let value =
                            source[index + 1..index + 1 + digits]
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
            }
            other => out.push(other),
        }
        index += 1;
    }
    index
}
