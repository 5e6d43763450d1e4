//! What compiles besides the driver named on the command line, and what it reads besides the
//! preprocessed source (issue 16): the assembler and `cc1` found through `PATH`, a wrapper
//! edited in place, a wrapper's inner compiler, `-march=native` on another CPU, and files named
//! by flags. Each test changes one of these between two compiles and checks that the second is
//! not served the first one's object.

use crate::harness::{
    assert_same_file, assert_success, compile_through_wrapper, count, fixture, run, sccache_bin,
    write_script, Server,
};
use std::path::Path;
use std::process::Command;

/// `PATH` with `dir` in front.
fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// An `as` that runs the real one and then appends `byte` to the object it wrote.
fn appending_as(byte: &str) -> String {
    format!(
        "#!/bin/sh\n/usr/bin/as \"$@\" || exit 1\nout=\nprev=\nfor arg in \"$@\"; do\n  [ \"$prev\" = -o ] && out=$arg\n  prev=$arg\ndone\nprintf '{byte}' >> \"$out\"\n"
    )
}

/// Compiles `util.c` to `object` in `dir` with gcc, through the server when `server` is given.
fn compile_util(server: Option<&Server>, dir: &Path, path: &str, object: &str) {
    compile_util_with(server, dir, path, &["gcc"], object);
}

/// Compiles `util.c` to `object` in `dir` with `compiler` (and its flags).
fn compile_util_with(
    server: Option<&Server>,
    dir: &Path,
    path: &str,
    compiler: &[&str],
    object: &str,
) {
    let mut command = match server {
        Some(server) => {
            let mut command = server.command(sccache_bin());
            command.args(compiler);
            command
        }
        None => {
            let mut command = Command::new(compiler[0]);
            command.args(&compiler[1..]);
            command
        }
    };
    let output = run(command
        .current_dir(dir)
        .env("PATH", path)
        .args(["-c", "util.c", "-o", object]));
    assert_success(&output, &format!("{compiler:?} -o {object}"));
}

#[test]
fn clangs_external_assembler_put_in_a_b_directory_is_not_served_the_old_object() {
    let server = Server::start();
    let dir = fixture("c");
    let tools = dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap_or_default();
    let path = path_with(&tools);
    // clang looks for `as` in `-B` directories before its own; not on PATH first.
    let clang = ["clang", "-fno-integrated-as", "-Btools"];
    compile_util_with(Some(&server), dir.path(), &path, &clang, "util.o");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    write_script(&tools.join("as"), &appending_as("A"));
    compile_util_with(Some(&server), dir.path(), &path, &clang, "util.o");
    compile_util_with(None, dir.path(), &path, &clang, "plain.o");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 0);
}

#[test]
fn an_assembler_replaced_on_path_is_not_served_the_old_object() {
    let server = Server::start();
    let dir = fixture("c");
    let tools = dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap_or_default();
    let path = path_with(&tools);
    write_script(&tools.join("as"), &appending_as("A"));
    compile_util(Some(&server), dir.path(), &path, "util.o");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    // Another assembler of another size, as an upgrade would leave it.
    write_script(&tools.join("as"), &appending_as("BB"));
    compile_util(Some(&server), dir.path(), &path, "util.o");
    compile_util(None, dir.path(), &path, "plain.o");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 0);
}

#[test]
fn an_assembler_put_earlier_on_path_is_not_served_the_old_object() {
    let server = Server::start();
    let dir = fixture("c");
    let tools = dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap_or_default();
    let path = path_with(&tools);
    compile_util(Some(&server), dir.path(), &path, "util.o");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    write_script(&tools.join("as"), &appending_as("A"));
    compile_util(Some(&server), dir.path(), &path, "util.o");
    compile_util(None, dir.path(), &path, "plain.o");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 0);
}

#[test]
fn a_wrapper_edited_in_place_with_size_and_mtime_put_back_is_probed_again() {
    let server = Server::start();
    let dir = fixture("c");
    let first = "#!/bin/sh\nexec gcc -O0 \"$@\"\n";
    let second = "#!/bin/sh\nexec gcc -O2 \"$@\"\n";
    assert_success(
        &compile_through_wrapper(&server, dir.path(), first, &[]),
        "-O0",
    );
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let wrapper = dir.path().join("wrap/gcc");
    let reference = dir.path().join("reference");
    std::fs::copy(&wrapper, &reference).unwrap_or_default();
    assert_success(
        &run(Command::new("touch")
            .arg("-r")
            .arg(&wrapper)
            .arg(&reference)),
        "touch -r",
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&wrapper, second).unwrap_or_default();
    assert_success(
        &run(Command::new("touch")
            .arg("-r")
            .arg(&reference)
            .arg(&wrapper)),
        "touch -r back",
    );
    assert_success(
        &compile_through_wrapper(&server, dir.path(), second, &[]),
        "-O2",
    );
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-O2", "-c", "util.c", "-o", "plain.o"]));
    assert_success(&plain, "plain -O2");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
}

#[test]
fn a_wrapper_whose_inner_compiler_changed_misses_on_a_fresh_server() {
    let cache = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let dir = fixture("c");
    let inner = dir.path().join("inner");
    std::fs::create_dir_all(&inner).unwrap_or_default();
    let outer = format!("#!/bin/sh\nexec {}/gcc \"$@\"\n", inner.display());
    write_script(&inner.join("gcc"), "#!/bin/sh\nexec gcc -O0 \"$@\"\n");
    {
        let server = Server::start_in(&cache.path().join("cache"), &[]);
        assert_success(
            &compile_through_wrapper(&server, dir.path(), &outer, &[]),
            "-O0",
        );
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    write_script(&inner.join("gcc"), "#!/bin/sh\nexec gcc -O2 \"$@\"\n");
    let server = Server::start_in(&cache.path().join("cache"), &[]);
    assert_success(
        &compile_through_wrapper(&server, dir.path(), &outer, &[]),
        "-O2",
    );
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-O2", "-c", "util.c", "-o", "plain.o"]));
    assert_success(&plain, "plain -O2");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
}

/// A stand-in for gcc on a machine whose CPU is `$FAKE_CPU`: `-march=native` becomes that.
const NATIVE_AS_FAKE_CPU: &str = "#!/bin/sh\nfor arg in \"$@\"; do\n  shift\n  if [ \"$arg\" = -march=native ]; then set -- \"$@\" \"-march=$FAKE_CPU\"; else set -- \"$@\" \"$arg\"; fi\ndone\nexec gcc \"$@\"\n";

#[test]
fn march_native_on_another_cpu_is_not_served_the_first_cpus_object() {
    let cache = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let dir = fixture("c");
    std::fs::write(
        dir.path().join("count.c"),
        "int count(unsigned x) { return __builtin_popcount(x); }\n",
    )
    .unwrap_or_default();
    write_script(&dir.path().join("cc"), NATIVE_AS_FAKE_CPU);
    let args = [
        "./cc",
        "-O2",
        "-march=native",
        "-c",
        "count.c",
        "-o",
        "count.o",
    ];
    for (cpu, stored) in [("x86-64", false), ("haswell", true)] {
        // A fresh server: another machine sharing the cache directory.
        let server = Server::start_in(&cache.path().join("cache"), &[]);
        let output = run(server
            .command(sccache_bin())
            .current_dir(dir.path())
            .env("FAKE_CPU", cpu)
            .args(args));
        assert_success(&output, cpu);
        if !stored {
            server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
        }
    }
    let plain = run(Command::new("gcc").current_dir(dir.path()).args([
        "-O2",
        "-march=haswell",
        "-c",
        "count.c",
        "-o",
        "plain.o",
    ]));
    assert_success(&plain, "plain -march=haswell");
    assert_same_file(&dir.path().join("count.o"), &dir.path().join("plain.o"));
}
