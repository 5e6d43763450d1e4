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
        // gas substitutions put names together when the assembler runs.
        (
            b"asm(\".macro m a\\n.\\\\a\\\\()bin \\\"f\\\"\\n.endm\\nm inc\");",
            Some(".macro"),
        ),
        (
            b"asm(\".irp x,inc\\n.\\\\x\\\\()bin\\n.endr\");",
            Some(".irp"),
        ),
        (b"asm(\".irpc x,i\");", Some(".irpc")),
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

#[test]
fn inline_assembly_is_read_as_the_assembler_gets_it() {
    let cases: &[(&[u8], Option<&str>)] = &[
        // Adjacent literals are joined, escapes decoded.
        (b"asm(\".in\" \"cbin \\\"blob\\\"\");", Some(".incbin")),
        (
            b"__asm__ volatile (\".\"\n \"include \\\"m.s\\\"\");",
            Some(".include"),
        ),
        (b"__asm(\"\\x2eincbin \\\"b\\\"\");", Some(".incbin")),
        (b"asm(\"\\056inc\\x62in \\\"b\\\"\");", Some(".incbin")),
        (
            b"asm goto (\".in\" \"clude x\" : : : : l);",
            Some(".include"),
        ),
        // glibc's symbol renames and ordinary inline assembly pass.
        (
            b"extern int fscanf (FILE *, const char *, ...) __asm__ (\"\" \"__isoc99_fscanf\");",
            None,
        ),
        (
            b"asm volatile(\"mov %1, %0\\n\\tadd $1, %0\" : \"=r\"(x) : \"r\"(y));",
            None,
        ),
        // No inline assembly, but adjacent literals are joined anywhere: a string gcc hands
        // the assembler as it is (a section's name) may spell a directive that way.
        (
            b"int basm(int); char *plasma = \"x\"; wasm(\".in\" \"cbin\");",
            Some(".incbin"),
        ),
        (
            b"__attribute__((section(\"s\\n\\t\\x2eincbin \\\"d.bin\\\"\\n#\"))) int x = 1;",
            Some(".incbin"),
        ),
        (b"int basm(int); char *s = \"a\\x2e\" \"b\";", None),
        // Line directives in inline assembly record the working directory; a member named
        // `file` or `loc` elsewhere is no directive.
        (b"asm(\".file 1 \\\"a.c\\\"\\n.loc 1 1 0\");", Some(".loc")),
        (b"asm(\"nop\"); s.file = 1; p->loc.x = 2;", None),
        (b"asm", None),
        (b"asm(\"unterminated", None),
    ];
    for (source, expected) in cases {
        assert_eq!(
            refusal_in_source(source),
            *expected,
            "{}",
            String::from_utf8_lossy(source)
        );
    }
}
