//! Direct mode against the eighth hostile review (session 14): each case a wrong result the
//! review got from a direct hit, a replay or a probe, now checked against a plain compile
//! after the change, with gcc and clang where both apply.

use crate::c_direct::{compilers, refused_after, Project};
use crate::harness::{assert_success, count, run, sccache_bin};
use std::path::Path;
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

// The second review of this session: the command line, spellings, the driver's own files.

#[test]
fn an_absolute_has_include_is_searched_where_it_says() {
    for compiler in compilers() {
        let project = Project::new(&[("opt/.keep", "")]);
        let feature = project.path("opt/feature.h");
        project.write(
            "a.c",
            &format!(
                "#if __has_include(\"{}\")\nint feature = 1;\n#else\nint feature = 0;\n#endif\n",
                feature.display()
            ),
        );
        refused_after(&project, compiler, &["-c", "a.c"], || {
            project.write("opt/feature.h", "\n")
        });
    }
}

#[test]
fn a_command_line_macro_with_the_clock_or_the_operator_takes_the_preprocessor() {
    let project = Project::new(&[
        (
            "a.c",
            "#if HAVE_OPT\nint v = 1;\n#else\nint v = 0;\n#endif\n",
        ),
        ("inc/.keep", ""),
    ]);
    let args = ["-c", "a.c", "-Iinc", "-DHAVE_OPT=__has_include(<opt.h>)"];
    for _ in 0..2 {
        assert!(
            !project.compile("gcc", &args, &[]),
            "direct with __has_include in -D"
        );
    }
    project.write("inc/opt.h", "\n");
    assert!(!project.compile("gcc", &args, &[]), "after opt.h");
    let stats = project.server.stats();
    assert!(
        count(
            &stats,
            "not_direct.clock or operator in a command-line macro"
        ) >= 3,
        "{stats:#}"
    );
}

#[test]
fn pragma_once_by_digraph_or_operator_is_once_only() {
    // `v` counts the headers read: gcc skips the second twin once their times match.
    let twin = "+1\n";
    for once in ["%:pragma once\n", "_Pragma(\"once\")\n"] {
        let header = format!("{once}{twin}");
        let project = Project::new(&[
            (
                "a.c",
                "int v = 0\n#include \"x1.h\"\n#include \"x2.h\"\n;\n",
            ),
            ("x1.h", &header),
            ("x2.h", &header),
        ]);
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        set_modified(&project, "x1.h", past);
        set_modified(&project, "x2.h", past + std::time::Duration::from_secs(60));
        refused_after(&project, "gcc", &["-c", "a.c"], || {
            set_modified(&project, "x2.h", past)
        });
    }
}

#[test]
fn a_warning_quotes_the_source_line_as_it_is_now() {
    // The compiler quotes a warned-about line from the file, comments and all, and from the
    // file a `#line` names; neither is in the preprocessed text.
    for direct in ["true", "false"] {
        let project = Project::new(&[]);
        let restart = crate::harness::Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let args = ["-Wall", "-c", "parser.c", "-o", "parser.o"];
        let mut last = Vec::new();
        for (version, source) in [
            ("v1", "int f(void){int unused; return 0;} /* v1 */\n"),
            ("v2", "int f(void){int unused; return 0;} /* v2 */\n"),
        ] {
            project.write("parser.y", source);
            project.write("parser.c", &format!("#line 1 \"parser.y\"\n{source}"));
            for _ in 0..2 {
                std::thread::sleep(std::time::Duration::from_millis(30));
                let cached = restart.compile(project.dir.path(), "gcc", &args);
                assert_success(&cached, version);
                let text = String::from_utf8_lossy(&cached.stderr).into_owned();
                assert!(text.contains(version), "{direct} {version}: {text}");
                last = cached.stderr;
            }
            // Only the file the `#line` names changes now.
            project.write("parser.y", &source.replace(version, "v9"));
            let cached = restart.compile(project.dir.path(), "gcc", &args);
            let plain = run(Command::new("gcc")
                .current_dir(project.dir.path())
                .args(args));
            assert_eq!(cached.stderr, plain.stderr, "{direct} {version}");
        }
        assert!(!last.is_empty());
    }
}

/// The target triple and version of the system gcc, as its library directory names them.
fn gcc_machine_and_version() -> (String, String) {
    let ask = |flag: &str| {
        let output = run(Command::new("gcc").arg(flag));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    (ask("-dumpmachine"), ask("-dumpversion"))
}

#[test]
fn a_specs_file_put_in_gcc_s_own_library_directory_is_read() {
    // A copy of gcc reads `specs` from `<its prefix>/lib/gcc/<machine>/<version>/` first, as
    // the system gcc does from /usr/lib/gcc/...
    let source = "#ifndef SPEC_V\n#define SPEC_V 1\n#endif\nint v = SPEC_V;\n";
    let project = Project::new(&[("a.c", source)]);
    let (machine, version) = gcc_machine_and_version();
    let library = format!("tc/lib/gcc/{machine}/{version}");
    std::fs::create_dir_all(project.path(&library)).unwrap();
    // Its programs (cc1, collect2...) by links to the system's.
    let system = format!("/usr/lib/gcc/{machine}/{version}");
    for entry in std::fs::read_dir(&system).unwrap() {
        let entry = entry.unwrap();
        let link = project.path(&library).join(entry.file_name());
        std::os::unix::fs::symlink(entry.path(), link).unwrap();
    }
    std::fs::create_dir_all(project.path("tc/bin")).unwrap();
    let gcc =
        String::from_utf8_lossy(&run(Command::new("sh").args(["-c", "command -v gcc"])).stdout)
            .trim()
            .to_owned();
    std::fs::copy(
        std::fs::canonicalize(gcc).unwrap(),
        project.path("tc/bin/gcc"),
    )
    .unwrap();
    let copy = project.path("tc/bin/gcc");
    let copy = copy.to_str().unwrap();
    refused_after(&project, copy, &["-c", "a.c"], || {
        project.write(&format!("{library}/specs"), "*cpp:\n+ -DSPEC_V=2\n\n")
    });
}

#[test]
fn a_newer_gcc_installation_found_by_clang_is_used() {
    if !crate::harness::have("clang++") {
        return;
    }
    let (machine, _) = gcc_machine_and_version();
    let project = Project::new(&[
        (
            "a.cc",
            "#include <libver.h>\nint v() { return libver(); }\n",
        ),
        (
            "gt/include/c++/12/libver.h",
            "inline int libver() { return 12; }\n",
        ),
    ]);
    let crt = format!(
        "/usr/lib/gcc/{machine}/{}/crtbegin.o",
        gcc_machine_and_version().1
    );
    let install = |version: &str| {
        let dir = project.path(&format!("gt/lib/gcc/{machine}/{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&crt, dir.join("crtbegin.o")).unwrap();
    };
    install("12");
    let toolchain = format!("--gcc-toolchain={}", project.path("gt").display());
    refused_after(&project, "clang++", &[&toolchain, "-c", "a.cc"], || {
        project.write(
            "gt/include/c++/13/libver.h",
            "inline int libver() { return 13; }\n",
        );
        install("13");
    });
}

// The third review of this session: wrapper scripts, the sanitizers' files, precompiled headers.

#[test]
fn a_wrapper_script_that_reads_the_environment_is_probed_for_each() {
    let project = Project::new(&[("a.c", "int sq(int x) { return x * x; }\n")]);
    std::fs::create_dir_all(project.path("bin")).unwrap();
    crate::harness::write_script(
        &project.path("bin/cc"),
        "#!/bin/sh\nexec ${REAL_CC:-gcc} $CC_EXTRA \"$@\"\n",
    );
    let cc = project.path("bin/cc");
    let cc = cc.to_str().unwrap();
    let mut envs = vec![vec![("CC_EXTRA", "-O2")], vec![("CC_EXTRA", "-O0")]];
    if crate::harness::have("clang") {
        envs.push(vec![("CC_EXTRA", "-O0"), ("REAL_CC", "clang")]);
    }
    // Each compile is checked against a plain one in the same environment.
    for env in envs.iter().chain(&envs) {
        project.compile(cc, &["-c", "a.c"], env);
    }
}

#[test]
fn clang_s_own_sanitizer_ignorelist_is_in_the_key() {
    if !crate::harness::have("clang") {
        return;
    }
    let resource = run(Command::new("clang").arg("-print-resource-dir"));
    let resource = String::from_utf8_lossy(&resource.stdout).trim().to_owned();
    let version = Path::new(&resource).file_name().unwrap().to_owned();
    let project = Project::new(&[("s.c", "int g(int *p) { return p[3]; }\n")]);
    // A copy of clang takes its resource directory beside it.
    let share = Path::new("llvm/lib/clang").join(&version).join("share");
    std::fs::create_dir_all(project.path(share.to_str().unwrap())).unwrap();
    std::fs::create_dir_all(project.path("llvm/bin")).unwrap();
    let clang =
        String::from_utf8_lossy(&run(Command::new("sh").args(["-c", "command -v clang"])).stdout)
            .trim()
            .to_owned();
    std::fs::copy(
        std::fs::canonicalize(clang).unwrap(),
        project.path("llvm/bin/clang"),
    )
    .unwrap();
    let list = share.join("asan_ignorelist.txt");
    std::fs::copy(
        Path::new(&resource).join("share/asan_ignorelist.txt"),
        project.path(list.to_str().unwrap()),
    )
    .unwrap();
    let copy = project.path("llvm/bin/clang");
    let copy = copy.to_str().unwrap();
    let args = ["-fsanitize=address", "-c", "s.c"];
    project.compile(copy, &args, &[]);
    project.compile(copy, &args, &[]);
    let mut text = std::fs::read_to_string(project.path(list.to_str().unwrap())).unwrap();
    text.push_str("fun:g\n");
    project.write(list.to_str().unwrap(), &text);
    assert!(
        !project.compile(copy, &args, &[]),
        "a direct hit after the ignorelist changed"
    );
}

#[test]
fn a_precompiled_header_beside_a_header_read_is_never_served_stale() {
    let project = Project::new(&[
        ("h.h", "#define V 1\n"),
        ("a.c", "int v(void) { return V; }\n"),
        ("b.c", "#include \"h.h\"\nint v(void) { return V; }\n"),
    ]);
    let precompile = || {
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_success(
            &run(Command::new("gcc")
                .current_dir(project.dir.path())
                .args(["-x", "c-header", "h.h", "-o", "h.h.gch"])),
            "precompile",
        );
    };
    precompile();
    // gcc loads the precompiled header, now older than the header: the compile gives V 1
    // while the preprocessed text says V 2.
    project.write("h.h", "#define V 2\n");
    let cases: [&[&str]; 2] = [&["-include", "h.h", "-c", "a.c"], &["-c", "b.c"]];
    let same_as_plain = |args: &[&str]| {
        let mut cached_args = args.to_vec();
        cached_args.extend(["-o", "cached.o"]);
        let mut plain_args = args.to_vec();
        plain_args.extend(["-o", "plain.o"]);
        std::thread::sleep(std::time::Duration::from_millis(30));
        let cached = run(project
            .server
            .command(sccache_bin())
            .current_dir(project.dir.path())
            .arg("gcc")
            .args(&cached_args));
        let plain = run(Command::new("gcc")
            .current_dir(project.dir.path())
            .args(&plain_args));
        assert_success(&cached, "cached");
        assert_success(&plain, "plain");
        crate::harness::assert_same_file(&project.path("cached.o"), &project.path("plain.o"));
    };
    for args in cases {
        for _ in 0..2 {
            same_as_plain(args);
        }
    }
    precompile();
    for args in cases {
        same_as_plain(args);
    }
    let stats = project.server.stats();
    assert!(
        count(&stats, "not_cached.precompiled header") >= 2,
        "{stats:#}"
    );
}

// The fourth review: compiled wrappers, wrappers probed for two environments at once.

#[test]
fn a_compiled_wrapper_that_reads_the_environment_is_probed_for_each() {
    let project = Project::new(&[
        ("a.c", "int v(void) { return VAL; }\n"),
        (
            "wrap.c",
            "#include <stdlib.h>\n#include <unistd.h>\n\
             int main(int argc, char **argv) {\n\
               char *args[argc + 3]; int n = 0;\n\
               args[n++] = \"gcc\";\n\
               const char *extra = getenv(\"MYCC_EXTRA\");\n\
               if (extra && *extra) args[n++] = (char *)extra;\n\
               for (int i = 1; i < argc; i++) args[n++] = argv[i];\n\
               args[n] = 0;\n\
               execvp(\"gcc\", args);\n\
               return 127;\n\
             }\n",
        ),
    ]);
    std::fs::create_dir_all(project.path("bin")).unwrap();
    assert_success(
        &run(Command::new("gcc")
            .current_dir(project.dir.path())
            .args(["-O2", "-o", "bin/mycc", "wrap.c"])),
        "the wrapper",
    );
    let mycc = project.path("bin/mycc");
    let mycc = mycc.to_str().unwrap();
    for value in ["-DVAL=1", "-DVAL=2", "-DVAL=1"] {
        project.compile(mycc, &["-c", "a.c"], &[("MYCC_EXTRA", value)]);
    }
}

#[test]
fn a_wrapper_probed_for_two_environments_at_once_gives_each_its_own() {
    // The wrapper is slow to start, so that a compile started during another's probe joins it.
    let project = Project::new(&[("a.c", "int v(void) { return VAL; }\n")]);
    std::fs::create_dir_all(project.path("bin")).unwrap();
    crate::harness::write_script(
        &project.path("bin/cc"),
        "#!/bin/sh\nsleep 0.5\nexec gcc $CC_EXTRA \"$@\"\n",
    );
    let cc = project.path("bin/cc");
    let cc = cc.to_str().unwrap();
    let compile = |value: &str| {
        let out = format!("a{value}.o");
        let cached = run(project
            .server
            .command(sccache_bin())
            .current_dir(project.dir.path())
            .args([cc, "-c", "a.c", "-o", &out])
            .env("CC_EXTRA", format!("-DVAL={value}")));
        assert_success(&cached, value);
    };
    // 1 is stored; the probe remembered is 3's; then 1 probes again and 2 starts meanwhile.
    compile("1");
    project
        .server
        .wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    compile("3");
    std::thread::scope(|scope| {
        scope.spawn(|| compile("1"));
        std::thread::sleep(std::time::Duration::from_millis(200));
        scope.spawn(|| compile("2"));
    });
    for value in ["1", "2", "3"] {
        let plain = format!("p{value}.o");
        assert_success(
            &run(Command::new(cc)
                .current_dir(project.dir.path())
                .args(["-c", "a.c", "-o", &plain])
                .env("CC_EXTRA", format!("-DVAL={value}"))),
            "plain",
        );
        crate::harness::assert_same_file(
            &project.path(&format!("a{value}.o")),
            &project.path(&plain),
        );
    }
}

#[test]
fn a_wrapper_is_probed_once_per_environment_not_at_every_change() {
    // cargo gives every crate its own variables: a wrapper's dry runs are remembered for each.
    let project = Project::new(&[("a.c", "int v(void) { return VAL; }\n")]);
    std::fs::create_dir_all(project.path("bin")).unwrap();
    let log = project.path("runs.log");
    crate::harness::write_script(
        &project.path("bin/cc"),
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec gcc $CC_EXTRA \"$@\"\n",
            log.display()
        ),
    );
    let cc = project.path("bin/cc");
    let cc = cc.to_str().unwrap();
    for value in ["-DVAL=1", "-DVAL=2"].repeat(3) {
        project.compile(cc, &["-c", "a.c"], &[("CC_EXTRA", value)]);
    }
    let dry_runs = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("-###"))
        .count();
    // The first, before the server knew it for a wrapper; then one for each environment.
    assert!(dry_runs <= 3, "{dry_runs} dry runs for two environments");
}
