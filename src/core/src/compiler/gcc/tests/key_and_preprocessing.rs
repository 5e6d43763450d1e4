//! Tests of what reaches the preprocessor and the key: debug info and the working directory,
//! macros in debug info, `-P`, and the recorded command line.

use super::*;

#[test]
fn preprocess_args_write_nothing() {
    let c = ok(&[
        "-c",
        "-o",
        "f.o",
        "f.c",
        "-MD",
        "-MMD",
        "-MF",
        "f.d",
        "-MT",
        "t",
        "-MQ",
        "q",
        "-MP",
        "-MG",
        "-O2",
        "-g",
        "--coverage",
        "-gsplit-dwarf",
    ]);
    let pre = strs(&c.preprocess_args);
    assert_eq!(
        pre,
        ["f.c", "-O2", "-g", "--coverage", "-gsplit-dwarf", "-E"]
    );
}

#[test]
fn debug_info_puts_cwd_in_key() {
    let cases: &[(&[&str], bool)] = &[
        (&[], false),
        (&["-g"], true),
        (&["-g1"], true),
        (&["-g3"], true),
        (&["-ggdb"], true),
        (&["-ggdb3"], true),
        (&["-gdwarf-4"], true),
        (&["-g", "-g0"], false),
        (&["-g0", "-g"], true),
        (&["-ggdb0"], false),
        (&["-gz"], false),
        (&["-gno-column-info"], false),
        (&["-g", "-fdebug-prefix-map=/a=/b"], true),
        (&["-fcoverage-mapping"], true),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        assert_eq!(ok(&args).cwd_in_key, *expected, "{extra:?}");
    }
}

fn pre_without_input_and_e(c: &CCompilation) -> Vec<&str> {
    strs(&c.preprocess_args)
        .into_iter()
        .filter(|a| !matches!(*a, "f.c" | "-E"))
        .collect()
}

#[test]
fn macros_in_debug_info_reach_the_preprocessed_text() {
    // (extra args, whether `-dD` is added)
    let cases: &[(&[&str], bool)] = &[
        (&[], false),
        (&["-g"], false),
        (&["-g2"], false),
        (&["-g3"], true),
        (&["-ggdb3"], true),
        (&["-gdwarf-4", "-g3"], true),
        (&["-g3", "-gdwarf-4"], true),
        (&["-g3", "-g"], true),
        (&["-g3", "-ggdb"], true),
        (&["-g3", "-g1"], false),
        (&["-g3", "-g2"], false),
        (&["-g3", "-g0"], false),
        (&["-g3", "-g0", "-g"], false),
        (&["-ggdb3", "-ggdb2"], false),
        (&["-gdwarf-3"], false),
        (&["-g", "-fdebug-macro"], true),
        (&["-fdebug-macro", "-g"], true),
        (&["-fdebug-macro"], true),
        (&["-g", "-fdebug-macro", "-fno-debug-macro"], false),
        (&["-g", "-fno-debug-macro", "-fdebug-macro"], true),
        (&["-g", "-Xclang", "-debug-info-macro"], true),
    ];
    for (extra, macros) in cases {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        let c = ok(&args);
        let pre = strs(&c.preprocess_args);
        assert_eq!(pre.last(), Some(&"-E"), "{extra:?}");
        let expected: Vec<&str> = extra
            .iter()
            .copied()
            .chain(macros.then_some("-dD"))
            .collect();
        assert_eq!(pre_without_input_and_e(&c), expected, "{extra:?}");
        // `-dD` changes only what `-E` prints; it is not a key argument.
        assert_eq!(strs(&c.key_args), *extra, "{extra:?}");
    }
    // `-dD` comes after a user's `-dN`, so the definitions are printed in full.
    let c = ok(&["-c", "f.c", "-dN", "-g3"]);
    assert_eq!(pre_without_input_and_e(&c), ["-dN", "-g3", "-dD"]);
}

#[test]
fn no_line_markers_flag_stays_out_of_preprocessing() {
    let c = ok(&["-c", "f.c", "-P", "-O2"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-O2", "-E"]);
    assert_eq!(strs(&c.key_args), ["-P", "-O2"]);
    let c = ok(&["-c", "f.c", "--no-line-commands"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    assert_eq!(strs(&c.key_args), ["--no-line-commands"]);
    let c = ok(&["-c", "f.c", "-Xpreprocessor", "-P"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    assert_eq!(strs(&c.key_args), ["-Xpreprocessor", "-P"]);
    let c = ok(&["-c", "f.c", "-Xclang", "-P"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    assert_eq!(strs(&c.key_args), ["-Xclang", "-P"]);
    let c = ok(&["-c", "f.c", "-Wp,-P"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    assert_eq!(strs(&c.key_args), ["-Wp,-P"]);
    // Other items passed along with `-P` still reach `-E`.
    let c = ok(&["-c", "f.c", "-Wp,-DX,-P,-DY"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-Wp,-DX,-DY", "-E"]);
    assert_eq!(strs(&c.key_args), ["-Wp,-DX,-P,-DY"]);
    // Names that only start with `P` are ordinary items.
    let c = ok(&["-c", "f.c", "-Wp,-PX"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-Wp,-PX", "-E"]);
}

/// The key arguments after the recorded command line's marker, if any.
fn recorded(c: &CCompilation) -> Option<Vec<&str>> {
    let key = strs(&c.key_args);
    let at = key.iter().position(|a| *a == RECORDED_COMMAND_LINE)?;
    Some(key[at + 1..].to_vec())
}

#[test]
fn recorded_command_line_puts_every_argument_in_key() {
    for flag in [
        "-frecord-gcc-switches",
        "-frecord-command-line",
        "-grecord-gcc-switches",
        "-grecord-command-line",
    ] {
        let args = [
            "-c", "src/f.c", "-o", "out/f.o", "-MD", "-MF", "d/f.d", flag,
        ];
        let c = ok(&args);
        let mut expected = vec!["8"];
        expected.extend_from_slice(&args);
        expected.push("8");
        expected.extend_from_slice(&args);
        // `-MD` without `-MT` still adds its default target after the lists.
        expected.extend(["-MQ", "out/f.o"]);
        assert_eq!(recorded(&c), Some(expected), "{flag}");
        // The marker and the lists come after the flag's own key entries.
        assert_eq!(strs(&c.key_args)[..3], ["-MD", flag, RECORDED_COMMAND_LINE]);
        // The same compile under other paths records another command line.
        let other = ok(&["-c", "f.c", "-o", "out/f.o", "-MD", "-MF", "d/f.d", flag]);
        assert_ne!(other.key_args, c.key_args, "{flag}");
    }
    // Turned off later: nothing recorded, and the object path is not needed either.
    for args in [
        &[
            "-c",
            "f.c",
            "-frecord-gcc-switches",
            "-fno-record-gcc-switches",
        ][..],
        &[
            "-c",
            "f.c",
            "-frecord-command-line",
            "-fno-record-command-line",
        ],
        &[
            "-c",
            "f.c",
            "-grecord-gcc-switches",
            "-gno-record-gcc-switches",
        ],
        &[
            "-c",
            "f.c",
            "-grecord-command-line",
            "-gno-record-command-line",
        ],
        &["-c", "f.c", "-g"],
    ] {
        let c = ok(args);
        assert_eq!(recorded(&c), None, "{args:?}");
        assert!(!strs(&c.key_args).contains(&"-o"), "{args:?}");
    }
    // The section and the debug info's producer are separate switches.
    let c = ok(&[
        "-c",
        "f.c",
        "-frecord-gcc-switches",
        "-gno-record-gcc-switches",
    ]);
    assert!(recorded(&c).is_some());
    let c = ok(&[
        "-c",
        "f.c",
        "-grecord-gcc-switches",
        "-fno-record-gcc-switches",
    ]);
    assert!(recorded(&c).is_some());
    // `-grecord-gcc-switches` does not by itself turn debug info on.
    assert!(!ok(&["-c", "f.c", "-grecord-gcc-switches"]).cwd_in_key);
}

#[test]
fn recorded_command_line_keeps_response_file_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rsp"), "-c f.c").unwrap();
    std::fs::write(dir.path().join("b.rsp"), "-c f.c").unwrap();
    let key = |rsp: &str| match parse_in(&["-frecord-gcc-switches", rsp], dir.path()) {
        Parsed::Cacheable(c) => c.key_args,
        other => panic!("{other:?}"),
    };
    let a = key("@a.rsp");
    assert_eq!(
        strs(&a),
        [
            "-frecord-gcc-switches",
            RECORDED_COMMAND_LINE,
            "2",
            "-frecord-gcc-switches",
            "@a.rsp",
            "3",
            "-frecord-gcc-switches",
            "-c",
            "f.c"
        ]
    );
    assert_ne!(a, key("@b.rsp"));
}
