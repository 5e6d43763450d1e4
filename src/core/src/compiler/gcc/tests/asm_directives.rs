//! Tests of the scan for assembler directives that read files.

use super::*;

#[test]
fn assembler_directives_that_read_files() {
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"", None),
        (b"int x = a.b + 1.5;", None),
        (b".incbin \"blob.bin\"\n", Some(".incbin")),
        (b"  .include \"macros.s\"\n", Some(".include")),
        (b"\t.INCBIN \"x\"", Some(".incbin")),
        (b".IncLude\t\"x\"", Some(".include")),
        // Inline assembly: after a quote or a `\n` escape, at the very end.
        (b"asm(\".incbin \\\"x\\\"\");", Some(".incbin")),
        (b"asm(\"nop\\n.include \\\"m.s\\\"\");", Some(".include")),
        (b"asm(\".incbin\\\"x\\\"\");", Some(".incbin")),
        (b"x .include", Some(".include")),
        // Longer names are other symbols.
        (b"opts.include_dirs = 0; y.incbins; z.included", None),
        (b"a.incbin2 b.include$ c.inc", None),
        (b"int inc, incbin, include;", None),
        // The first directive found is the reason.
        (b".inc .include x .incbin y", Some(".include")),
        (b"..incbin ", Some(".incbin")),
    ];
    for (source, expected) in cases {
        assert_eq!(
            refusal_in_source(source),
            *expected,
            "{}",
            String::from_utf8_lossy(source)
        );
    }
    // A directive far into a large text is still found.
    let mut big = b"s.member = 1.0; ".repeat(200_000);
    assert_eq!(refusal_in_source(&big), None);
    big.extend_from_slice(b"\n.incbin \"x\"\n");
    assert_eq!(refusal_in_source(&big), Some(".incbin"));
}
