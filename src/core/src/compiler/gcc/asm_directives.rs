//! The scan of a compile's preprocessed text (or assembler source) for assembler directives that
//! read files (`.incbin`, `.include`), which make the compile uncacheable.
//!
//! It looks only at the bytes it is given; it must not read the files the directives name.

/// Why a compile's preprocessed text (or assembler source) makes it uncacheable: the assembler
/// reads files named in `.incbin`/`.include` directives, which reach neither the preprocessed
/// text nor the key.
///
/// Both assemblers take directive names in any case (`.INCBIN`), so the match ignores case; it
/// wants the name to end there (`.include_dirs` is not one) but asks nothing of what comes
/// before, since inline assembly puts directives after `"` or a `\n` escape. A C member named
/// `include` is thus refused too, which costs a miss, never a wrong hit. Linear: the dots are
/// found with `memchr`'s SIMD search, and each is followed by a bounded comparison.
pub fn refusal_in_source(source: &[u8]) -> Option<&'static str> {
    const DIRECTIVES: [(&[u8], &str); 2] = [(b"incbin", ".incbin"), (b"include", ".include")];
    for dot in memchr::memchr_iter(b'.', source) {
        let after = &source[dot + 1..];
        // Cheap reject first: nearly every dot in C is followed by something other than `in`.
        if !after
            .get(..3)
            .is_some_and(|head| head.eq_ignore_ascii_case(b"inc"))
        {
            continue;
        }
        for (name, label) in DIRECTIVES {
            let ends_name = |next: Option<&u8>| {
                !next.is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.'))
            };
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
