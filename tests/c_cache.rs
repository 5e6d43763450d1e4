//! C and C++ through the real server with real gcc and clang: misses, hits byte-identical to
//! plain compiles, replayed warnings, failures passed through, dependency files, what changes a
//! key, non-cacheable calls, and the server's lifecycle (auto-start, stop, idle timeout,
//! zeroing, a killed server, garbage on the port).

use crate::harness::{
    assert_outcomes_add_up, assert_same_file, assert_success, count, fixture, have, read, run,
    write_script, Server,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Compiles `source` to `object` without sccache, for comparison.
fn plain_compile(dir: &Path, compiler: &str, args: &[&str]) {
    let output = run(Command::new(compiler).current_dir(dir).args(args));
    assert_success(&output, &format!("plain {compiler} {args:?}"));
}

fn miss_then_hit_is_byte_identical(compiler: &str) {
    let server = Server::start();
    let dir = fixture("c");
    plain_compile(dir.path(), compiler, &["-c", "hello.c", "-o", "plain.o"]);

    let miss = server.compile(dir.path(), compiler, &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&miss, "miss");
    assert_same_file(&dir.path().join("hello.o"), &dir.path().join("plain.o"));
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);

    std::fs::remove_file(dir.path().join("hello.o")).unwrap_or_default();
    let hit = server.compile(dir.path(), compiler, &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&hit, "hit");
    assert_same_file(&dir.path().join("hello.o"), &dir.path().join("plain.o"));

    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compile_requests"), 2);
    assert_eq!(count(&stats, "requests_executed"), 2);
}

#[test]
fn gcc_miss_then_hit_is_byte_identical() {
    miss_then_hit_is_byte_identical("gcc");
}

#[test]
fn clang_miss_then_hit_is_byte_identical() {
    assert!(
        have("clang"),
        "clang is not installed (.ci/run installs it)"
    );
    miss_then_hit_is_byte_identical("clang");
}

#[test]
fn cxx_miss_then_hit_is_byte_identical() {
    let server = Server::start();
    let dir = fixture("c");
    std::fs::write(
        dir.path().join("vec.cpp"),
        "#include <vector>\nint sum() { std::vector<int> v{1, 2, 3}; int s = 0; for (int x : v) s += x; return s; }\n",
    )
    .unwrap_or_default();
    plain_compile(
        dir.path(),
        "g++",
        &["-std=c++17", "-O2", "-c", "vec.cpp", "-o", "plain.o"],
    );
    for _ in 0..2 {
        let output = server.compile(
            dir.path(),
            "g++",
            &["-std=c++17", "-O2", "-c", "vec.cpp", "-o", "vec.o"],
        );
        assert_success(&output, "g++");
        assert_same_file(&dir.path().join("vec.o"), &dir.path().join("plain.o"));
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
}

#[test]
fn warnings_are_replayed_on_a_hit() {
    let server = Server::start();
    let dir = fixture("c");
    let args = ["-Wall", "-c", "warn.c", "-o", "warn.o"];
    let miss = server.compile(dir.path(), "gcc", &args);
    assert_success(&miss, "miss");
    let warning = String::from_utf8_lossy(&miss.stderr).into_owned();
    assert!(
        warning.contains("never_used"),
        "no warning on the miss: {warning}"
    );
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);

    let hit = server.compile(dir.path(), "gcc", &args);
    assert_success(&hit, "hit");
    assert_eq!(String::from_utf8_lossy(&hit.stderr), warning);
    assert_eq!(hit.stdout, miss.stdout);
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
}

#[test]
fn a_failing_compile_passes_its_errors_through_and_is_not_cached() {
    let server = Server::start();
    let dir = fixture("c");
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "broken.c", "-o", "plain.o"]));
    assert!(!plain.status.success());
    for _ in 0..2 {
        let output = server.compile(dir.path(), "gcc", &["-c", "broken.c", "-o", "broken.o"]);
        assert_eq!(output.status.code(), plain.status.code());
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&plain.stderr)
        );
        assert!(!dir.path().join("broken.o").exists());
    }
    // A source whose preprocessing fails: the compiler's own error, once, and an outcome.
    std::fs::write(
        dir.path().join("missing.c"),
        "#include \"no_such_header.h\"\n",
    )
    .unwrap_or_default();
    let missing = server.compile(dir.path(), "gcc", &["-c", "missing.c", "-o", "missing.o"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no_such_header.h"));
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "compile_fails"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    assert_eq!(
        stats["stats"]["not_cached"]["preprocessor failed"], 1,
        "{stats:#}"
    );
    assert_outcomes_add_up(&stats);
}

#[test]
fn dependency_file_on_a_hit_matches_the_compilers() {
    let server = Server::start();
    let dir = fixture("c");
    plain_compile(
        dir.path(),
        "gcc",
        &["-MD", "-MF", "plain.d", "-c", "hello.c", "-o", "hello.o"],
    );
    let expected = read(&dir.path().join("plain.d"));
    std::fs::remove_file(dir.path().join("hello.o")).unwrap_or_default();

    let args = ["-MD", "-MF", "hello.d", "-c", "hello.c", "-o", "hello.o"];
    assert_success(&server.compile(dir.path(), "gcc", &args), "miss");
    assert_eq!(read(&dir.path().join("hello.d")), expected);
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    std::fs::remove_file(dir.path().join("hello.d")).unwrap_or_default();
    std::fs::remove_file(dir.path().join("hello.o")).unwrap_or_default();

    assert_success(&server.compile(dir.path(), "gcc", &args), "hit");
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
    assert_eq!(read(&dir.path().join("hello.d")), expected);
    assert!(dir.path().join("hello.o").exists());

    // The default target names the object; a compile to another object must not reuse it.
    assert_success(
        &server.compile(
            dir.path(),
            "gcc",
            &["-MD", "-c", "hello.c", "-o", "other.o"],
        ),
        "other",
    );
    let other = String::from_utf8_lossy(&read(&dir.path().join("other.d"))).into_owned();
    assert!(other.starts_with("other.o:"), "{other}");
}

#[test]
fn header_define_and_optimisation_changes_each_miss() {
    let server = Server::start();
    let dir = fixture("c");
    let compile = |args: &[&str]| {
        let output = server.compile(dir.path(), "gcc", args);
        assert_success(&output, &format!("{args:?}"));
    };
    compile(&["-c", "util.c", "-o", "util.o"]);
    compile(&["-c", "util.c", "-o", "util.o"]);
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);

    compile(&["-DDOUBLE_IT", "-c", "util.c", "-o", "util.o"]);
    compile(&["-O2", "-c", "util.c", "-o", "util.o"]);
    std::fs::write(
        dir.path().join("util.h"),
        String::from_utf8_lossy(&read(&dir.path().join("util.h"))).replace("40", "41"),
    )
    .unwrap_or_default();
    compile(&["-c", "util.c", "-o", "util.o"]);
    plain_compile(dir.path(), "gcc", &["-c", "util.c", "-o", "plain.o"]);
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));

    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 4, "{stats:#}");
}

#[test]
fn non_cacheable_calls_are_counted_with_reasons_and_still_work() {
    let server = Server::start();
    let dir = fixture("c");
    // Linking: not a compilation.
    let link = server.compile(dir.path(), "gcc", &["hello.c", "-o", "hello"]);
    assert_success(&link, "link");
    let program = run(&mut Command::new(dir.path().join("hello")));
    assert_eq!(String::from_utf8_lossy(&program.stdout), "hello 42\n");
    // Preprocessing only.
    let preprocess = server.compile(dir.path(), "gcc", &["-E", "util.c"]);
    assert_success(&preprocess, "-E");
    assert!(String::from_utf8_lossy(&preprocess.stdout).contains("util_twice"));
    // Two sources at once.
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "warn.c"]),
        "two sources",
    );
    assert!(dir.path().join("warn.o").exists());

    let stats = server.stats();
    assert_eq!(count(&stats, "requests_not_compile"), 1, "{stats:#}");
    assert_eq!(count(&stats, "requests_not_cacheable"), 2, "{stats:#}");
    assert_eq!(stats["stats"]["not_cached"]["-E"], 1, "{stats:#}");
    assert_eq!(
        stats["stats"]["not_cached"]["multiple input files"], 1,
        "{stats:#}"
    );

    assert_outcomes_add_up(&stats);
    let text = server.sccache(["--show-stats"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Non-cacheable reasons"), "{text}");
    assert!(text.contains("multiple input files"), "{text}");
}

#[test]
fn unsupported_compilers_run_and_are_counted() {
    let server = Server::start();
    let dir = fixture("c");
    let output = server.compile(dir.path(), "true", &["-c", "x.c"]);
    assert_success(&output, "true");
    assert_eq!(count(&server.stats(), "requests_unsupported_compiler"), 1);
}

#[test]
fn the_first_compile_starts_a_server_and_stop_server_prints_stats() {
    let dir = fixture("c");
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let server = Server::configured(root.path().join("cache"), &[], None);
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err());
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "compile",
    );
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_ok());
    assert_eq!(count(&server.stats(), "cache_misses.counts.C/C++"), 1);

    let stop = server.stop();
    assert_success(&stop, "--stop-server");
    let text = String::from_utf8_lossy(&stop.stdout);
    assert!(text.contains("Compile requests"), "{text}");
    wait_until_closed(server.port, Duration::from_millis(50));
}

/// Waits for the server on `port` to stop listening, probing every `interval` (each probe is a
/// connection, which counts as activity for the idle timer).
fn wait_until_closed(port: u16, interval: Duration) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "server on {port} did not stop");
        std::thread::sleep(interval);
    }
}

#[test]
fn an_idle_server_stops_by_itself() {
    let server = Server::start_with(&[("SCCACHE_IDLE_TIMEOUT", "1")]);
    let dir = fixture("c");
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "compile",
    );
    std::thread::sleep(Duration::from_millis(1500));
    wait_until_closed(server.port, Duration::from_millis(1500));
}

#[test]
fn zero_stats_resets_every_counter() {
    let server = Server::start();
    let dir = fixture("c");
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "compile",
    );
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let zero = server.sccache(["--zero-stats"]);
    assert_success(&zero, "--zero-stats");
    let stats = server.stats();
    for field in [
        "compile_requests",
        "requests_executed",
        "cache_writes",
        "compilations",
        "cache_misses.counts.C/C++",
    ] {
        assert_eq!(count(&stats, field), 0, "{field} after zeroing: {stats:#}");
    }
}

#[test]
fn average_cache_write_is_above_zero_after_a_write() {
    let server = Server::start();
    let dir = fixture("c");
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]),
        "compile",
    );
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let duration = &stats["stats"]["cache_write_duration"];
    let nanos = duration["secs"].as_u64().unwrap_or(0) * 1_000_000_000
        + duration["nanos"].as_u64().unwrap_or(0);
    assert!(nanos > 0, "{stats:#}");

    let text = server.sccache(["--show-stats"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let line = text
        .lines()
        .find(|line| line.starts_with("Average cache write"))
        .unwrap_or_else(|| panic!("no average write line: {text}"));
    let value: f64 = line
        .split_whitespace()
        .rev()
        .nth(1)
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unreadable line {line:?}"));
    assert!(value > 0.0, "{line}");
}

#[test]
fn the_client_compiles_when_the_server_is_killed_mid_build() {
    let server = Server::start();
    let dir = fixture("c");
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    assert!(pid > 0);
    let sources: Vec<String> = (0..12)
        .map(|index| {
            let name = format!("gen{index}.c");
            let body = format!(
                "#include \"util.h\"\nint gen{index}(void) {{ return util_answer() + {index}; }}\n"
            );
            std::fs::write(dir.path().join(&name), body).unwrap_or_default();
            name
        })
        .collect();
    let children: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            if index == 4 {
                crate::harness::kill_hard(pid);
            }
            server
                .command(crate::harness::sccache_bin())
                .current_dir(dir.path())
                .args(["gcc", "-c", source, "-o", &source.replace(".c", ".o")])
                .env("SCCACHE_IDLE_TIMEOUT", "5")
                .spawn()
                .unwrap_or_else(|error| panic!("{error}"))
        })
        .collect();
    for mut child in children {
        let status = child.wait().unwrap_or_else(|error| panic!("{error}"));
        assert!(
            status.success(),
            "a compile failed after the server was killed"
        );
    }
    for source in &sources {
        let object = dir.path().join(source.replace(".c", ".o"));
        plain_compile(dir.path(), "gcc", &["-c", source, "-o", "plain.o"]);
        assert_same_file(&object, &dir.path().join("plain.o"));
    }
}

#[test]
fn garbage_on_the_port_leaves_the_server_serving() {
    let server = Server::start();
    let dir = fixture("c");
    for garbage in [
        &b"\x00\x00\x00\x05hello"[..],
        &b"\xff\xff\xff\xff"[..],
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &b"\x00\x00\x00\x03\xc1\xc1\xc1"[..],
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port))
            .unwrap_or_else(|error| panic!("{error}"));
        stream.write_all(garbage).unwrap_or_default();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_default();
        let mut answer = Vec::new();
        // The server answers or closes; it must not hang on to the connection forever.
        let _ = stream.read_to_end(&mut answer);
    }
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "compile after garbage",
    );
    assert_eq!(count(&server.stats(), "cache_misses.counts.C/C++"), 1);
}

#[test]
fn masquerading_as_gcc_through_a_symlink_caches() {
    let server = Server::start();
    let dir = fixture("c");
    let bin = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    std::os::unix::fs::symlink(crate::harness::sccache_bin(), bin.path().join("gcc"))
        .unwrap_or_else(|error| panic!("{error}"));
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    plain_compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "plain.o"]);
    for _ in 0..2 {
        let output = run(server
            .command("gcc")
            .env("PATH", &path)
            .current_dir(dir.path())
            .args(["-c", "hello.c", "-o", "hello.o"]));
        assert_success(&output, "masquerading gcc");
        assert_same_file(&dir.path().join("hello.o"), &dir.path().join("plain.o"));
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
    assert!(
        server.log().contains("listening"),
        "SCCACHE_ERROR_LOG has no server log"
    );
}

/// Compiles twice through the cache, removing every output between, and checks each output of
/// the hit against the miss's (the cached compile) and, when the compiler is deterministic for
/// these flags, against a plain compile's.
fn hit_restores_every_output(args: &[&str], outputs: &[&str], deterministic: bool) {
    let server = Server::start();
    let dir = fixture("c");
    plain_compile(dir.path(), "gcc", args);
    let plain: Vec<Vec<u8>> = outputs
        .iter()
        .map(|output| read(&dir.path().join(output)))
        .collect();
    for output in outputs {
        std::fs::remove_file(dir.path().join(output)).unwrap_or_default();
    }
    assert_success(&server.compile(dir.path(), "gcc", args), "miss");
    let missed: Vec<Vec<u8>> = outputs
        .iter()
        .map(|output| read(&dir.path().join(output)))
        .collect();
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    for output in outputs {
        std::fs::remove_file(dir.path().join(output))
            .unwrap_or_else(|error| panic!("{output}: {error}"));
    }
    assert_success(&server.compile(dir.path(), "gcc", args), "hit");
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 1);
    for ((output, missed), plain) in outputs.iter().zip(missed).zip(plain) {
        let restored = read(&dir.path().join(output));
        assert!(
            restored == missed,
            "{output} from the hit differs from the cached compile's"
        );
        assert!(
            !deterministic || restored == plain,
            "{output} from the hit differs from a plain compile's"
        );
    }
}

#[test]
fn split_dwarf_hit_restores_the_dwo() {
    hit_restores_every_output(
        &["-g", "-gsplit-dwarf", "-c", "util.c", "-o", "util.o"],
        &["util.o", "util.dwo"],
        true,
    );
}

#[test]
fn coverage_hit_restores_the_gcno() {
    hit_restores_every_output(
        &["--coverage", "-c", "util.c", "-o", "util.o"],
        &["util.o", "util.gcno"],
        false,
    );
}

#[test]
fn no_daemon_keeps_the_server_in_the_foreground() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let server = Server::configured(root.path().join("cache"), &[], None);
    let mut foreground = server
        .command(crate::harness::sccache_bin())
        .arg("--start-server")
        .env("SCCACHE_NO_DAEMON", "1")
        .env_remove("SCCACHE_ERROR_LOG")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", server.port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the foreground server never listened"
        );
        assert!(
            foreground.try_wait().ok().flatten().is_none(),
            "the foreground server exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = fixture("c");
    assert_success(
        &server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "compile",
    );
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(stats["pid"].as_u64(), Some(u64::from(foreground.id())));
    assert_success(&server.stop(), "--stop-server");
    let status = foreground.wait().unwrap_or_else(|error| panic!("{error}"));
    assert!(
        status.success(),
        "the foreground server ended with {status:?}"
    );
}

#[test]
fn sccache_recache_compiles_again_and_replaces_the_entry() {
    let server = Server::start();
    let dir = fixture("c");
    let args = ["-c", "util.c", "-o", "util.o"];
    assert_success(&server.compile(dir.path(), "gcc", &args), "miss");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    // Forced: no lookup (neither early nor ordinary), a real compile, a new write.
    let mut forced = server.command(crate::harness::sccache_bin());
    forced
        .current_dir(dir.path())
        .env("SCCACHE_RECACHE", "1")
        .arg("gcc")
        .args(args);
    assert_success(&run(&mut forced), "recache");
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") >= 2);
    assert_eq!(count(&stats, "forced_recaches"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "compilations"), 2, "{stats:#}");
    // And without it, the replaced entry serves a hit.
    assert_success(&server.compile(dir.path(), "gcc", &args), "hit");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    plain_compile(dir.path(), "gcc", &["-c", "util.c", "-o", "plain.o"]);
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
    assert_outcomes_add_up(&stats);
}

#[test]
fn a_compile_with_stdin_and_stdout_closed_still_works_and_hits() {
    // Build tools may start a compile with standard descriptors closed. sccache sets its
    // process up itself (no Rust runtime), so it must put /dev/null there first, as the
    // runtime would: a compiler it runs itself must find /dev/null, not a closed descriptor
    // or a socket of sccache's. This "compiler" is one the server does not know, so the
    // client runs it with its own descriptors; it records what its stdin is.
    let server = Server::start();
    let dir = fixture("c");
    let probe = dir.path().join("probe-cc");
    let text = "#!/bin/sh\n[ \"$1\" = record ] || exit 1\n\
                readlink /proc/self/fd/0 > stdin.txt 2>/dev/null || echo closed > stdin.txt\n";
    write_script(&probe, text);
    plain_compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "plain.o"]);
    let closed = |args: &[&str]| {
        let output = run(server
            .command("sh")
            .current_dir(dir.path())
            .arg("-c")
            .arg(r#"exec "$0" "$@" <&- >&-"#)
            .arg(crate::harness::sccache_bin())
            .args(args));
        assert_success(
            &output,
            &format!("sccache {args:?} with stdin and stdout closed"),
        );
    };
    closed(&["./probe-cc", "record"]);
    let stdin = std::fs::read_to_string(dir.path().join("stdin.txt")).unwrap_or_default();
    assert_eq!(stdin.trim(), "/dev/null", "the compiler's stdin");
    closed(&["--version"]);
    for _ in 0..2 {
        closed(&["gcc", "-c", "hello.c", "-o", "hello.o"]);
        assert_same_file(&dir.path().join("hello.o"), &dir.path().join("plain.o"));
        server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats}");
    assert_outcomes_add_up(&stats);
}

#[test]
fn a_compile_to_dev_null_is_counted_and_hit_without_touching_the_device() {
    let server = Server::start();
    let dir = fixture("c");
    let args = ["-Wall", "-c", "hello.c", "-o", "/dev/null"];
    assert_success(&server.compile(dir.path(), "gcc", &args), "miss");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_success(&server.compile(dir.path(), "gcc", &args), "hit");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "requests_not_cacheable"), 0, "{stats:#}");
    assert!(
        std::fs::metadata("/dev/null").is_ok_and(|metadata| !metadata.is_file()),
        "/dev/null was replaced"
    );
    // The entry holds no object, so the same compile keeping its object is a miss.
    assert_success(
        &server.compile(
            dir.path(),
            "gcc",
            &["-Wall", "-c", "hello.c", "-o", "hello.o"],
        ),
        "to a file",
    );
    assert!(read(&dir.path().join("hello.o")).len() > 16);
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 2, "{stats:#}");
}
