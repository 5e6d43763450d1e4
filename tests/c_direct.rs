//! Direct mode (issue 13): C hits found from a manifest without running the preprocessor, and
//! never stale. Every case compiles through sccache and plainly after each change to the
//! files, and compares the objects byte for byte; a case first proves it direct-hits, then
//! changes what the preprocessor would read and checks that the hit is refused.

use crate::harness::{assert_same_file, assert_success, count, run, sccache_bin, Server};
use std::path::Path;
use std::process::Command;

/// A scratch project with a direct-mode server.
pub struct Project {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        let project = Project {
            server: Server::start_with(&[("SCCACHE_DIRECT", "true")]),
            dir: tempfile::Builder::new()
                .prefix("sccache-direct")
                .tempdir()
                .unwrap_or_else(|error| panic!("tempdir: {error}")),
        };
        for (name, text) in files {
            project.write(name, text);
        }
        project
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        crate::harness::write_under(self.dir.path(), name, text);
    }

    /// Compiles `args -o out.o` through sccache and `args -o plain.o` plainly, compares the
    /// objects, waits for the manifest's record, and says whether it was a direct hit.
    pub fn compile(&self, compiler: &str, args: &[&str], env: &[(&str, &str)]) -> bool {
        // Past the file system's clock tick: what the test just wrote is older than the
        // preprocessor's start, as it is in a real build.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let before = self.server.stats();
        let output = run(self
            .server
            .command(sccache_bin())
            .current_dir(self.dir.path())
            .arg(compiler)
            .args(args)
            .args(["-o", "out.o"])
            .envs(env.iter().copied()));
        assert_success(&output, &format!("sccache {compiler} {args:?}"));
        let plain = run(Command::new(compiler)
            .current_dir(self.dir.path())
            .args(args)
            .args(["-o", "plain.o"])
            .envs(env.iter().copied()));
        assert_success(&plain, "plain compile");
        assert_same_file(&self.path("out.o"), &self.path("plain.o"));
        let after = self.server.stats();
        let delta = |path: &str| count(&after, path) - count(&before, path);
        let direct = delta("direct_hits");
        let hit = delta("cache_hits.counts.C/C++");
        // A miss writes its result and then its manifest (or says why not; one compiled
        // without the preprocessor that cannot be recorded says why and that its result is
        // not stored); a hit by the preprocessor writes the manifest (or says why not); a
        // direct hit writes nothing.
        let expected = progress(&before) + if hit == 0 { 2 } else { 1 - direct };
        self.server
            .wait_for_stats(|stats| progress(stats) >= expected);
        direct == 1
    }
}

/// Writes made and reasons for not recording, summed.
pub fn progress(stats: &serde_json::Value) -> u64 {
    let reasons: u64 = stats["stats"]["not_direct"]
        .as_object()
        .map(|map| map.values().filter_map(|value| value.as_u64()).sum())
        .unwrap_or(0);
    count(stats, "cache_writes")
        + count(stats, "cache_writes_dropped")
        + count(stats, "depend_not_stored")
        + reasons
}

const CONF_USER: &str = "#include \"conf.h\"\nint value(void) { return CONF; }\n";
const CONF_SYSTEM: &str = "#include <conf.h>\nint value(void) { return CONF; }\n";

/// Compiles until a direct hit, then applies `change` and checks the next compile is not one.
pub fn refused_after(project: &Project, compiler: &str, args: &[&str], change: impl FnOnce()) {
    assert!(!project.compile(compiler, args, &[]), "first compile");
    assert!(
        project.compile(compiler, args, &[]),
        "second compile is direct"
    );
    change();
    assert!(
        !project.compile(compiler, args, &[]),
        "a direct hit after the change"
    );
    // The new result is recorded and found directly again.
    assert!(project.compile(compiler, args, &[]), "direct again after");
}

pub fn compilers() -> Vec<&'static str> {
    ["gcc", "clang"]
        .into_iter()
        .filter(|compiler| crate::harness::have(compiler))
        .collect()
}

#[test]
fn a_new_header_earlier_on_the_include_path_is_never_shadowed_by_a_direct_hit() {
    for compiler in compilers() {
        let cases: &[(&[&str], &str, &str, &str)] = &[
            (
                &["-Iinc1", "-Iinc2"],
                CONF_USER,
                "inc2/conf.h",
                "inc1/conf.h",
            ),
            (
                &["-iquote", "q1", "-iquote", "q2"],
                CONF_USER,
                "q2/conf.h",
                "q1/conf.h",
            ),
            (
                &["-isystem", "s1", "-isystem", "s2"],
                CONF_SYSTEM,
                "s2/conf.h",
                "s1/conf.h",
            ),
            (
                &["-Iinc", "-idirafter", "after"],
                CONF_SYSTEM,
                "after/conf.h",
                "inc/conf.h",
            ),
            // The source's own directory comes first for "..." includes.
            (&["-Iinc2"], CONF_USER, "inc2/conf.h", "conf.h"),
        ];
        for (flags, source, recorded, shadow) in cases {
            let project = Project::new(&[
                ("a.c", source),
                (recorded, "#define CONF 1\n"),
                ("inc1/.keep", ""),
            ]);
            let mut args = vec!["-c", "a.c"];
            args.extend_from_slice(flags);
            refused_after(&project, compiler, &args, || {
                project.write(shadow, "#define CONF 2\n")
            });
        }
    }
}

#[test]
fn a_header_s_own_directory_shadows_for_quoted_includes() {
    // a.c includes "sub/h.h" (from inc); h.h includes "x.h", found in inc2 until inc/sub/x.h
    // appears beside h.h.
    let project = Project::new(&[
        ("a.c", "#include \"sub/h.h\"\nint v(void) { return X; }\n"),
        ("inc/sub/h.h", "#include \"x.h\"\n"),
        ("inc2/x.h", "#define X 1\n"),
    ]);
    refused_after(&project, "gcc", &["-c", "a.c", "-Iinc", "-Iinc2"], || {
        project.write("inc/sub/x.h", "#define X 2\n")
    });
}

#[test]
fn include_and_has_include_and_include_next_are_searched_again() {
    let project = Project::new(&[
        ("a.c", "int v(void) { return PRE; }\n"),
        ("inc2/pre.h", "#define PRE 1\n"),
    ]);
    // -include looks in the working directory first.
    refused_after(
        &project,
        "gcc",
        &["-c", "a.c", "-include", "pre.h", "-Iinc2"],
        || project.write("pre.h", "#define PRE 2\n"),
    );
    let project = Project::new(&[
        (
            "a.c",
            "#if __has_include(<opt/o.h>)\nint v(void) { return 2; }\n\
             #else\nint v(void) { return 1; }\n#endif\n",
        ),
        ("inc/opt/other.h", ""),
    ]);
    refused_after(&project, "gcc", &["-c", "a.c", "-Iinc"], || {
        project.write("inc/opt/o.h", "")
    });
    let project = Project::new(&[
        ("a.c", "#include <n.h>\nint v(void) { return N; }\n"),
        ("inc1/n.h", "#include_next <n.h>\n"),
        ("inc3/n.h", "#define N 3\n"),
        ("inc2/.keep", ""),
    ]);
    refused_after(
        &project,
        "gcc",
        &["-c", "a.c", "-Iinc1", "-Iinc2", "-Iinc3"],
        || project.write("inc2/n.h", "#define N 2\n"),
    );
}

#[test]
fn deleted_restored_edited_and_touched_headers() {
    let project = Project::new(&[
        ("a.c", CONF_USER),
        ("inc1/conf.h", "#define CONF 1\n"),
        ("inc2/conf.h", "#define CONF 2\n"),
    ]);
    let args = ["-c", "a.c", "-Iinc1", "-Iinc2"];
    // Deleted: the next one on the path is found (a miss, never an error).
    refused_after(&project, "gcc", &args, || {
        std::fs::remove_file(project.path("inc1/conf.h")).unwrap()
    });
    // Restored with other contents.
    project.write("inc1/conf.h", "#define CONF 3\n");
    assert!(!project.compile("gcc", &args, &[]));
    assert!(project.compile("gcc", &args, &[]));
    // Edited in place.
    project.write("inc1/conf.h", "#define CONF 4\n");
    assert!(!project.compile("gcc", &args, &[]));
    assert!(project.compile("gcc", &args, &[]));
    // Touched without a change: still direct.
    let file = std::fs::File::options()
        .write(true)
        .open(project.path("inc1/conf.h"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    assert!(project.compile("gcc", &args, &[]), "touched header");
}

#[test]
fn environment_and_a_directory_replaced_by_a_symlink() {
    let project = Project::new(&[
        ("a.c", CONF_SYSTEM),
        ("inc1/conf.h", "#define CONF 1\n"),
        ("inc2/conf.h", "#define CONF 2\n"),
    ]);
    let args = ["-c", "a.c"];
    let one = project.path("inc1");
    let two = project.path("inc2");
    let cpath = |dir: &Path| vec![("CPATH", dir.to_str().unwrap().to_owned())];
    for env in [cpath(&one), cpath(&one), cpath(&two)] {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        project.compile("gcc", &args, &env);
    }
    let env = cpath(&one);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(project.compile("gcc", &args, &env), "CPATH=inc1 again");

    let project = Project::new(&[
        ("a.c", CONF_SYSTEM),
        ("inc/conf.h", "#define CONF 1\n"),
        ("other/conf.h", "#define CONF 2\n"),
    ]);
    refused_after(&project, "gcc", &["-c", "a.c", "-Iinc"], || {
        std::fs::rename(project.path("inc"), project.path("inc.old")).unwrap();
        std::os::unix::fs::symlink("other", project.path("inc")).unwrap();
    });
}

#[test]
fn clock_macros_and_refused_flags_record_no_direct_result() {
    let project = Project::new(&[
        ("a.c", "#include \"t.h\"\nint v(void) { return 1; }\n"),
        ("t.h", "static const char *when = __TIME__;\n"),
    ]);
    // Objects differ by the time, so only the stats are compared here.
    for _ in 0..2 {
        let output = project
            .server
            .compile(project.dir.path(), "gcc", &["-c", "a.c", "-o", "t.o"]);
        assert_success(&output, "__TIME__ compile");
    }
    let stats = project.server.wait_for_stats(|stats| {
        count(stats, "not_direct.__TIME__") >= 1 && count(stats, "direct_misses") == 2
    });
    assert_eq!(count(&stats, "direct_hits"), 0, "{stats:#}");
}

#[test]
fn a_direct_hit_runs_no_compiler_process() {
    let project = Project::new(&[("a.c", CONF_USER), ("inc/conf.h", "#define CONF 1\n")]);
    let log = project.path("runs.log");
    let script = format!(
        "#!/bin/sh\necho run >> '{}'\nexec gcc \"$@\"\n",
        log.display()
    );
    std::fs::create_dir_all(project.path("wrap")).unwrap();
    crate::harness::write_script(&project.path("wrap/gcc"), &script);
    let args = ["-c", "a.c", "-Iinc", "-o", "w.o"];
    let runs = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let compile = || {
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_success(
            &project
                .server
                .compile(project.dir.path(), "wrap/gcc", &args),
            "wrapped compile",
        );
    };
    compile();
    project
        .server
        .wait_for_stats(|stats| count(stats, "cache_writes") == 2);
    let before = runs();
    compile();
    let stats = project.server.stats();
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    assert_eq!(runs(), before, "a direct hit ran the compiler");
}

/// A hit skips looking at the names of a directory whose stamp is unchanged: what can change
/// without the directory changing must be looked at anyway.
#[test]
fn what_a_directory_s_stamp_does_not_cover_is_checked() {
    for compiler in compilers() {
        // A dangling link where a shadowing header would be: its target appears elsewhere.
        let project = Project::new(&[
            ("a.c", CONF_USER),
            ("inc2/conf.h", "#define CONF 1\n"),
            ("elsewhere/.keep", ""),
            ("inc1/.keep", ""),
        ]);
        std::os::unix::fs::symlink("../elsewhere/conf.h", project.path("inc1/conf.h")).unwrap();
        refused_after(
            &project,
            compiler,
            &["-c", "a.c", "-Iinc1", "-Iinc2"],
            || project.write("elsewhere/conf.h", "#define CONF 2\n"),
        );
        // A missing subdirectory that appears with a shadowing header in it.
        let project = Project::new(&[
            (
                "a.c",
                "#include \"sub/conf.h\"\nint value(void) { return CONF; }\n",
            ),
            ("inc2/sub/conf.h", "#define CONF 1\n"),
            ("inc1/.keep", ""),
        ]);
        refused_after(
            &project,
            compiler,
            &["-c", "a.c", "-Iinc1", "-Iinc2"],
            || project.write("inc1/sub/conf.h", "#define CONF 2\n"),
        );
    }
}

/// A command line's own include starts in the working directory, also for a source elsewhere;
/// and a candidate below a missing directory is watched at that directory's first missing
/// component, also when `..` follows it.
#[test]
fn command_line_includes_and_paths_through_dot_dot_are_searched_again() {
    for compiler in compilers() {
        let project = Project::new(&[
            ("src/a.c", "int v(void) { return PRE; }\n"),
            ("inc2/pre.h", "#define PRE 1\n"),
        ]);
        refused_after(
            &project,
            compiler,
            &["-c", "src/a.c", "-include", "pre.h", "-Iinc2"],
            || project.write("pre.h", "#define PRE 2\n"),
        );
        // `-imacros` is not taken by direct mode at all (a flag naming a file).
        let args = ["-c", "src/a.c", "-imacros", "pre.h", "-Iinc2"];
        assert!(!project.compile(compiler, &args, &[]), "-imacros, first");
        assert!(!project.compile(compiler, &args, &[]), "-imacros, second");
        // `inc1/x/../conf.h` resolves once `inc1/x` exists, and then shadows `inc2`'s.
        let project = Project::new(&[
            (
                "a.c",
                "#include \"x/../conf.h\"\nint value(void) { return CONF; }\n",
            ),
            ("inc1/conf.h", "#define CONF 2\n"),
            ("inc2/x/.keep", ""),
            ("inc2/conf.h", "#define CONF 1\n"),
        ]);
        refused_after(
            &project,
            compiler,
            &["-c", "a.c", "-Iinc1", "-Iinc2"],
            || std::fs::create_dir(project.path("inc1/x")).unwrap(),
        );
    }
}

/// clang searches, for a file's `"..."` includes, the directory it first found that file in:
/// a header reached through a link from another directory is not recorded for direct mode.
#[test]
fn a_header_found_in_two_directories_is_not_recorded() {
    for compiler in compilers() {
        let project = Project::new(&[
            (
                "src/a.c",
                "#if __has_include(\"d/h.h\")\n#endif\n#include \"e/h.h\"\n\
                 int value(void) { return Z; }\n",
            ),
            ("src/d/h.h", "#include \"z.h\"\n"),
            ("inc/z.h", "#define Z 1\n"),
        ]);
        std::fs::create_dir(project.path("src/e")).unwrap();
        std::os::unix::fs::symlink("../d/h.h", project.path("src/e/h.h")).unwrap();
        let args = ["-c", "src/a.c", "-Iinc"];
        assert!(!project.compile(compiler, &args, &[]), "first compile");
        assert!(!project.compile(compiler, &args, &[]), "a direct hit");
        // What clang would read now: the objects are compared with a plain compile's.
        project.write("src/d/z.h", "#define Z 2\n");
        assert!(!project.compile(compiler, &args, &[]), "a direct hit after");
    }
}

/// gcc reads a `specs` file from a `LIBRARY_PATH` directory (its startfile directories): one
/// that appears there changes what the compile is, and misses.
#[test]
fn a_specs_file_in_a_library_path_directory_is_watched() {
    if !crate::harness::have("gcc") {
        return;
    }
    let project = Project::new(&[
        (
            "a.c",
            "#ifdef EXTRA\nint value(void) { return 2; }\n#else\nint value(void) { return 1; }\n#endif\n",
        ),
        ("lib/.keep", ""),
    ]);
    let dir = project.path("lib");
    let library_path = dir.to_str().unwrap();
    let env = [("LIBRARY_PATH", library_path)];
    let args = ["-c", "a.c"];
    assert!(!project.compile("gcc", &args, &env), "first compile");
    assert!(project.compile("gcc", &args, &env), "second compile");
    project.write("lib/specs", "*cpp_unique_options:\n+ -DEXTRA\n\n");
    assert!(
        !project.compile("gcc", &args, &env),
        "a direct hit after the specs file"
    );
}

/// A project whose `src/a.c` includes `inc2/h0.h` to `h{count - 1}.h` (each defining `H<n>`
/// as `n`) and returns `H<returned>`, with the `extra` files.
fn many_headers(count: usize, returned: usize, extra: &[(&str, &str)]) -> Project {
    let mut files: Vec<(String, String)> = (0..count)
        .map(|n| (format!("inc2/h{n}.h"), format!("#define H{n} {n}\n")))
        .collect();
    let mut source: String = (0..count)
        .map(|n| format!("#include \"h{n}.h\"\n"))
        .collect();
    source.push_str(&format!("int value(void) {{ return H{returned}; }}\n"));
    files.push(("src/a.c".into(), source));
    let mut files: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    files.extend_from_slice(extra);
    Project::new(&files)
}

/// A directory of many candidates whose stamp moved is listed rather than looked up name by
/// name: an unrelated new file there still hits directly, a shadowing header does not.
#[test]
fn a_changed_directory_of_many_candidates_is_listed() {
    for compiler in compilers() {
        let project = many_headers(24, 7, &[("inc1/.keep", "")]);
        let args = ["-c", "src/a.c", "-Iinc1", "-Iinc2"];
        assert!(!project.compile(compiler, &args, &[]), "first compile");
        assert!(project.compile(compiler, &args, &[]), "second compile");
        project.write("inc1/unrelated.txt", "");
        assert!(
            project.compile(compiler, &args, &[]),
            "after an unrelated file"
        );
        project.write("inc1/h7.h", "#define H7 70\n");
        assert!(
            !project.compile(compiler, &args, &[]),
            "a direct hit after h7.h"
        );
        std::fs::create_dir(project.path("inc1/h9.h")).unwrap();
        assert!(
            !project.compile(compiler, &args, &[]),
            "a direct hit after a directory"
        );
    }
}

/// A record reads a directory of many candidates from one listing (40 names, more than a
/// 4 KiB directory holds at 128 bytes a name): a name the listing holds
/// is looked at as before, so a dangling link there (no file, yet) is watched on every hit and
/// shadows once its target appears, though the directory itself never changes. On both ways
/// of recording: the preprocessor's (a new server's first compile) and the depend path.
#[test]
fn a_record_lists_a_directory_of_many_candidates_and_watches_a_dangling_link_there() {
    for compiler in compilers() {
        for depend_path in [false, true] {
            let extra = [
                ("src/warm.c", "int warm(void) { return 1; }\n"),
                ("elsewhere/.keep", ""),
            ];
            let project = many_headers(40, 3, &extra);
            std::fs::create_dir(project.path("inc1")).unwrap_or_else(|error| panic!("{error}"));
            std::os::unix::fs::symlink("../elsewhere/h3.h", project.path("inc1/h3.h"))
                .unwrap_or_else(|error| panic!("{error}"));
            if depend_path {
                // The compiler's search list known: the next miss is recorded from its
                // dependency file.
                project.compile(compiler, &["-c", "src/warm.c"], &[]);
            }
            let args = ["-c", "src/a.c", "-Iinc1", "-Iinc2"];
            assert!(!project.compile(compiler, &args, &[]), "first compile");
            assert!(project.compile(compiler, &args, &[]), "second compile");
            project.write("elsewhere/h3.h", "#define H3 30\n");
            assert!(
                !project.compile(compiler, &args, &[]),
                "{compiler} (depend path {depend_path}): a direct hit after the link's target"
            );
        }
    }
}

#[test]
fn a_corrupt_manifest_is_a_miss_removed_and_counted() {
    let mut project = Project::new(&[("a.c", CONF_USER), ("inc/conf.h", "#define CONF 1\n")]);
    let args = ["-c", "a.c", "-Iinc"];
    assert!(!project.compile("gcc", &args, &[]));
    assert!(project.compile("gcc", &args, &[]));
    let manifest = find_manifest(&project.server.cache_dir).expect("a manifest on disk");
    let mut bytes = std::fs::read(&manifest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&manifest, bytes).unwrap();
    // A server remembers the manifests it read or wrote: a new one on the same cache reads
    // the corrupt file. (The first keeps the cache directory until the end.)
    let second = Server::start_in(&project.server.cache_dir, &[("SCCACHE_DIRECT", "true")]);
    let first = std::mem::replace(&mut project.server, second);
    first.stop();
    assert!(!project.compile("gcc", &args, &[]), "corrupt manifest");
    let stats = project.server.stats();
    assert_eq!(count(&stats, "corrupt_entries"), 1, "{stats:#}");
    assert!(project.compile("gcc", &args, &[]), "rewritten manifest");
}

/// The cache file holding a manifest (its entry names a file `manifest`).
fn find_manifest(dir: &Path) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_manifest(&path) {
                return Some(found);
            }
        } else if std::fs::read(&path)
            .is_ok_and(|bytes| bytes.windows(8).any(|window| window == b"manifest"))
        {
            return Some(path);
        }
    }
    None
}

#[test]
fn a_file_gcc_skips_under_pragma_once_is_watched_too() {
    // gcc skips y/o.h, identical to x/o.h (size, modification second, contents) under
    // `#pragma once`, and names it in no line marker.
    let text = "#pragma once\nextern int once;\n";
    let project = Project::new(&[
        (
            "a.c",
            "#include \"x/o.h\"\n#include \"y/o.h\"\nint v(void) { return 1; }\n",
        ),
        ("x/o.h", text),
        ("y/o.h", text),
    ]);
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for name in ["x/o.h", "y/o.h"] {
        let file = std::fs::File::options()
            .write(true)
            .open(project.path(name))
            .unwrap();
        file.set_modified(when).unwrap();
    }
    refused_after(&project, "gcc", &["-c", "a.c"], || {
        project.write("y/o.h", "#pragma once\nint other = 2;\n")
    });
}

#[test]
fn sccache_direct_false_turns_direct_mode_off() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "false")]);
    let dir = crate::harness::fixture("c");
    let args = ["-c", "hello.c", "-o", "hello.o"];
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_success(&server.compile(dir.path(), "gcc", &args), "compile");
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 2, "{stats:#}");
    assert_eq!(count(&stats, "direct_hits"), 0, "{stats:#}");
    assert_eq!(count(&stats, "direct_misses"), 0, "{stats:#}");
    let text = String::from_utf8_lossy(&server.sccache(["--show-stats"]).stdout).into_owned();
    assert!(text.contains("Direct mode hits (C/C++/Rust)"), "{text}");
}

#[test]
fn a_precompiled_header_beside_a_header_read_refuses_direct_mode() {
    let project = Project::new(&[("a.c", CONF_USER), ("inc/conf.h", "#define CONF 1\n")]);
    let args = ["-c", "a.c", "-Iinc"];
    assert!(!project.compile("gcc", &args, &[]));
    assert!(project.compile("gcc", &args, &[]));
    // gcc ignores a .gch that is not valid; what matters is that direct mode stops trusting
    // its record once one appears, and that nothing is cached while it is there (the compile
    // may load it in the header's place, which the preprocessed text does not show).
    project.write("inc/conf.h.gch", "not a precompiled header");
    for round in 1..=2 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let output = project.server.compile(
            project.dir.path(),
            "gcc",
            &["-c", "a.c", "-Iinc", "-o", "g.o"],
        );
        assert_success(&output, "a compile beside a .gch");
        // The first compiles by the depend path, whose record is refused; the next by the
        // preprocessor's path, which does not cache.
        let stats = project.server.wait_for_stats(|stats| {
            count(stats, "depend_not_stored") + count(stats, "not_cached.precompiled header")
                >= round
        });
        assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    }
    // Gone again: the first record's conditions hold once more.
    std::fs::remove_file(project.path("inc/conf.h.gch")).unwrap();
    assert!(project.compile("gcc", &args, &[]), "direct after the .gch");
}
