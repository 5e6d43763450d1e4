//! Flags that name a file: every one is either read by the preprocessor (so its contents reach
//! the key through the preprocessed text), an output, something the server's dry run of the
//! driver digests (`-B`, the toolchain), or refused. A property over the whole flag table, so
//! a flag added later with a value must be placed in one of these classes.

use super::super::flags::{lookup, Role, Take, FLAGS};
use super::*;

/// Flags whose value is a file or directory the preprocessor reads: `-E` sees what they name.
const READ_BY_PREPROCESSOR: &[&str] = &[
    "-I",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-include",
    "-imacros",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-isystem-after",
    "-isysroot",
    "-imultilib",
    "-iframework",
    "-iwithsysroot",
    "-ivfsoverlay",
    "--sysroot",
    "--include-directory",
    "--include",
    "-F",
];

/// Flags whose value is no file the compile reads.
const NO_FILE_READ: &[&str] = &[
    // Values that are not paths.
    "-x",
    "--language",
    "-D",
    "-U",
    "-A",
    "--define-macro",
    "--undefine-macro",
    "--param",
    "--target",
    "-target",
    "-arch",
    "-mllvm",
    "-MT",
    "-MQ",
    "-g",
    "-e",
    "-u",
    "-z",
    "-l",
    // Read only when linking, which a compile (`-c`) does not.
    "-L",
    "-T",
    "-Xlinker",
    // Outputs.
    "-o",
    "--output",
    "-MF",
    "-fprofile-generate",
    "-fprofile-instr-generate",
    "-fcs-profile-generate",
    "-fopt-info",
    // `-flto=auto`, `-flto=thin`, `-flto-partition=...`: no path.
    "-flto",
    // Taken apart by the scan, each value on its own (tests elsewhere).
    "-Xclang",
    "-Xpreprocessor",
    "-Wp,",
    "-Xassembler",
    "-Wa,",
    // Where the driver finds its programs: its dry run's programs are digested.
    "-B",
    "--gcc-toolchain",
    "-gcc-toolchain",
];

#[test]
fn every_flag_with_a_value_in_the_table_is_classified() {
    for &(name, take, role) in FLAGS {
        if take == Take::Alone || matches!(role, Role::No(_)) {
            continue;
        }
        assert!(
            READ_BY_PREPROCESSOR.contains(&name) || NO_FILE_READ.contains(&name),
            "{name} takes a value: say whether it names a file the compile reads"
        );
    }
}

#[test]
fn flags_that_make_the_compiler_read_a_file_are_refused() {
    // Files read by the compiler proper, not the preprocessor: profiles, lists, plugins,
    // precompiled headers, specs, configuration files.
    let flags = [
        "-fprofile-use",
        "-fprofile-use=x.profdata",
        "-fprofile-instr-use=x",
        "-fprofile-sample-use=x",
        "-fauto-profile=x",
        "-fbranch-probabilities",
        "-fprofile-remapping-file=x",
        "-fprofile-instrument-use-path=x",
        "-fprofile-list=x",
        "-fxray-always-instrument=x",
        "-fxray-never-instrument=x",
        "-fxray-attr-list=x",
        "-fsanitize-blacklist=x",
        "-fsanitize-ignorelist=x",
        "-fsanitize-system-ignorelist=x",
        "-fsanitize-coverage-allowlist=x",
        "-fsanitize-coverage-ignorelist=x",
        "-fplugin=x.so",
        "-fpass-plugin=x.so",
        "-fpch-preprocess",
        "-specs=x",
        "--specs=x",
        "--config=x",
        "-fbasic-block-sections=x",
        "-fthinlto-index=x",
        "-fmodule-map-file=x",
        "-fprebuilt-module-path=x",
        "-fmodule-file=x",
        "-fembed-offload-object=x",
    ];
    for flag in flags {
        let (_, role, _) = lookup(flag);
        assert!(matches!(role, Role::No(_)), "{flag} is {role:?}");
    }
    assert!(matches!(lookup("-include-pch").1, Role::No(_)));
}

#[test]
fn xclang_takes_only_what_it_knows() {
    for (xclang, reason) in [
        (
            &["-fprofile-instrument-use-path=x.profdata"][..],
            "-Xclang with an option not known to be safe",
        ),
        (
            &["-some-new-cc1-option"],
            "-Xclang with an option not known to be safe",
        ),
        (&["-load", "-Xclang", "x.so"], "compiler plugin"),
    ] {
        let mut args = vec!["-c", "f.c", "-Xclang"];
        args.extend_from_slice(xclang);
        assert_eq!(no(&args), reason, "{xclang:?}");
    }
    let known = ok(&["-c", "f.c", "-Xclang", "-target-feature", "-Xclang", "+avx"]);
    assert_eq!(
        strs(&known.key_args),
        ["-Xclang", "-target-feature", "-Xclang", "+avx"]
    );
    assert!(!known.cwd_in_key);
    // Debug info written into the object has the working directory in it.
    let debug = ok(&["-c", "f.c", "-Xclang", "-debug-info-kind=constructor"]);
    assert!(debug.cwd_in_key);
}
