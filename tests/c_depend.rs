//! Direct mode's depend path (issue 13, cold builds): a C direct miss compiles at once with
//! `-MD` and no preprocessor run, is keyed from what it read, and the next compile is a direct
//! hit; the objects are byte for byte a plain compile's, before and after the files change.
//! Every process the server starts goes through a wrapper script that logs its arguments.

use crate::harness::{assert_same_file, assert_success, count, have, run, write_script, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch project whose compiler is a logging wrapper around `compiler`.
struct Logged {
    server: Server,
    dir: tempfile::TempDir,
    compiler: &'static str,
}

impl Logged {
    fn new(compiler: &'static str, env: &[(&str, &str)]) -> Logged {
        let mut server_env = vec![("SCCACHE_DIRECT", "true")];
        server_env.extend_from_slice(env);
        let project = Logged {
            server: Server::start_with(&server_env),
            dir: tempfile::Builder::new()
                .prefix("sccache-depend")
                .tempdir()
                .unwrap_or_else(|error| panic!("tempdir: {error}")),
            compiler,
        };
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec {compiler} \"$@\"\n",
            project.path("runs.log").display()
        );
        std::fs::create_dir_all(project.path("wrap")).unwrap_or_else(|error| panic!("{error}"));
        write_script(&project.path("wrap/cc"), &script);
        project.write("b.c", "int b(void) { return 2; }\n");
        project.write("inc/conf.h", "#define CONF 1\n");
        project.write("a.c", "#include \"conf.h\"\nint a(void) { return CONF; }\n");
        project
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        crate::harness::write_under(self.dir.path(), name, text);
    }

    /// A project whose server has compiled `b.c` once (so it has probed the driver, and a
    /// direct miss takes the depend path), with the wrapper's log emptied.
    fn probed(compiler: &'static str, env: &[(&str, &str)]) -> Logged {
        let project = Logged::new(compiler, env);
        assert_eq!(project.compile("b.c", &[]), 0, "{compiler}");
        project.runs();
        project
    }

    /// The command lines the wrapper ran since the last call.
    fn runs(&self) -> Vec<String> {
        let log = self.path("runs.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }

    /// Compiles `source` with `extra` through sccache and plainly, compares the objects, waits
    /// until the compile's writes (or the reasons for none) are counted, and returns the direct
    /// hits it added.
    fn compile(&self, source: &str, extra: &[&str]) -> u64 {
        let before = self.server.stats();
        self.compile_and_compare(source, extra);
        let after = self.server.stats();
        let delta = |path: &str| count(&after, path) - count(&before, path);
        let (direct, hit) = (delta("direct_hits"), delta("cache_hits.counts.C/C++"));
        // A miss writes its result and its manifest, or says why not (and, compiled without
        // the preprocessor, that its result is not stored); a hit by the preprocessor writes
        // the manifest or says why not; a direct hit writes nothing.
        let expected = progress(&before) + if hit == 0 { 2 } else { 1 - direct };
        self.server
            .wait_for_stats(|stats| progress(stats) >= expected);
        direct
    }

    /// Compiles `source` with `extra` through sccache and plainly and compares the objects.
    fn compile_and_compare(&self, source: &str, extra: &[&str]) {
        // Past the file system's clock tick: what the test just wrote is older than the
        // compile's start, as it is in a real build.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut args = vec!["-c", source, "-o", "out.o"];
        args.extend_from_slice(extra);
        let output = self.server.compile(self.dir.path(), "wrap/cc", &args);
        assert_success(&output, &format!("sccache {} {args:?}", self.compiler));
        let mut plain_args = vec!["-c", source, "-o", "plain.o"];
        plain_args.extend_from_slice(extra);
        assert_success(
            &run(Command::new(self.compiler)
                .current_dir(self.dir.path())
                .args(&plain_args)),
            "plain compile",
        );
        assert_same_file(&self.path("out.o"), &self.path("plain.o"));
    }
}

/// Writes made, results not stored and reasons for not recording, summed.
fn progress(stats: &serde_json::Value) -> u64 {
    let reasons: u64 = stats["stats"]["not_direct"]
        .as_object()
        .map(|map| map.values().filter_map(|value| value.as_u64()).sum())
        .unwrap_or(0);
    count(stats, "cache_writes") + count(stats, "depend_not_stored") + reasons
}

fn compilers() -> Vec<&'static str> {
    ["gcc", "clang"]
        .into_iter()
        .filter(|compiler| have(compiler))
        .collect()
}

fn preprocessed(runs: &[String], source: &str) -> bool {
    runs.iter()
        .any(|run| run.split(' ').any(|arg| arg == "-E") && run.split(' ').any(|arg| arg == source))
}

fn compiled_with_depend(runs: &[String], source: &str) -> bool {
    runs.iter().any(|run| {
        let args: Vec<&str> = run.split(' ').collect();
        // The depend path's dependency file is hidden beside the object (`.sccache-dep*`); the
        // preprocessor's path adds one of its own in the temporary directory for its check.
        let depend_file = args
            .windows(2)
            .any(|pair| pair[0] == "-MF" && pair[1].contains(".sccache-dep"));
        args.contains(&source) && args.contains(&"-MD") && depend_file
    })
}

#[test]
fn a_direct_miss_compiles_once_without_the_preprocessor_and_then_hits_directly() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[]);
        assert_eq!(project.compile("a.c", &["-Iinc"]), 0, "{compiler}: cold");
        let runs = project.runs();
        assert!(compiled_with_depend(&runs, "a.c"), "{compiler}: {runs:#?}");
        assert!(!preprocessed(&runs, "a.c"), "{compiler}: {runs:#?}");
        assert_eq!(
            runs.iter()
                .filter(|run| run.split(' ').any(|arg| arg == "a.c"))
                .count(),
            1,
            "{compiler}: one process for the miss: {runs:#?}"
        );
        assert_eq!(project.compile("a.c", &["-Iinc"]), 1, "{compiler}: warm");
        assert!(
            project.runs().is_empty(),
            "{compiler}: a direct hit ran a process"
        );
        // The record made without the preprocessor is as strict as one made with it: an
        // edited header misses, and so does a new one that shadows it on the include path.
        project.write("inc/conf.h", "#define CONF 2\n");
        assert_eq!(
            project.compile("a.c", &["-Iinc"]),
            0,
            "{compiler}: edited header"
        );
        assert_eq!(
            project.compile("a.c", &["-I0", "-Iinc"]),
            0,
            "{compiler}: other flags"
        );
        assert_eq!(
            project.compile("a.c", &["-I0", "-Iinc"]),
            1,
            "{compiler}: warm again"
        );
        project.write("0/conf.h", "#define CONF 3\n");
        assert_eq!(
            project.compile("a.c", &["-I0", "-Iinc"]),
            0,
            "{compiler}: shadowed"
        );
        let stats = project.server.stats();
        assert_eq!(count(&stats, "depend_not_stored"), 0, "{stats:#}");
    }
}

#[test]
fn sccache_direct_depend_false_preprocesses_a_direct_miss() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[("SCCACHE_DIRECT_DEPEND", "false")]);
        assert_eq!(project.compile("a.c", &["-Iinc"]), 0, "{compiler}: cold");
        let runs = project.runs();
        assert!(preprocessed(&runs, "a.c"), "{compiler}: {runs:#?}");
        assert!(!compiled_with_depend(&runs, "a.c"), "{compiler}: {runs:#?}");
        assert_eq!(project.compile("a.c", &["-Iinc"]), 1, "{compiler}: warm");
    }
}

#[test]
fn a_command_line_with_its_own_dependency_file_preprocesses_and_gets_it_back() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[]);
        let own = ["-Iinc", "-MD", "-MF", "a.d"];
        assert_eq!(project.compile("a.c", &own), 0, "{compiler}: cold");
        let runs = project.runs();
        assert!(preprocessed(&runs, "a.c"), "{compiler}: {runs:#?}");
        let written = std::fs::read(project.path("a.d")).unwrap_or_else(|error| panic!("{error}"));
        std::fs::remove_file(project.path("a.d")).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(project.compile("a.c", &own), 1, "{compiler}: warm");
        assert_eq!(read(&project.path("a.d")), written, "{compiler}");
    }
}

#[test]
fn a_compile_that_cannot_be_recorded_is_not_stored_and_the_next_one_preprocesses() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[]);
        // __TIME__ in a file read: no record, so no key without the preprocessor.
        project.write(
            "t.c",
            "const char *t(void) { return \"x\"; }\n#define LATER __TIME__\n",
        );
        assert_eq!(project.compile("t.c", &[]), 0, "{compiler}: cold");
        assert!(compiled_with_depend(&project.runs(), "t.c"), "{compiler}");
        let stats = project.server.stats();
        assert_eq!(count(&stats, "depend_not_stored"), 1, "{stats:#}");
        assert_eq!(count(&stats, "not_direct.__TIME__"), 1, "{stats:#}");
        // Remembered: the next compile takes the preprocessor's path, which stores the result
        // by its text (the record is refused again), and the one after hits by that text.
        assert_eq!(project.compile("t.c", &[]), 0, "{compiler}: again");
        assert!(preprocessed(&project.runs(), "t.c"), "{compiler}");
        assert_eq!(project.compile("t.c", &[]), 0, "{compiler}: by the text");
        let stats = project.server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn an_assembler_directive_that_reads_a_file_is_never_stored_without_the_preprocessor() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[]);
        project.write("blob.bin", "first");
        project.write(
            "inc/blob.h",
            "__asm__(\".section .rodata\\n.incbin \\\"blob.bin\\\"\\n.previous\");\n",
        );
        project.write("e.c", "#include \"blob.h\"\nint e(void) { return 1; }\n");
        assert_eq!(project.compile("e.c", &["-Iinc"]), 0, "{compiler}: cold");
        assert!(compiled_with_depend(&project.runs(), "e.c"), "{compiler}");
        let stats = project.server.stats();
        assert_eq!(count(&stats, "depend_not_stored"), 1, "{stats:#}");
        // The assembler's read reaches no dependency file: a new blob must give a new object,
        // which `compile` checks against a plain compile each time.
        project.write("blob.bin", "second, longer");
        // Remembered: the next compiles take the preprocessor's path, which finds the directive
        // in the text and caches nothing.
        project.compile_and_compare("e.c", &["-Iinc"]);
        project.compile_and_compare("e.c", &["-Iinc"]);
        let stats = project.server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    }
}

#[test]
fn a_precompiled_header_the_compile_could_use_is_never_recorded_without_the_preprocessor() {
    // gcc takes `build/all.h.gch` for `#include "all.h"` and lists neither it nor the
    // headers it was made from in the dependency file.
    if !have("gcc") {
        return;
    }
    let project = Logged::probed("gcc", &[]);
    project.write("pch/big.h", "#define V 1\n");
    project.write("pch/all.h", "#include \"big.h\"\n");
    project.write("p.c", "#include \"all.h\"\nint p(void) { return V; }\n");
    let make_pch = || {
        std::fs::create_dir_all(project.path("build")).unwrap_or_else(|error| panic!("{error}"));
        assert_success(
            &run(Command::new("gcc").current_dir(project.dir.path()).args([
                "-x",
                "c-header",
                "pch/all.h",
                "-o",
                "build/all.h.gch",
            ])),
            "precompiled header",
        );
    };
    make_pch();
    let flags = ["-Ibuild", "-Ipch"];
    assert_eq!(project.compile("p.c", &flags), 0, "cold");
    assert!(compiled_with_depend(&project.runs(), "p.c"));
    let stats = project.server.stats();
    assert_eq!(
        count(&stats, "not_direct.precompiled header"),
        1,
        "{stats:#}"
    );
    assert_eq!(count(&stats, "depend_not_stored"), 1, "{stats:#}");
    // A header inside the precompiled one changes and it is made again: never the old object
    // (`compile` compares each one with a plain compile).
    std::thread::sleep(std::time::Duration::from_millis(30));
    project.write("pch/big.h", "#define V 2\n");
    make_pch();
    project.compile_and_compare("p.c", &flags);
    project.compile_and_compare("p.c", &flags);
}

#[test]
fn forced_includes_and_recorded_command_lines_are_left_to_the_preprocessor() {
    for compiler in compilers() {
        let project = Logged::probed(compiler, &[]);
        project.compile_and_compare("a.c", &["-Iinc", "-include", "inc/conf.h"]);
        let runs = project.runs();
        assert!(preprocessed(&runs, "a.c"), "{compiler}: {runs:#?}");
        assert!(!compiled_with_depend(&runs, "a.c"), "{compiler}: {runs:#?}");
        // clang would write the added -MD -MF into the object (which holds its own name then,
        // so it is not compared with a plain compile's).
        let args = [
            "-c",
            "a.c",
            "-o",
            "out.o",
            "-Iinc",
            "-grecord-gcc-switches",
            "-g",
        ];
        let output = project.server.compile(project.dir.path(), "wrap/cc", &args);
        assert_success(&output, "a compile recording its command line");
        let runs = project.runs();
        assert!(!compiled_with_depend(&runs, "a.c"), "{compiler}: {runs:#?}");
    }
}
