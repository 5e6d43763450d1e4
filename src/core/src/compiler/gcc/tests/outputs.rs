//! Tests of the files a compile writes: the object, the dependency file, split DWARF and
//! coverage notes, and outputs that name a device.

use super::*;

#[test]
fn default_and_attached_output() {
    assert_eq!(
        output(&ok(&["-c", "src/dir/foo.cpp"]), OutputRole::Object),
        Some("foo.o")
    );
    assert_eq!(
        output(&ok(&["-c", "a.c", "-oout/a.o"]), OutputRole::Object),
        Some("out/a.o")
    );
    assert_eq!(
        output(&ok(&["-c", "a.c", "--output=x.o"]), OutputRole::Object),
        Some("x.o")
    );
    assert_eq!(
        output(&ok(&["-c", "a.c", "--output", "y.o"]), OutputRole::Object),
        Some("y.o")
    );
}

#[test]
fn output_path_is_never_in_key_or_preprocess() {
    let c = ok(&["-O2", "-c", "-o", "build/x.o", "x.c", "-Wall"]);
    assert_eq!(strs(&c.key_args), ["-O2", "-Wall"]);
    assert_eq!(strs(&c.preprocess_args), ["-O2", "x.c", "-Wall", "-E"]);
}

#[test]
fn md_mf_keeps_path_out_and_target_in() {
    let c = ok(&[
        "-c", "f.c", "-o", "obj/f.o", "-MD", "-MF", "deps/f.d", "-MT", "tgt",
    ]);
    assert_eq!(strs(&c.key_args), ["-MD", "-MT", "tgt"]);
    assert_eq!(output(&c, OutputRole::DepFile), Some("deps/f.d"));
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    let c = ok(&["-c", "f.c", "-MMD", "-MFdeps/f.d", "-MQ$x", "-MP"]);
    assert_eq!(strs(&c.key_args), ["-MMD", "-MQ$x", "-MP"]);
    assert_eq!(output(&c, OutputRole::DepFile), Some("deps/f.d"));
    assert_eq!(c.outputs[0].role, OutputRole::Object);
}

#[test]
fn md_without_target_keys_object_path() {
    let c = ok(&["-c", "f.c", "-o", "obj/f.o", "-MD"]);
    assert_eq!(strs(&c.key_args), ["-MD", "-MQ", "obj/f.o"]);
    assert_eq!(output(&c, OutputRole::DepFile), Some("obj/f.d"));
    let c = ok(&["-c", "src/f.c", "-MMD"]);
    assert_eq!(strs(&c.key_args), ["-MMD", "-MQ", "f.o"]);
    assert_eq!(output(&c, OutputRole::DepFile), Some("f.d"));
}

/// gcc's default dependency file replaces the object's suffix, a leading dot included.
#[test]
fn the_default_dependency_file_is_named_as_gcc_names_it() {
    for (object, dep) in [
        ("obj/f.o", "obj/f.d"),
        ("o/x.y.z", "o/x.y.d"),
        ("noext", "noext.d"),
        (".hid", ".d"),
        ("o/.hid", "o/.d"),
        (".a.o", ".a.d"),
    ] {
        let c = ok(&["-c", "f.c", "-o", object, "-MD"]);
        assert_eq!(output(&c, OutputRole::DepFile), Some(dep), "{object}");
    }
}

#[test]
fn mf_alone_is_ignored() {
    let c = ok(&["-c", "f.c", "-MF", "x.d", "-MT", "t"]);
    assert_eq!(c.outputs.len(), 1);
    assert_eq!(strs(&c.key_args), ["-MT", "t"]);
    assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
}

#[test]
fn split_dwarf() {
    let c = ok(&["-c", "f.c", "-o", "out/f.o", "-g", "-gsplit-dwarf"]);
    assert_eq!(output(&c, OutputRole::SplitDwarf), Some("out/f.dwo"));
    assert_eq!(strs(&c.key_args), ["-g", "-gsplit-dwarf", "-o", "out/f.o"]);
    assert!(c.cwd_in_key);
    let c = ok(&["-c", "f.c", "-gsplit-dwarf"]);
    assert_eq!(output(&c, OutputRole::SplitDwarf), Some("f.dwo"));
    assert!(c.cwd_in_key);
    let c = ok(&["-c", "f.c", "-g", "-gsplit-dwarf", "-gno-split-dwarf"]);
    assert_eq!(output(&c, OutputRole::SplitDwarf), None);
    assert_eq!(
        no(&["-c", "f.c", "-gsplit-dwarf", "-g0"]),
        "-gsplit-dwarf with -g0"
    );
    assert_eq!(
        no(&["-c", "f.c", "-g0", "-gsplit-dwarf"]),
        "-gsplit-dwarf with -g0"
    );
}

#[test]
fn coverage() {
    let c = ok(&["-c", "f.c", "-o", "o/f.o", "--coverage"]);
    assert_eq!(output(&c, OutputRole::CoverageNotes), Some("o/f.gcno"));
    assert_eq!(strs(&c.key_args), ["--coverage", "-o", "o/f.o"]);
    assert!(c.cwd_in_key);
    let c = ok(&["-c", "f.c", "-ftest-coverage"]);
    assert_eq!(output(&c, OutputRole::CoverageNotes), Some("f.gcno"));
    assert!(c.cwd_in_key);
    for flag in [
        "-fprofile-arcs",
        "-fprofile-generate",
        "-fprofile-generate=dir",
    ] {
        let c = ok(&["-c", "f.c", flag]);
        assert_eq!(c.outputs.len(), 1, "{flag}");
        assert_eq!(strs(&c.key_args), [flag, "-o", "f.o"]);
        assert!(c.cwd_in_key, "{flag}");
    }
}

#[test]
fn all_outputs_in_order() {
    let c = ok(&[
        "-c",
        "f.c",
        "-o",
        "f.o",
        "-MD",
        "-g",
        "-gsplit-dwarf",
        "--coverage",
    ]);
    let roles: Vec<_> = c.outputs.iter().map(|o| o.role).collect();
    assert_eq!(
        roles,
        [
            OutputRole::Object,
            OutputRole::DepFile,
            OutputRole::SplitDwarf,
            OutputRole::CoverageNotes
        ]
    );
    assert_eq!(
        strs(&c.key_args),
        [
            "-MD",
            "-g",
            "-gsplit-dwarf",
            "--coverage",
            "-MQ",
            "f.o",
            "-o",
            "f.o"
        ]
    );
}

#[test]
fn output_to_a_device() {
    for extra in [
        &["--output=/dev/stdout"][..],
        &["-o", "/dev/fd/1"],
        &["-o", "/proc/self/fd/1"],
        &["-o", "/tmp/../dev/stdout"],
        // The dependency file would be `/dev/null.d`.
        &["-o", "/dev/null", "-MD"],
        &["-o", "/dev/null", "-gsplit-dwarf", "-g"],
        &["-o", "f.o", "-MMD", "-MF/dev/stdout"],
    ] {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        assert_eq!(no(&args), "output to a device", "{extra:?}");
    }
    // Relative paths are read from the working directory.
    assert_eq!(
        // (The input is elsewhere: one under /dev would be refused as an input from a device.)
        parse_in(&["-c", "/src/f.c", "-o", "stdout"], Path::new("/dev")),
        Parsed::NotCacheable("output to a device".into())
    );
    assert_eq!(
        parse_in(&["-c", "f.c", "-o", "../dev/stdout"], Path::new("/tmp")),
        Parsed::NotCacheable("output to a device".into())
    );
    // Only paths the compile writes count; an `-MF` without `-MD` writes nothing.
    ok(&["-c", "f.c", "-MF", "/dev/null"]);
    ok(&["-c", "f.c", "-o", "/tmp/device.o", "-I/dev/include"]);
    ok(&["-c", "f.c", "-o", "/devices/f.o"]);
    // A build in the memory file system is an ordinary build.
    assert!(matches!(
        parse_in(&["-c", "f.c", "-o", "f.o"], Path::new("/dev/shm/build")),
        Parsed::Cacheable(_)
    ));
    assert_eq!(
        parse_in(&["-c", "f.c", "-o", "dev/null"], Path::new("/home")),
        Parsed::Cacheable(ok(&["-c", "f.c", "-o", "dev/null"]))
    );
}

/// gcc refuses to write over its input, clang overwrites it: a hit must never.
#[test]
fn an_output_that_is_the_input_is_refused() {
    for extra in [
        &["-o", "f.c"][..],
        &["-o", "./f.c"],
        &["-o", "sub/../f.c"],
        &["-o", "f.o", "-MD", "-MF", "f.c"],
    ] {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        assert_eq!(no(&args), "an output is the input", "{extra:?}");
    }
    // Another name of the same file (a hard link) is the same file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.c"), "int f;\n").unwrap();
    std::fs::hard_link(dir.path().join("f.c"), dir.path().join("g.o")).unwrap();
    assert_eq!(
        parse_in(&["-c", "f.c", "-o", "g.o"], dir.path()),
        Parsed::NotCacheable("an output is the input".into())
    );
    assert!(matches!(
        parse_in(&["-c", "f.c", "-o", "h.o"], dir.path()),
        Parsed::Cacheable(_)
    ));
}

#[test]
fn an_output_to_dev_null_is_left_out_and_keyed_as_discarded() {
    for (extra, kept, discarded) in [
        (&["-o", "/dev/null"][..], &[][..], "obj"),
        (&["-o/dev/null"], &[], "obj"),
        (&["-o", "/tmp/../dev/null"], &[], "obj"),
        (
            &["-o", "/dev/null", "-MD", "-MF", "f.d"],
            &[OutputRole::DepFile],
            "obj",
        ),
        (
            &["-o", "f.o", "-MD", "-MF", "/dev/null"],
            &[OutputRole::Object],
            "d",
        ),
    ] {
        let mut args = vec!["-c", "f.c"];
        args.extend_from_slice(extra);
        let c = ok(&args);
        let roles: Vec<OutputRole> = c.outputs.iter().map(|output| output.role).collect();
        assert_eq!(roles, kept, "{extra:?}");
        let key = strs(&c.key_args);
        let at = key.iter().position(|arg| *arg == DISCARDED_OUTPUT);
        assert_eq!(at.map(|at| key[at + 1]), Some(discarded), "{key:?}");
    }
    // The same compile keeping its object has another key.
    assert!(!strs(&ok(&["-c", "f.c", "-o", "f.o"]).key_args).contains(&DISCARDED_OUTPUT));
    assert!(matches!(
        parse_in(&["-c", "/src/f.c", "-o", "null"], Path::new("/dev")),
        Parsed::Cacheable(c) if c.outputs.is_empty()
    ));
}
