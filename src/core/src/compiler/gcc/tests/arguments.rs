//! Tests of reading gcc/clang arguments: the flag table, stops, inputs, flag values, refusals,
//! accepted flags and non-UTF-8 arguments.

use super::*;
use crate::compiler::gcc::flags::FLAGS;

#[test]
fn table_entries_are_not_shadowed() {
    // An entry after a shorter glued-value entry it starts with could never match.
    for (i, (name, _, _)) in FLAGS.iter().enumerate() {
        for (earlier, take, _) in &FLAGS[..i] {
            let shadows = match take {
                Either | Prefix => name.starts_with(earlier),
                Alone | Separate => name == earlier,
            };
            assert!(!shadows, "{name} is shadowed by {earlier}");
        }
    }
}

#[test]
fn simple_compile() {
    let c = ok(&["-c", "foo.c", "-o", "foo.o"]);
    assert_eq!(c.language, Language::C);
    assert_eq!(c.input, "foo.c");
    assert_eq!(
        c.outputs,
        vec![COutput {
            role: OutputRole::Object,
            path: "foo.o".into()
        }]
    );
    assert_eq!(strs(&c.preprocess_args), ["foo.c", "-E"]);
    assert!(c.key_args.is_empty());
    assert!(!c.cwd_in_key);
}

#[test]
fn stops_and_their_precedence() {
    let cases: &[(&[&str], &str)] = &[
        (&["-E", "f.c"], "-E"),
        (&["-E", "-c", "f.c"], "-E"),
        (&["-S", "f.c"], "-S"),
        (&["-S", "-c", "f.c"], "-S"),
        (&["-M", "f.c"], "-M"),
        (&["-MM", "f.c"], "-M"),
        (&["-MM", "-c", "f.c"], "-M"),
        (&["-M", "-S", "f.c"], "-M"),
        (&["-S", "-E", "-M", "f.c"], "-E"),
        (&["--preprocess", "-c", "f.c"], "-E"),
        // A stop wins over any other refusal.
        (&["-E", "-c", "a.c", "b.c"], "-E"),
    ];
    for (args, reason) in cases {
        assert_eq!(no(args), *reason, "{args:?}");
    }
}

#[test]
fn not_compilations() {
    for args in [
        &["foo.o", "-o", "app"][..],
        &["--version"],
        &["-v"],
        &[],
        &["a.c", "b.c", "-o", "app"],
        &["-save-temps", "a.c"],
        &["a.o", "-o"],
    ] {
        assert_eq!(p(args), Parsed::NotCompilation, "{args:?}");
    }
}

#[test]
fn inputs() {
    assert_eq!(no(&["-c", "a.c", "b.c"]), "multiple input files");
    assert_eq!(no(&["-c", "a.c", "b.o"]), "multiple input files");
    assert_eq!(no(&["-c", "-x", "c", "-"]), "stdin input");
    assert_eq!(no(&["-c", "a.c", "-"]), "stdin input");
    assert_eq!(no(&["-c"]), "no input file");
    assert_eq!(no(&["-c", "-O2"]), "no input file");
}

#[test]
fn separate_values_are_not_inputs() {
    let args = [
        "-I",
        "inc",
        "-isystem",
        "sys",
        "-iquote",
        "q",
        "-idirafter",
        "d",
        "-include",
        "pre.h",
        "-imacros",
        "m.h",
        "-iprefix",
        "p",
        "-iwithprefix",
        "w",
        "-iwithprefixbefore",
        "wb",
        "-isysroot",
        "sr",
        "--sysroot",
        "root",
        "-D",
        "X=1",
        "-U",
        "Y",
        "-L",
        "lib",
        "-l",
        "m",
        "-Xlinker",
        "x",
        "-Xassembler",
        "as",
        "-Xpreprocessor",
        "-P",
        "-Xclang",
        "-fno-pch-timestamp",
        "-arch",
        "x86_64",
        "-target",
        "t",
        "--target",
        "t2",
        "-aux",
        "-u",
        "sym",
        "-z",
        "now",
        "-T",
        "ld.x",
        "-A",
        "a",
        "-B",
        "bin",
        "-e",
        "entry",
        "--param",
        "p=1",
        "-imultilib",
        "ml",
        "-isystem-after",
        "sa",
        "-F",
        "fw",
        "-mllvm",
        "-x86-asm-syntax=intel",
        "-c",
        "main.c",
    ];
    let c = ok(&args);
    assert_eq!(c.input, "main.c");
    let mut expected: Vec<&str> = args.iter().copied().filter(|a| *a != "-c").collect();
    // `-Xpreprocessor -P` only strips line markers from `-E`: key only.
    let mut pre = expected.clone();
    let at = pre.iter().position(|a| *a == "-Xpreprocessor").unwrap();
    pre.drain(at..at + 2);
    assert_eq!(strs(&c.preprocess_args[..c.preprocess_args.len() - 1]), pre);
    expected.retain(|a| *a != "main.c");
    assert_eq!(strs(&c.key_args), expected);
}

#[test]
fn attached_values() {
    let c = ok(&[
        "-Iinc",
        "-DX=1",
        "-UY",
        "--param=x=1",
        "--sysroot=/r",
        "-c",
        "f.c",
    ]);
    assert_eq!(
        strs(&c.key_args),
        ["-Iinc", "-DX=1", "-UY", "--param=x=1", "--sysroot=/r"]
    );
}

#[test]
fn missing_value_at_end() {
    for flag in [
        "-o", "-I", "-D", "-x", "-MF", "-MT", "-Xclang", "-include", "-arch",
    ] {
        assert_eq!(no(&["-c", "f.c", flag]), "missing argument value", "{flag}");
    }
}

#[test]
fn refusals() {
    let cases: &[(&[&str], &str)] = &[
        (&["-save-temps"], "-save-temps"),
        (&["-save-temps=obj"], "-save-temps"),
        (&["-fprofile-use"], "-fprofile-use"),
        (&["-fprofile-use=x.prof"], "-fprofile-use"),
        (&["-fauto-profile=x"], "-fprofile-use"),
        (&["-fprofile-sample-use=x"], "-fprofile-use"),
        (&["-fprofile-instr-use=x"], "-fprofile-use"),
        (&["-fplugin=x.so"], "compiler plugin"),
        (&["-fpass-plugin=x.so"], "compiler plugin"),
        (&["-Xclang", "-load", "-Xclang", "x.so"], "compiler plugin"),
        (&["-Xclang", "-plugin", "-Xclang", "x"], "compiler plugin"),
        (&["-specs=x"], "-specs"),
        (&["--specs=x"], "-specs"),
        (&["-fsanitize-blacklist=x"], "-fsanitize-ignorelist"),
        (&["-fsanitize-ignorelist=x"], "-fsanitize-ignorelist"),
        (&["-fprofile-list=x"], "-fprofile-list"),
        (&["-arch", "x86_64", "-arch", "arm64"], "multiple -arch"),
        (&["-fmodules"], "clang modules"),
        (&["-fcxx-modules"], "clang modules"),
        (&["-fmodules-ts"], "C++ modules"),
        (&["-MJ", "x.json"], "-MJ"),
        (&["-MJx.json"], "-MJ"),
        (&["-ftime-trace"], "-ftime-trace"),
        (&["-ftime-trace=x"], "-ftime-trace"),
        (&["-fdump-tree-all"], "-fdump"),
        (&["-fstack-usage"], "-fstack-usage"),
        (&["-fcallgraph-info"], "-fcallgraph-info"),
        (&["-save-stats"], "-save-stats"),
        (&["-fsyntax-only"], "-fsyntax-only"),
        (&["-emit-ast"], "-emit-ast"),
        (&["-include-pch", "x.pch"], "-include-pch"),
        (&["--driver-mode=cl"], "--driver-mode"),
        (&["-aux-info", "x"], "-aux-info"),
        (&["-Wp,-MD,x.d"], "-Wp,-M"),
        (&["-Xpreprocessor", "-MD"], "-Xpreprocessor -M"),
        (&["-o", "a.o", "-o", "b.o"], "multiple -o"),
        (&["-o", "-"], "output to stdout"),
        (&["-fopt-info-vec-missed=opt.txt"], "-fopt-info file"),
        (&["-fopt-info=opt.txt"], "-fopt-info file"),
        (&["-fopt-info-all=stderr"], "-fopt-info file"),
        (&["-fdump-ipa-all"], "-fdump"),
        (&["-fcallgraph-info=su,da"], "-fcallgraph-info"),
        (&["-aux-info=x.h"], "-aux-info"),
        (&["-save-temps=cwd"], "-save-temps"),
        (&["--save-temps"], "-save-temps"),
        (&["-dM"], "-dM"),
        (&["--version"], "--version"),
        (&["-print-search-dirs"], "-print"),
        (&["-dumpdir", "x"], "-dumpbase"),
        (&["--"], "--"),
        (&["-fmodule-header"], "C++ modules"),
        (&["-fmodule-header=user"], "C++ modules"),
        (&["-fmodule-mapper=m.txt"], "C++ modules"),
        (&["-fproc-stat-report=x.csv"], "-fproc-stat-report"),
        (&["-fproc-stat-report"], "-fproc-stat-report"),
        (&["-da"], "-d dumps"),
        (&["-dm"], "-d dumps"),
        (&["-dDa"], "-d dumps"),
        (
            &["-mllvm", "-info-output-file=t.txt"],
            "-mllvm option that may write a file",
        ),
        (
            &["-mllvm", "-pass-remarks-output=r.yaml"],
            "-mllvm option that may write a file",
        ),
        (&["-MD", "-MF", "-"], "dependency output to stdout"),
        (
            &["-Xclang", "-mllvm", "-Xclang", "-info-output-file=t.txt"],
            "-mllvm option that may write a file",
        ),
        (
            &["-mllvm", "-ir-dump-directory=d"],
            "-mllvm option that may write a file",
        ),
        // LLVM options that read or write files without saying so: only known tuning
        // options are taken.
        (
            &["-mllvm", "-dfsan-abilist=abi.txt"],
            "-mllvm option that may write a file",
        ),
        (
            &["-mllvm", "-polly-dump-before"],
            "-mllvm option that may write a file",
        ),
        (&["-mllvm=-polly"], "-mllvm option that may write a file"),
    ];
    for (extra, reason) in cases {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        assert_eq!(no(&args), *reason, "{extra:?}");
    }
}

/// The preprocessor's `-d` letters change only what `-E` prints; an `-mllvm` option that
/// names no file is an ordinary flag; `-flto` puts the working directory in the key (gcc's LTO
/// objects record it for relative source names).
#[test]
fn preprocessor_dumps_llvm_options_and_lto_are_taken() {
    for flag in ["-dD", "-dI", "-dN", "-dU"] {
        ok(&["-c", "f.c", flag]);
    }
    ok(&[
        "-c",
        "f.c",
        "-Xclang",
        "-mllvm",
        "-Xclang",
        "-inline-threshold=5",
    ]);
    let c = ok(&["-c", "f.c", "-mllvm", "-inline-threshold=5"]);
    assert_eq!(strs(&c.key_args), ["-mllvm", "-inline-threshold=5"]);
    assert!(!c.cwd_in_key);
    for flag in ["-flto", "-flto=auto", "-flto=thin"] {
        assert!(ok(&["-c", "f.c", flag]).cwd_in_key, "{flag}");
    }
    // gas records the working directory for `.file`/`.loc` directives, `-g` or not.
    assert!(ok(&["-c", "f.s"]).cwd_in_key);
    assert!(ok(&["-c", "f.S"]).cwd_in_key);
}

#[test]
fn accepted_flags_stay_in_key() {
    let extra = [
        "-frandom-seed=1",
        "-fdiagnostics-color=always",
        "-fcolor-diagnostics",
        "-Werror",
        "-Wl,-z,now",
        "-Wp,-DX",
        "-Xpreprocessor",
        "-DY",
        "-Xclang",
        "-fno-pch-timestamp",
        "-arch",
        "arm64",
        "-arch",
        "arm64",
        "-std=c++17",
        "-fPIC",
        "-gcc-toolchain",
        "/tc",
    ];
    let mut args = vec!["-c", "f.cc"];
    args.extend_from_slice(&extra);
    assert_eq!(strs(&ok(&args).key_args), extra);
}

#[cfg(unix)]
#[test]
fn non_utf8_arguments_do_not_panic() {
    use std::os::unix::ffi::OsStringExt;
    let bad_input = OsString::from_vec(b"caf\xe9.c".to_vec());
    let args = vec![
        OsString::from("-c"),
        bad_input.clone(),
        OsString::from("-o"),
    ];
    let mut with_output = args.clone();
    with_output.push(OsString::from_vec(b"o\xff.o".to_vec()));
    match parse(&with_output, Path::new("/")) {
        Parsed::Cacheable(c) => {
            assert_eq!(c.input, bad_input);
            assert_eq!(c.outputs[0].path, OsString::from_vec(b"o\xff.o".to_vec()));
        }
        other => panic!("{other:?}"),
    }
    let bad_flag = vec![
        OsString::from("-c"),
        OsString::from("f.c"),
        OsString::from_vec(b"-D\xff".to_vec()),
    ];
    assert_eq!(
        parse(&bad_flag, Path::new("/")),
        Parsed::NotCacheable("non-UTF-8 argument".into())
    );
    let bad_rsp = vec![OsString::from("-c"), OsString::from_vec(b"@\xff".to_vec())];
    assert_eq!(
        parse(&bad_rsp, Path::new("/")),
        Parsed::NotCacheable("unreadable @file".into())
    );
    let bad_x = vec![
        OsString::from("-x"),
        OsString::from_vec(b"\xff".to_vec()),
        OsString::from("-c"),
        OsString::from("f.c"),
    ];
    assert_eq!(
        parse(&bad_x, Path::new("/")),
        Parsed::NotCacheable("unknown -x language".into())
    );
}

#[test]
fn opt_info_to_stderr_is_fine() {
    for flag in ["-fopt-info", "-fopt-info-vec-missed", "-ftime-report"] {
        let c = ok(&["-c", "f.c", flag]);
        assert_eq!(strs(&c.key_args), [flag]);
    }
}
