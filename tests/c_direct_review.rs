//! Direct mode against the eighth hostile review (session 14): each case a wrong result the
//! review got from a direct hit, a replay or a probe, now checked against a plain compile
//! after the change, with gcc and clang where both apply.

use crate::c_direct::{compilers, refused_after, Project};
use crate::harness::{assert_success, count, run, sccache_bin};
use std::process::Command;

/// Sets a file's modification time (and so moves its change time).
fn set_modified(project: &Project, name: &str, when: std::time::SystemTime) {
    let file = std::fs::File::options()
        .write(true)
        .open(project.path(name))
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    file.set_modified(when)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
}

/// A header included twice under two names: `r` is 2 when the compiler reads both, 1 when
/// it takes the second for the first (gcc: same size, modification second and bytes; clang:
/// same inode).
const TWICE: &str = "#pragma once\n#ifdef SEEN\n#define TWICE 1\n#endif\n#define SEEN\n";
const INCLUDES_TWINS: &str =
    "#include \"a.h\"\n#include \"b.h\"\n#ifdef TWICE\nint r = 2;\n#else\nint r = 1;\n#endif\n";

#[test]
fn pragma_once_twins_touched_or_relinked_are_never_served_stale() {
    for compiler in compilers() {
        // Two copies with other modification times: both read; then the second is given the
        // first one's time, and gcc skips it.
        let project = Project::new(&[("a.c", INCLUDES_TWINS), ("a.h", TWICE), ("b.h", TWICE)]);
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        set_modified(&project, "a.h", past);
        set_modified(&project, "b.h", past + std::time::Duration::from_secs(60));
        refused_after(&project, compiler, &["-c", "a.c"], || {
            set_modified(&project, "b.h", past)
        });
        // A hard link: skipped by both; then replaced by a copy of its own (same bytes).
        let project = Project::new(&[("a.c", INCLUDES_TWINS), ("a.h", TWICE)]);
        set_modified(&project, "a.h", past);
        std::fs::hard_link(project.path("a.h"), project.path("b.h")).unwrap();
        refused_after(&project, compiler, &["-c", "a.c"], || {
            std::fs::copy(project.path("a.h"), project.path("b.tmp")).unwrap();
            std::fs::rename(project.path("b.tmp"), project.path("b.h")).unwrap();
        });
        // No `#pragma once` anywhere: a touched header of another's size still hits directly.
        let project = Project::new(&[
            (
                "a.c",
                "#include \"a.h\"\n#include \"b.h\"\nint r = A + B;\n",
            ),
            ("a.h", "#define A 1\n"),
            ("b.h", "#define B 1\n"),
        ]);
        assert!(!project.compile(compiler, &["-c", "a.c"], &[]), "first");
        assert!(project.compile(compiler, &["-c", "a.c"], &[]), "second");
        set_modified(&project, "a.h", std::time::SystemTime::now());
        assert!(project.compile(compiler, &["-c", "a.c"], &[]), "touched");
    }
}

#[test]
fn a_system_header_through_a_relinked_directory_link_is_searched_again() {
    // gcc names a system header by its shortest real path (sdk/v1/...), not the one searched.
    for compiler in compilers() {
        let project = Project::new(&[
            (
                "a.c",
                "#include <sdk.h>\nint f(void) { return SDK_VERSION; }\n",
            ),
            ("sdk/v1/include/sdk.h", "#define SDK_VERSION 1\n"),
            ("sdk/v2/include/sdk.h", "#define SDK_VERSION 2\n"),
        ]);
        std::os::unix::fs::symlink("v1", project.path("sdk/current")).unwrap();
        let include = project.path("sdk/current/include");
        let include = include.to_str().unwrap();
        refused_after(
            &project,
            compiler,
            &["-c", "a.c", "-isystem", include],
            || {
                std::fs::remove_file(project.path("sdk/current")).unwrap();
                std::os::unix::fs::symlink("v2", project.path("sdk/current")).unwrap();
            },
        );
    }
}

#[test]
fn a_shadowing_name_that_is_no_regular_file_is_read() {
    let source = "#include \"conf.h\"\n#ifndef CONF\n#define CONF 7\n#endif\n\
                  int value(void) { return CONF; }\n";
    for compiler in compilers() {
        let project = Project::new(&[("a.c", source), ("inc2/conf.h", "#define CONF 2\n")]);
        std::fs::create_dir(project.path("inc1")).unwrap();
        let args = ["-c", "a.c", "-Iinc1", "-Iinc2"];
        assert!(!project.compile(compiler, &args, &[]), "first");
        assert!(project.compile(compiler, &args, &[]), "second");
        // The compiler opens a device as it opens a file: it reads /dev/null here.
        std::os::unix::fs::symlink("/dev/null", project.path("inc1/conf.h")).unwrap();
        assert!(
            !project.compile(compiler, &args, &[]),
            "a direct hit after /dev/null"
        );
    }
}

#[test]
fn has_include_by_a_macro_or_over_lines_is_searched_again() {
    // xxhash.h's way: an object-like macro defined as the operator, used in another file.
    let compat = "#ifdef __has_include\n# define MY_HAS_INCLUDE __has_include\n\
                  #else\n# define MY_HAS_INCLUDE(x) 0\n#endif\n";
    let by_macro = "#include \"compat.h\"\n#if MY_HAS_INCLUDE(\"config.h\")\nint have = 1;\n\
                    #else\nint have = 0;\n#endif\n";
    let over_lines = "#if __has_\\\ninclude(\"config.h\")\nint have = 1;\n\
                      #else\nint have = 0;\n#endif\n";
    for compiler in compilers() {
        for source in [by_macro, over_lines] {
            let project = Project::new(&[("a.c", source), ("compat.h", compat)]);
            refused_after(&project, compiler, &["-c", "a.c"], || {
                project.write("config.h", "/* generated */\n")
            });
        }
    }
}

#[test]
fn pragma_gcc_dependency_records_no_direct_result() {
    // The compiler warns when the file named is newer than the one that names it: a matter of
    // modification times, which a record keyed by contents does not hold.
    let project = Project::new(&[
        (
            "a.c",
            "#pragma GCC dependency \"dep.txt\"\nint v(void) { return 1; }\n",
        ),
        ("dep.txt", "x\n"),
    ]);
    for compiler in compilers() {
        for _ in 0..2 {
            project.compile(compiler, &["-c", "a.c"], &[]);
        }
    }
    let stats = project.server.stats();
    assert!(
        count(&stats, "not_direct.#pragma GCC dependency") >= 2,
        "{stats:#}"
    );
    assert_eq!(count(&stats, "direct_hits"), 0, "{stats:#}");
}

/// Runs `compiler args` through the project's server and plainly, with `env`; both outputs.
fn both(
    project: &Project,
    compiler: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Output, std::process::Output) {
    std::thread::sleep(std::time::Duration::from_millis(30));
    let cached = run(project
        .server
        .command(sccache_bin())
        .current_dir(project.dir.path())
        .arg(compiler)
        .args(args)
        .envs(env.iter().copied()));
    let plain = run(Command::new(compiler)
        .current_dir(project.dir.path())
        .args(args)
        .envs(env.iter().copied()));
    (cached, plain)
}

#[test]
fn dependencies_output_gets_the_compile_s_rule_alone_on_a_new_server() {
    // The new server's compiler probe ran with the client's environment and appended a rule
    // for its own probe file. (gcc's variable; clang reads it only with -MD or -MMD.)
    {
        let compiler = "gcc";
        let project = Project::new(&[("a.c", "#include \"h.h\"\nint v;\n"), ("h.h", "\n")]);
        std::thread::sleep(std::time::Duration::from_millis(30));
        let cached = run(project
            .server
            .command(sccache_bin())
            .current_dir(project.dir.path())
            .args([compiler, "-c", "a.c", "-o", "a.o"])
            .env("DEPENDENCIES_OUTPUT", "cached.d"));
        assert_success(&cached, "cached");
        let plain = run(Command::new(compiler)
            .current_dir(project.dir.path())
            .args(["-c", "a.c", "-o", "a.o"])
            .env("DEPENDENCIES_OUTPUT", "plain.d"));
        assert_success(&plain, "plain");
        let read = |name: &str| std::fs::read_to_string(project.path(name)).unwrap();
        assert_eq!(read("cached.d"), read("plain.d"), "{compiler}");
        let stats = project.server.stats();
        assert_eq!(
            count(&stats, "not_cached.DEPENDENCIES_OUTPUT"),
            1,
            "{stats:#}"
        );
    }
}

#[test]
fn environment_that_changes_what_the_compiler_prints_is_in_the_key_or_not_cached() {
    // A fix-it hint, printed in a second form by gcc when asked.
    let project = Project::new(&[("a.c", "int f(void) { printf(\"x\"); return 0; }\n")]);
    let args = ["-c", "a.c", "-o", "a.o"];
    let fixits = [("GCC_EXTRA_DIAGNOSTIC_OUTPUT", "fixits-v2")];
    let (first, _) = both(&project, "gcc", &args, &[]);
    assert_success(&first, "first");
    project
        .server
        .wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    let (cached, plain) = both(&project, "gcc", &args, &fixits);
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("fix-it:"),
        "{plain:?}"
    );
    assert_eq!(cached.stderr, plain.stderr);
    // clang's reports of the headers and options of each run.
    if crate::harness::have("clang") {
        let project = Project::new(&[
            ("a.c", "#include \"h.h\"\nint v = X;\n"),
            ("h.h", "#define X 1\n"),
        ]);
        for var in ["CC_PRINT_HEADERS", "CC_PRINT_OPTIONS"] {
            for _ in 0..2 {
                let (cached, plain) = both(&project, "clang", &args, &[(var, "1")]);
                assert_success(&cached, var);
                assert!(!plain.stderr.is_empty(), "{var}: {plain:?}");
                assert_eq!(cached.stderr.is_empty(), plain.stderr.is_empty(), "{var}");
            }
            let stats = project.server.stats();
            assert_eq!(count(&stats, &format!("not_cached.{var}")), 2, "{stats:#}");
        }
    }
}
