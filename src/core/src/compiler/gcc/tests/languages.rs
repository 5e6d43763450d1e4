//! Tests of the language of the input: by extension and by `-x`.

use super::*;

#[test]
fn languages_by_extension() {
    let cases = [
        ("a.c", Language::C),
        ("a.i", Language::PreprocessedC),
        ("a.cc", Language::Cxx),
        ("a.cpp", Language::Cxx),
        ("a.cxx", Language::Cxx),
        ("a.c++", Language::Cxx),
        ("a.C", Language::Cxx),
        ("a.CC", Language::Cxx),
        ("a.cp", Language::Cxx),
        ("a.CPP", Language::Cxx),
        ("a.ii", Language::PreprocessedCxx),
        ("a.m", Language::ObjectiveC),
        ("a.mm", Language::ObjectiveCxx),
        ("a.M", Language::ObjectiveCxx),
        ("a.S", Language::AssemblerWithCpp),
        ("a.sx", Language::AssemblerWithCpp),
        ("a.s", Language::Assembler),
    ];
    for (file, language) in cases {
        assert_eq!(ok(&["-c", file]).language, language, "{file}");
    }
}

#[test]
fn unusable_extensions() {
    let cases = [
        ("a.h", "unknown source language"),
        ("noext", "unknown source language"),
        ("a.o", "linker input file"),
        ("liba.a", "linker input file"),
        ("liba.so", "linker input file"),
        ("a.mi", "preprocessed Objective-C"),
        ("a.mii", "preprocessed Objective-C"),
    ];
    for (file, reason) in cases {
        assert_eq!(no(&["-c", file]), reason, "{file}");
    }
}

#[test]
fn x_language_overrides_extension_and_stays_in_args() {
    let c = ok(&["-x", "c++", "-c", "foo.c"]);
    assert_eq!(c.language, Language::Cxx);
    assert_eq!(strs(&c.key_args), ["-x", "c++"]);
    assert_eq!(strs(&c.preprocess_args), ["-x", "c++", "foo.c", "-E"]);
    assert_eq!(ok(&["-xc", "-c", "foo.cpp"]).language, Language::C);
    assert_eq!(
        ok(&["-x", "assembler-with-cpp", "-c", "f.s"]).language,
        Language::AssemblerWithCpp
    );
    assert_eq!(
        ok(&["-x", "cpp-output", "-c", "f.c"]).language,
        Language::PreprocessedC
    );
    assert_eq!(
        ok(&["-x", "c++-cpp-output", "-c", "f.c"]).language,
        Language::PreprocessedCxx
    );
    assert_eq!(
        ok(&["-x", "objective-c", "-c", "f.c"]).language,
        Language::ObjectiveC
    );
    assert_eq!(
        ok(&["-x", "objective-c++", "-c", "f.c"]).language,
        Language::ObjectiveCxx
    );
    assert_eq!(
        ok(&["-x", "assembler", "-c", "f.c"]).language,
        Language::Assembler
    );
    // `-x` applies only to the inputs after it, and `-x none` goes back to extensions.
    assert_eq!(ok(&["-c", "f.c", "-x", "c++"]).language, Language::C);
    assert_eq!(
        ok(&["-x", "c++", "-x", "none", "-c", "f.c"]).language,
        Language::C
    );
    assert_eq!(ok(&["-x", "c", "-c", "weird.txt"]).language, Language::C);
}

#[test]
fn bad_x_language() {
    assert_eq!(no(&["-x", "fortran", "-c", "f.c"]), "unknown -x language");
    assert_eq!(no(&["-x", "c-header", "-c", "f.h"]), "unknown -x language");
    assert_eq!(
        no(&["-x", "objective-c-cpp-output", "-c", "f.c"]),
        "preprocessed Objective-C"
    );
}
