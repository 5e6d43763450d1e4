//! C compiles that must never be served a wrong hit, each one found by a review: outputs that
//! are not regular files, two drivers of one binary, dependency files named by the environment,
//! files the assembler reads, identical sources under other names, macros recorded in debug
//! info, a preprocessor output written twice, a preprocessor that fails after writing.

use crate::harness::{
    assert_outcomes_add_up, assert_same_file, assert_success, compile_through_wrapper, count,
    fixture, have, read, run, Server,
};
use std::path::Path;
use std::process::Command;

/// Compiles without sccache, for comparison.
fn plain_compile(dir: &Path, compiler: &str, args: &[&str]) {
    let output = run(Command::new(compiler).current_dir(dir).args(args));
    assert_success(&output, &format!("plain {compiler} {args:?}"));
}

/// `-o` naming the source (gcc: "input file is the same as output file"), or `-MF -` (the
/// rule on stdout): after the same source's object is stored, neither is a hit that writes
/// over the source or into a file named `-`.
#[test]
fn an_output_naming_the_source_or_stdout_is_never_a_hit() {
    let server = Server::start();
    let dir = fixture("c");
    let source = read(&dir.path().join("util.c"));
    for extra in [&[][..], &["-MD"]] {
        let mut args = vec!["-c", "util.c", "-o", "util.o"];
        args.extend_from_slice(extra);
        assert_success(&server.compile(dir.path(), "gcc", &args), "-o util.o");
    }
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 2);
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "util.c", "-o", "./util.c"]));
    let cached = server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "./util.c"]);
    assert_eq!(cached.status.code(), plain.status.code());
    assert_eq!(cached.stderr, plain.stderr);
    assert_eq!(
        read(&dir.path().join("util.c")),
        source,
        "the source was replaced"
    );

    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "util.c", "-o", "util.o", "-MD", "-MF", "-"]));
    assert_success(&plain, "plain -MF -");
    let cached = server.compile(
        dir.path(),
        "gcc",
        &["-c", "util.c", "-o", "util.o", "-MD", "-MF", "-"],
    );
    assert_success(&cached, "-MF -");
    assert_eq!(cached.stdout, plain.stdout);
    assert!(!dir.path().join("-").exists(), "a file named - was written");
}

/// gcc's LTO objects record the working directory for relative source names, debug info or
/// not: the same source compiled in another directory is its own object.
#[test]
fn an_lto_object_compiled_in_another_directory_is_its_own() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "false")]);
    // (A fixed seed: LTO objects otherwise hold a random one.)
    let args = ["-flto", "-frandom-seed=1", "-c", "util.c", "-o", "util.o"];
    let (one, two) = (fixture("c"), fixture("c"));
    assert_success(&server.compile(one.path(), "gcc", &args), "first");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    assert_success(&server.compile(two.path(), "gcc", &args), "second");
    let cached = read(&two.path().join("util.o"));
    plain_compile(two.path(), "gcc", &args);
    assert!(
        cached == read(&two.path().join("util.o")),
        "the other directory's object"
    );
}

/// clang writes no `.dwo` for `-gsplit-dwarf` without `-g`, where gcc does: a `.dwo` an earlier
/// build left there is no output of this compile, is never stored, and no hit writes it.
#[test]
fn a_side_output_the_compile_did_not_write_is_never_stored() {
    assert!(
        have("clang"),
        "clang is not installed (.ci/run installs clang)"
    );
    let server = Server::start();
    let dir = fixture("c");
    std::fs::write(dir.path().join("util.dwo"), "stale\n").unwrap_or_default();
    let args = ["-gsplit-dwarf", "-c", "util.c", "-o", "util.o"];
    for _ in 0..2 {
        assert_success(&server.compile(dir.path(), "clang", &args), "clang");
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_write_errors") >= 1
        });
    }
    assert_eq!(read(&dir.path().join("util.dwo")), b"stale\n");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
}

/// gcc writes a section attribute's name into the assembly as it is, escapes decoded: one that
/// spells `.incbin` makes the assembler read a file no key holds, so a changed file is never a
/// hit's old bytes.
#[test]
fn an_incbin_in_a_section_name_is_never_a_stale_hit() {
    for direct in ["true", "false"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = fixture("c");
        std::fs::write(
            dir.path().join("sec.c"),
            "__attribute__((section(\"mysec\\n\\t\\x2eincbin \\\"data.bin\\\"\\n#\")))\n\
             int x = 1;\n",
        )
        .unwrap_or_default();
        let args = ["-c", "sec.c", "-o", "sec.o"];
        std::fs::write(dir.path().join("data.bin"), "AAAA").unwrap_or_default();
        assert_success(&server.compile(dir.path(), "gcc", &args), "first");
        // Stored, or refused.
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "requests_not_cacheable") >= 1
        });
        std::fs::write(dir.path().join("data.bin"), "BBBB").unwrap_or_default();
        assert_success(&server.compile(dir.path(), "gcc", &args), "second");
        let cached = read(&dir.path().join("sec.o"));
        plain_compile(dir.path(), "gcc", &args);
        assert!(
            cached == read(&dir.path().join("sec.o")),
            "direct={direct}: stale object"
        );
    }
}

/// gas writes the working directory into the line table of an assembler source with `.file` and
/// `.loc` directives, `-g` or not: the same source assembled in another checkout is its own.
#[test]
fn an_assembler_source_with_line_directives_in_another_directory_is_its_own() {
    for direct in ["true", "false"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let text = ".file 1 \"a.c\"\n.text\n.globl f\nf:\n.loc 1 1 0\nret\n";
        let args = ["-c", "a.s", "-o", "a.o"];
        let (one, two) = (fixture("c"), fixture("c"));
        for dir in [&one, &two] {
            std::fs::write(dir.path().join("a.s"), text).unwrap_or_default();
        }
        // Past the file system's clock tick: a source written in the compile's tick keeps its
        // result out of the cache.
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_success(&server.compile(one.path(), "gcc", &args), "first");
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "requests_not_cacheable") >= 1
        });
        assert_success(&server.compile(two.path(), "gcc", &args), "second");
        let cached = read(&two.path().join("a.o"));
        plain_compile(two.path(), "gcc", &args);
        assert!(
            cached == read(&two.path().join("a.o")),
            "direct={direct}: the other directory's object"
        );
    }
}

/// clang writes a non-ASCII name in its line markers with octal escapes (`jos\303\251`): the
/// file is found by its real name, and such a compile is cached like any other.
#[test]
fn a_header_in_a_non_ascii_directory_is_cached_with_clang() {
    assert!(
        have("clang"),
        "clang is not installed (.ci/run installs clang)"
    );
    let server = Server::start_with(&[("SCCACHE_DIRECT", "false")]);
    let dir = fixture("c");
    std::fs::create_dir_all(dir.path().join("josé")).unwrap_or_default();
    std::fs::write(dir.path().join("josé/h.h"), "int h = 1;\n").unwrap_or_default();
    std::fs::write(
        dir.path().join("u.c"),
        "#include \"h.h\"\nint u(void) { return h; }\n",
    )
    .unwrap_or_default();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let args = ["-Ijosé", "-c", "u.c", "-o", "u.o"];
    for _ in 0..2 {
        assert_success(&server.compile(dir.path(), "clang", &args), "clang");
        server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "requests_not_cacheable") >= 1
        });
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    let cached = read(&dir.path().join("u.o"));
    plain_compile(dir.path(), "clang", &args);
    assert!(
        cached == read(&dir.path().join("u.o")),
        "not the plain object"
    );
}

#[test]
fn outputs_that_are_not_regular_files_are_neither_stored_nor_replaced() {
    let server = Server::start();
    let dir = fixture("c");
    plain_compile(dir.path(), "gcc", &["-c", "util.c", "-o", "plain.o"]);
    // A compile to /dev/null must not leave an empty "object" for later compiles to hit.
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "/dev/null"]),
        "-o /dev/null",
    );
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "-o util.o",
    );
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert!(
        std::fs::metadata("/dev/null").is_ok_and(|metadata| !metadata.is_file()),
        "/dev/null was replaced"
    );

    // An output reached through a symlink is written through it, on a miss and on a hit.
    std::os::unix::fs::symlink("real.o", dir.path().join("link.o"))
        .unwrap_or_else(|error| panic!("{error}"));
    for _ in 0..2 {
        std::fs::remove_file(dir.path().join("real.o")).unwrap_or_default();
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "link.o"]),
            "-o link.o",
        );
        let link = std::fs::symlink_metadata(dir.path().join("link.o"))
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(
            link.file_type().is_symlink(),
            "link.o was replaced by a file"
        );
        assert_same_file(&dir.path().join("real.o"), &dir.path().join("plain.o"));
    }
}

#[test]
fn clang_and_clangxx_never_share_an_entry() {
    assert!(
        have("clang++"),
        "clang++ is not installed (.ci/run installs clang)"
    );
    let server = Server::start();
    let dir = fixture("c");
    std::fs::write(
        dir.path().join("add.c"),
        "int add2(int a, int b) { return a + b; }\n",
    )
    .unwrap_or_default();
    // `-P` drops line markers, which would otherwise differ between the two drivers.
    plain_compile(
        dir.path(),
        "clang++",
        &["-P", "-c", "add.c", "-o", "plain.o"],
    );
    assert_success(
        &server.compile(dir.path(), "clang", &["-P", "-c", "add.c", "-o", "c.o"]),
        "clang",
    );
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let cxx = server.compile(dir.path(), "clang++", &["-P", "-c", "add.c", "-o", "cxx.o"]);
    assert_success(&cxx, "clang++");
    assert_same_file(&dir.path().join("cxx.o"), &dir.path().join("plain.o"));
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 0);
}

#[test]
fn dependency_output_variables_are_not_cacheable() {
    let server = Server::start();
    let dir = fixture("c");
    for _ in 0..2 {
        let output = run(server
            .command(crate::harness::sccache_bin())
            .current_dir(dir.path())
            .env("DEPENDENCIES_OUTPUT", "deps.txt")
            .args(["gcc", "-c", "util.c", "-o", "util.o"]));
        assert_success(&output, "compile with DEPENDENCIES_OUTPUT");
    }
    let rules = String::from_utf8_lossy(&read(&dir.path().join("deps.txt"))).into_owned();
    assert_eq!(rules.matches("util.o:").count(), 2, "{rules}");
    let stats = server.stats();
    assert_eq!(
        stats["stats"]["not_cached"]["DEPENDENCIES_OUTPUT"], 2,
        "{stats:#}"
    );
}

#[test]
fn files_the_assembler_includes_make_a_compile_uncacheable() {
    let server = Server::start();
    let dir = fixture("c");
    std::fs::write(
        dir.path().join("embed.c"),
        "__asm__(\".section .rodata\\nblob: .incbin \\\"blob.bin\\\"\\n.text\");\nint embed(void) { return 1; }\n",
    )
    .unwrap_or_default();
    for content in ["AAAA", "BBBB"] {
        std::fs::write(dir.path().join("blob.bin"), content).unwrap_or_default();
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", "embed.c", "-o", "embed.o"]),
            "embed",
        );
        plain_compile(dir.path(), "gcc", &["-c", "embed.c", "-o", "plain.o"]);
        assert_same_file(&dir.path().join("embed.o"), &dir.path().join("plain.o"));
    }
    let stats = server.stats();
    assert_eq!(stats["stats"]["not_cached"][".incbin"], 2, "{stats:#}");
    assert_eq!(count(&stats, "non_cacheable_compilations"), 2, "{stats:#}");
    assert_outcomes_add_up(&stats);
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
}

#[test]
fn identical_sources_under_other_names_do_not_share_an_object() {
    let server = Server::start();
    let dir = fixture("c");
    let body = "int same(void) { return 7; }\n";
    for name in ["p3.c", "p4.c"] {
        std::fs::write(dir.path().join(name), body).unwrap_or_default();
    }
    for name in ["p3", "p4"] {
        let (source, object) = (format!("{name}.c"), format!("{name}.o"));
        assert_success(
            &server.compile(dir.path(), "gcc", &["-P", "-c", &source, "-o", &object]),
            &source,
        );
        server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
        plain_compile(dir.path(), "gcc", &["-P", "-c", &source, "-o", "plain.o"]);
        assert_same_file(&dir.path().join(&object), &dir.path().join("plain.o"));
    }
}

#[test]
fn macros_recorded_in_debug_info_reach_the_key() {
    assert!(
        have("clang"),
        "clang is not installed (.ci/run installs it)"
    );
    let server = Server::start();
    let dir = fixture("c");
    for value in ["222", "333"] {
        std::fs::write(
            dir.path().join("m.h"),
            format!("#define UNUSED_MACRO {value}\n"),
        )
        .unwrap_or_default();
        std::fs::write(
            dir.path().join("x.c"),
            "#include \"m.h\"\nint f(void) { return 3; }\n",
        )
        .unwrap_or_default();
        let args = ["-fdebug-macro", "-g", "-c", "x.c", "-o", "x.o"];
        assert_success(
            &server.compile(dir.path(), "clang", &args),
            "clang -fdebug-macro",
        );
        plain_compile(
            dir.path(),
            "clang",
            &["-fdebug-macro", "-g", "-c", "x.c", "-o", "plain.o"],
        );
        assert_same_file(&dir.path().join("x.o"), &dir.path().join("plain.o"));
        server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    }
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 0);
}

#[test]
fn a_preprocessor_output_written_twice_is_keyed_by_its_last_contents() {
    // The server digests the preprocessor's output as soon as the file is closed, while the
    // driver exits. A compiler that writes that file twice must be keyed by what it wrote
    // last: this "gcc" first writes other text there, then runs the real preprocessor.
    let server = Server::start();
    let dir = fixture("c");
    let text = r#"#!/bin/sh
if [ -n "$STALE_FIRST" ]; then
  case " $* " in *" -E "*)
    previous=""
    for arg in "$@"; do
      if [ "$previous" = -o ]; then printf 'int stale;\n' > "$arg"; sleep 0.2; fi
      previous="$arg"
    done;;
  esac
fi
exec gcc "$@"
"#;
    let compile = |stale: bool| {
        let env: &[(&str, &str)] = if stale { &[("STALE_FIRST", "1")] } else { &[] };
        let output = compile_through_wrapper(&server, dir.path(), text, env);
        assert_success(&output, "wrap/gcc -c util.c");
    };
    compile(true);
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    // The same compile without the stale write must find what the first one stored.
    compile(false);
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats}");
    plain_compile(dir.path(), "gcc", &["-c", "util.c", "-o", "plain.o"]);
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert_outcomes_add_up(&stats);
}

#[test]
fn a_preprocessor_that_fails_after_writing_changes_no_output() {
    // The server looks a hit up and prepares its restore as soon as the preprocessor's output
    // is closed, before the driver exits. If the driver then fails, nothing of that hit may
    // reach the outputs: this "gcc" preprocesses for real, then exits 1, and fails compiles.
    let server = Server::start();
    let dir = fixture("c");
    let text = r#"#!/bin/sh
if [ -n "$FAIL_AFTER_PREPROCESSING" ]; then
  case " $* " in *" -E "*) gcc "$@"; exit 1;; esac
  echo "wrap: compile failed" >&2
  exit 1
fi
exec gcc "$@"
"#;
    let compile = |fail: bool| {
        let env: &[(&str, &str)] = if fail {
            &[("FAIL_AFTER_PREPROCESSING", "1")]
        } else {
            &[]
        };
        compile_through_wrapper(&server, dir.path(), text, env)
    };
    assert_success(&compile(false), "wrap/gcc -c util.c");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    let object = read(&dir.path().join("util.o"));
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    // The output missing, holding other bytes, and holding the entry's own bytes (which a hit
    // would only touch).
    for before in [None, Some(b"not this object".to_vec()), Some(object)] {
        let path = dir.path().join("util.o");
        let _ = std::fs::remove_file(&path);
        if let Some(bytes) = &before {
            std::fs::write(&path, bytes).unwrap_or_else(|error| panic!("{error}"));
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(an_hour_ago))
                .unwrap_or_else(|error| panic!("{error}"));
        }
        let output = compile(true);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("wrap: compile failed"),
            "{output:?}"
        );
        assert!(std::fs::read(&path).ok() == before, "the output changed");
        if before.is_some() {
            let modified = std::fs::metadata(&path).and_then(|metadata| metadata.modified());
            assert_eq!(modified.ok(), Some(an_hour_ago), "the output was touched");
        }
        // An unused preparation is freed on the blocking pool (closing a written file may
        // flush it), which can finish just after the reply: wait for that, not forever.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap_or_else(|error| panic!("{error}"))
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.file_name().to_string_lossy().starts_with(".sccache"))
                .collect();
            if leftovers.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "temporary files left: {leftovers:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats}");
    assert_outcomes_add_up(&stats);
}
