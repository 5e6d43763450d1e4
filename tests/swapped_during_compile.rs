//! A directory on the way to a file the compile read, replaced while it ran (an include
//! directory renamed into place, a link pointed elsewhere): every file keeps its stamps, so
//! only the way to it tells that the file digested afterwards is not the one read. Such a
//! compile records no direct result and stores no result keyed by what it did not read
//! (`settled_path`). The swap is made by a stand-in compiler right after the real one ran, so
//! that it falls inside the compile every time.

use crate::c_direct::{compilers, progress, Project};
use crate::harness::{assert_success, count, run, sccache_bin, write_script, Server};
use std::path::Path;

/// How the way to `inc/h.h` is made, and replaced.
#[derive(Clone, Copy, Debug)]
enum Swap {
    /// `inc` a directory, renamed away and another renamed into its place.
    RenamedDirectory,
    /// `inc` a symbolic link, pointed at the other directory.
    RepointedLink,
    /// `inc/sub` (`#include "sub/h.h"`) renamed away and another renamed into its place, and
    /// `inc`'s modification time put back (`touch -r`): only its change time tells.
    SubdirectoryTimePutBack,
    /// `-Ia -Ib`: `a/h.h` a link to `../t/h.h`, which names nothing during the compile (so
    /// `b/h.h` is read); then `t` renamed into place, and the search finds `a/h.h`.
    LinkTargetAppears,
}

impl Swap {
    fn set_up(self, dir: &Path) {
        let rename = |from: &str, to: &str| std::fs::rename(dir.join(from), dir.join(to));
        match self {
            Swap::RenamedDirectory => rename("inc_a", "inc"),
            Swap::RepointedLink => std::os::unix::fs::symlink("inc_a", dir.join("inc")),
            Swap::SubdirectoryTimePutBack => std::fs::create_dir(dir.join("inc"))
                .and_then(|()| rename("inc_a", "inc/sub"))
                .and_then(|()| rename("inc_b", "inc/sub_b")),
            Swap::LinkTargetAppears => std::fs::create_dir(dir.join("a"))
                .and_then(|()| std::os::unix::fs::symlink("../t/h.h", dir.join("a/h.h")))
                .and_then(|()| rename("inc_a", "b"))
                .and_then(|()| rename("inc_b", "t_old")),
        }
        .unwrap_or_else(|error| panic!("{error}"));
    }

    /// The shell command that replaces the way, run in the project's directory.
    fn command(self) -> &'static str {
        match self {
            Swap::RenamedDirectory => "mv inc inc_a && mv inc_b inc",
            Swap::RepointedLink => "ln -s inc_b inc.new && mv -T inc.new inc",
            Swap::SubdirectoryTimePutBack => {
                "touch -r inc inc.time && mv inc/sub inc/sub_a && mv inc/sub_b inc/sub \
                 && touch -r inc.time inc"
            }
            Swap::LinkTargetAppears => "mv t_old t",
        }
    }

    /// How the source names the header.
    fn header(self) -> &'static str {
        match self {
            Swap::SubdirectoryTimePutBack => "sub/h.h",
            _ => "h.h",
        }
    }

    /// The include search the command line gives.
    fn search(self) -> &'static [&'static str] {
        match self {
            Swap::LinkTargetAppears => &["-Ia", "-Ib"],
            _ => &["-Iinc"],
        }
    }

    const ALL: [Swap; 4] = [
        Swap::RenamedDirectory,
        Swap::RepointedLink,
        Swap::SubdirectoryTimePutBack,
        Swap::LinkTargetAppears,
    ];
}

/// A stand-in compiler: `real` with the arguments; after a compile (`-c`, not a
/// preprocessor run, a dry run or a probe) while `swap-now` exists, `swap` is made and
/// `swap-now` removed.
fn swapping_compiler(path: &Path, real: &str, swap: Swap) {
    write_script(
        path,
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in *\" -E \"*|*\" -### \"*) exec {real} \"$@\" ;; *\" -c \"*) ;; \
             *) exec {real} \"$@\" ;; esac\n\
             {real} \"$@\"\nstatus=$?\n\
             if [ -e swap-now ]; then rm swap-now; {}; fi\n\
             exit $status\n",
            swap.command()
        ),
    );
}

#[test]
fn a_header_directory_replaced_during_a_c_compile_is_never_served_stale() {
    for compiler in compilers() {
        for swap in Swap::ALL {
            for depend in ["true", "false"] {
                replaced_during_a_c_compile(compiler, swap, depend);
            }
        }
    }
}

fn replaced_during_a_c_compile(compiler: &str, swap: Swap, depend: &str) {
    let project = Project {
        server: Server::start_with(&[
            ("SCCACHE_DIRECT", "true"),
            ("SCCACHE_DIRECT_DEPEND", depend),
        ]),
        dir: tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}")),
    };
    project.write("inc_a/h.h", "#define VAL 1\n");
    project.write("inc_b/h.h", "#define VAL 2\n");
    let source = format!(
        "#include \"{}\"\nint val(void) {{ return VAL; }}\n",
        swap.header()
    );
    project.write("a.c", &source);
    swap.set_up(project.dir.path());
    let cc = project.path("cc");
    swapping_compiler(&cc, compiler, swap);
    let cc = cc.to_str().unwrap_or_default();
    // Past the clock's tick: every file is settled before the compile begins.
    std::thread::sleep(std::time::Duration::from_millis(30));
    project.write("swap-now", "");
    let stats = project.server.stats();
    let not_stored = |stats: &serde_json::Value| {
        count(stats, "depend_not_stored") + count(stats, "inputs_changed")
    };
    let (before, refused) = (progress(&stats), not_stored(&stats));
    let output = run(project
        .server
        .command(sccache_bin())
        .current_dir(project.dir.path())
        .arg(cc)
        .args(swap.search())
        .args(["-c", "a.c", "-o", "out.o"]));
    let what = format!("{compiler}, {swap:?}, SCCACHE_DIRECT_DEPEND={depend}");
    assert_success(&output, &what);
    assert!(!project.path("swap-now").exists(), "the swap was made");
    // Its result and record, or the reasons they were not made (on the depend path, nothing
    // stored, once).
    project
        .server
        .wait_for_stats(|stats| progress(stats) >= before + 2 || not_stored(stats) > refused);
    // inc is B now: a compile through the cache gives B's object, as a plain one does
    // (`compile` compares them), however often.
    eprintln!("{what}: compiling with inc replaced");
    let args: Vec<&str> = swap.search().iter().copied().chain(["-c", "a.c"]).collect();
    for _ in 0..2 {
        project.compile(cc, &args, &[]);
    }
}

/// The same for rustc: a module in `modv/sub/`, `modv` a directory renamed into place
/// while rustc compiles a library in direct mode. Nothing is stored for it, so the dep-info run's
/// way of keying (a second server on the same cache, without direct mode) does not find
/// `modv_a`'s rlib under `modv_b`'s key, nor does direct mode later: each gives the rlib a
/// plain rustc makes now.
#[test]
fn a_module_directory_replaced_during_a_rust_compile_is_never_served_stale() {
    for swap in [
        "mv modv modv_a && mv modv_b modv",
        // The directory's modification time put back (before the compile began, as `cp -a`
        // or `tar` would set it): only its change time tells.
        "mv modv modv_a && mv modv_b modv && touch -d '1 hour ago' .",
    ] {
        module_replaced_during_a_rust_compile(swap);
    }
}

fn module_replaced_during_a_rust_compile(swap: &str) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    let write = |name: &str, text: &str| crate::harness::write_under(path, name, text);
    // The module's own directory keeps its times: only the way to it changed (a file read
    // in the swapped directory itself would show a new change time on its parent).
    write(
        "lib.rs",
        "#[path = \"modv/sub/deep.rs\"]\nmod deep;\npub fn val() -> u32 { deep::VAL }\n",
    );
    write("modv_a/sub/deep.rs", "pub const VAL: u32 = 1;\n");
    write("modv_b/sub/deep.rs", "pub const VAL: u32 = 2;\n");
    std::fs::rename(path.join("modv_a"), path.join("modv")).unwrap_or_else(|e| panic!("{e}"));
    for out in ["out", "plain"] {
        std::fs::create_dir_all(path.join(out)).unwrap_or_else(|e| panic!("{e}"));
    }
    // A stand-in rustc swapping `modv` after a compile, as `swapping_compiler` does for C.
    let rustc = path.join("bin").join("rustc");
    std::fs::create_dir_all(path.join("bin")).unwrap_or_else(|e| panic!("{e}"));
    write_script(
        &rustc,
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in *\" --crate-name \"*) ;; *) exec rustc \"$@\" ;; esac\n\
             rustc \"$@\"\nstatus=$?\n\
             if [ -e swap-now ]; then rm swap-now; {swap}; fi\n\
             exit $status\n"
        ),
    );
    let args = |out: &str| crate::rust_cache::lib_args("swapped", "lib.rs", out, &[]);
    let cache = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let direct = Server::start_in(cache.path(), &[("SCCACHE_DIRECT", "true")]);
    let rlib = |out: &str| crate::harness::read(&path.join(out).join("libswapped.rlib"));
    // Through `server`, and plainly: the same rlib.
    let build = |server: &Server| {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let rustc = rustc.to_str().unwrap_or_default();
        let out = args("out");
        let out: Vec<&str> = out.iter().map(String::as_str).collect();
        assert_success(&server.compile(path, rustc, &out), "rustc");
        let plain = run(std::process::Command::new("rustc")
            .args(args("plain"))
            .current_dir(path));
        assert_success(&plain, "plain rustc");
        assert!(rlib("out") == rlib("plain"), "the rlib a plain rustc makes");
    };
    write("swap-now", "");
    let stats = direct.stats();
    let writes = count(&stats, "cache_writes") + count(&stats, "inputs_changed");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let out = args("out");
    let out: Vec<&str> = out.iter().map(String::as_str).collect();
    assert_success(
        &direct.compile(path, rustc.to_str().unwrap_or_default(), &out),
        "rustc",
    );
    assert!(!path.join("swap-now").exists(), "the swap was made");
    direct.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "inputs_changed") > writes
    });
    let by_dep_info = Server::start_in(cache.path(), &[("SCCACHE_DIRECT", "false")]);
    build(&by_dep_info);
    build(&direct);
}

/// The preprocessor's path reads the files twice: the preprocessor's run, then the compile's.
/// A header that appears between the two in an earlier directory of the search (`-Ia -Ib`,
/// `h.h` in `b` only, then in `a` too) is the compile's, not the text's: its object under the
/// text's key would be every later hit's. The compile's dependency output names it, changed
/// since the start, and nothing is stored. A stand-in compiler makes `a/h.h` right after the
/// preprocessor's run; it is removed once the result is stored or refused; every mode that
/// preprocesses.
#[test]
fn a_header_appearing_between_the_preprocessor_and_the_compile_is_never_served_stale() {
    for compiler in compilers() {
        for (direct, depend, extra) in [
            ("false", "false", &[][..]),
            ("true", "false", &[][..]),
            ("false", "false", &["-MD"][..]),
            ("false", "false", &["-MD", "-MP", "-MF", "a.d"][..]),
            // Dependencies asked for and sent nowhere: ours is taken instead.
            ("false", "false", &["-MD", "-MF", "/dev/null"][..]),
            // A preprocessor option passed through that asks for no dependencies.
            ("false", "false", &["-Wp,-DUNUSED=1"][..]),
        ] {
            appearing_between(compiler, direct, depend, extra);
        }
    }
}

fn appearing_between(compiler: &str, direct: &str, depend: &str, extra: &[&str]) {
    let project = Project {
        server: Server::start_with(&[
            ("SCCACHE_DIRECT", direct),
            ("SCCACHE_DIRECT_DEPEND", depend),
        ]),
        dir: tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}")),
    };
    project.write("b/h.h", "#define VAL 2\n");
    project.write("a/keep", "");
    project.write("a.c", "#include \"h.h\"\nint val(void) { return VAL; }\n");
    let cc = project.path("cc");
    write_script(
        &cc,
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in\n\
             *\" -### \"*) exec {compiler} \"$@\" ;;\n\
             *\" -E \"*) {compiler} \"$@\"; status=$?\n\
               if [ -e appear-now ]; then rm appear-now; echo '#define VAL 1' > a/h.h; fi; \
             exit $status ;;\n\
             esac\n\
             exec {compiler} \"$@\"\n"
        ),
    );
    let cc = cc.to_str().unwrap_or_default();
    let mut args = vec!["-Ia", "-Ib", "-c", "a.c"];
    args.extend_from_slice(extra);
    // The server knows the compiler already, as in a build under way.
    project.write("w.c", "int w;\n");
    let mut warm = project.server.command(sccache_bin());
    warm.current_dir(project.dir.path()).args([cc, "-c", "w.c"]);
    assert_success(&run(&mut warm), "a first compile");
    std::thread::sleep(std::time::Duration::from_millis(30));
    project.write("appear-now", "");
    let stats = project.server.stats();
    let stored =
        |stats: &serde_json::Value| count(stats, "cache_writes") + count(stats, "inputs_changed");
    let before = stored(&stats);
    let mut command = project.server.command(sccache_bin());
    command
        .current_dir(project.dir.path())
        .arg(cc)
        .args(&args)
        .args(["-o", "out.o"]);
    let what = format!("{compiler}, SCCACHE_DIRECT={direct}, {extra:?}");
    assert_success(&run(&mut command), &what);
    assert!(
        project.path("a/h.h").exists(),
        "{what}: the header appeared"
    );
    project
        .server
        .wait_for_stats(|stats| stored(stats) > before);
    // Settled: a later write of the manifest, if any, has landed. Then the header goes.
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::remove_file(project.path("a/h.h")).unwrap_or_else(|e| panic!("{e}"));
    // b/h.h alone now: through the cache as plainly, however often.
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut cached = project.server.command(sccache_bin());
        cached.current_dir(project.dir.path()).arg(cc).args(&args);
        assert_success(&run(cached.args(["-o", "out.o"])), &what);
        let mut plain = std::process::Command::new(compiler);
        plain.current_dir(project.dir.path()).args(&args);
        assert_success(&run(plain.args(["-o", "plain.o"])), "plain");
        crate::harness::assert_same_file(&project.path("out.o"), &project.path("plain.o"));
    }
}

/// The dependency check of the preprocessor's path changes nothing the user gets: a command
/// line's own dependency file with `-MP`'s empty rules is read (the compile is stored and hits,
/// the file as a plain compile writes it), and a compile that records its command line in the
/// object (clang's `-frecord-command-line`) gets no flags of ours (the object is a plain
/// compile's).
#[test]
fn the_dependency_check_changes_nothing_the_user_gets() {
    for compiler in compilers() {
        let mut cases: Vec<&[&str]> = vec![&["-c", "a.c", "-MD", "-MP", "-MF", "a.d"]];
        if compiler == "clang" {
            cases.push(&["-c", "a.c", "-frecord-command-line"]);
        }
        for args in cases {
            let server = Server::start_with(&[("SCCACHE_DIRECT", "false")]);
            let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
            let path = dir.path();
            crate::harness::write_under(path, "inc/h.h", "#define VAL 3\n");
            crate::harness::write_under(
                path,
                "a.c",
                "#include \"inc/h.h\"\nint val(void) { return VAL; }\n",
            );
            for round in 0..2 {
                // The same command line both ways (a recorded one names the output): the plain
                // compile's files are moved aside.
                let mut plain = std::process::Command::new(compiler);
                plain.current_dir(path).args(args);
                assert_success(&run(plain.args(["-o", "a.o"])), "plain");
                std::fs::rename(path.join("a.o"), path.join("plain.o")).unwrap_or_default();
                let theirs = std::fs::read(path.join("a.d")).ok();
                let _ = std::fs::remove_file(path.join("a.d"));
                std::thread::sleep(std::time::Duration::from_millis(30));
                let mut cached = server.command(sccache_bin());
                cached.current_dir(path).arg(compiler).args(args);
                assert_success(&run(cached.args(["-o", "a.o"])), "through the cache");
                crate::harness::assert_same_file(&path.join("a.o"), &path.join("plain.o"));
                assert_eq!(std::fs::read(path.join("a.d")).ok(), theirs);
                let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
                let hits = count(&stats, "cache_hits.counts.C/C++");
                assert_eq!(hits, round, "{compiler} {args:?}: {stats:#}");
            }
        }
    }
}

/// What the compile prints and exits with is its own with the check: `-MF` without `-MD` is an
/// error of gcc's (a warning of clang's), which our added `-MD` must not make go away; and a
/// header in a directory whose name holds a backslash (which gcc writes as it is in the
/// dependency file) is read by the check, so the compile is stored and hits.
#[test]
fn the_dependency_check_keeps_the_compile_s_own_errors_and_odd_names() {
    for compiler in compilers() {
        let server = Server::start_with(&[("SCCACHE_DIRECT", "false")]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        crate::harness::write_under(path, "in\\c/h.h", "#define VAL 4\n");
        crate::harness::write_under(
            path,
            "a.c",
            "#include \"h.h\"\nint val(void) { return VAL; }\n",
        );
        let both = |args: &[&str]| {
            std::thread::sleep(std::time::Duration::from_millis(30));
            let mut cached = server.command(sccache_bin());
            let cached = run(cached.current_dir(path).arg(compiler).args(args));
            let plain = run(std::process::Command::new(compiler)
                .current_dir(path)
                .args(args));
            (cached, plain)
        };
        let (cached, plain) = both(&["-I", "in\\c", "-c", "a.c", "-o", "a.o", "-MF", "a.d"]);
        assert_eq!(cached.status.code(), plain.status.code(), "{compiler}");
        assert_eq!(
            String::from_utf8_lossy(&cached.stderr),
            String::from_utf8_lossy(&plain.stderr),
            "{compiler}"
        );
        // clang's compile succeeded (a warning) and was stored: its key is the next one's.
        let stored_first = u64::from(cached.status.success());
        let hits = |stats: &serde_json::Value| count(stats, "cache_hits.counts.C/C++");
        for round in 0..2 {
            let (cached, _) = both(&["-I", "in\\c", "-c", "a.c", "-o", "b.o"]);
            assert_success(&cached, "through the cache");
            let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
            assert_eq!(hits(&stats), round + stored_first, "{compiler}: {stats:#}");
        }
    }
}
