//! Injected faults: a server killed mid-build, a cache that cannot be written, corrupt entries,
//! a cold start under `make -j32`, two servers sharing one cache directory, and bad settings.
//! Each test asserts that every build succeeds and every later hit is byte-identical to a plain
//! compile.

use crate::harness::{
    assert_same_file, assert_success, count, fixture, kill_hard, read, run, sccache_bin, Server,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Writes `count` small translation units into `dir` and returns their names.
fn generate_sources(dir: &Path, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| {
            let name = format!("unit{index}.c");
            let body = format!(
                "#include \"util.h\"\nint unit{index}(int x) {{ return x * {index} + util_answer(); }}\n"
            );
            std::fs::write(dir.join(&name), body).unwrap_or_else(|error| panic!("{error}"));
            name
        })
        .collect()
}

fn object_of(source: &str) -> String {
    source.replace(".c", ".o")
}

/// Compiles every source with plain gcc into `plain/` and checks each object in `dir` against
/// it. Returns how many objects were checked.
fn assert_objects_match_plain(dir: &Path, sources: &[String]) -> usize {
    let plain_dir = dir.join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap_or_default();
    for source in sources {
        let plain = plain_dir.join(object_of(source));
        let output = run(Command::new("gcc")
            .current_dir(dir)
            .args(["-c", source, "-o"])
            .arg(&plain));
        assert_success(&output, "plain gcc");
        assert_same_file(&dir.join(object_of(source)), &plain);
    }
    sources.len()
}

/// Starts one compile per source at once through sccache and waits for them all.
fn parallel_build(server: &Server, dir: &Path, sources: &[String], mid_build: impl FnOnce()) {
    let mut mid_build = Some(mid_build);
    let children: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            if index == sources.len() / 3 {
                if let Some(action) = mid_build.take() {
                    action();
                }
            }
            server
                .command(sccache_bin())
                .current_dir(dir)
                .args(["gcc", "-c", source, "-o", &object_of(source)])
                .spawn()
                .unwrap_or_else(|error| panic!("{error}"))
        })
        .collect();
    for mut child in children {
        let status = child.wait().unwrap_or_else(|error| panic!("{error}"));
        assert!(status.success(), "a compile failed");
    }
}

/// The pids of sccache servers serving `port`, found through their environment.
fn servers_on(port: u16) -> Vec<u32> {
    let wanted_port = format!("SCCACHE_SERVER_PORT={port}");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let vars: Vec<&[u8]> = environ.split(|byte| *byte == 0).collect();
            vars.contains(&b"SCCACHE_START_SERVER=1".as_slice())
                && vars.contains(&wanted_port.as_bytes())
        })
        .collect()
}

#[test]
fn a_server_killed_mid_build_loses_no_build_and_corrupts_no_entry() {
    let server = Server::start();
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 16);
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    assert!(pid > 0);
    parallel_build(&server, dir.path(), &sources, || kill_hard(pid));
    assert_objects_match_plain(dir.path(), &sources);

    // The next build starts a new server on the same cache and every hit must be right.
    for source in &sources {
        std::fs::remove_file(dir.path().join(object_of(source))).unwrap_or_default();
    }
    parallel_build(&server, dir.path(), &sources, || {});
    let new_pid = server.stats()["pid"].as_u64().unwrap_or(0);
    assert_ne!(new_pid, pid, "a new server should have started");
    server.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_hits.counts.C/C++") >= 16
    });
    parallel_build(&server, dir.path(), &sources, || {});
    let checked = assert_objects_match_plain(dir.path(), &sources);
    let stats = server.stats();
    assert_eq!(checked, 16);
    assert_eq!(count(&stats, "corrupt_entries"), 0, "{stats:#}");
    assert!(count(&stats, "cache_hits.counts.C/C++") >= 16, "{stats:#}");
}

#[test]
fn an_unwritable_cache_counts_write_errors_and_builds_succeed() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    // A cache directory below a regular file cannot be created, even by root.
    let blocker = root.path().join("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap_or_default();
    let server = Server::start_in(&blocker.join("cache"), &[]);
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 4);
    parallel_build(&server, dir.path(), &sources, || {});
    assert_objects_match_plain(dir.path(), &sources);
    let stats = server.wait_for_stats(|stats| count(stats, "cache_write_errors") == 4);
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
}

#[test]
fn a_tiny_size_limit_keeps_the_cache_within_it_and_builds_succeed() {
    let server = Server::start_with(&[("SCCACHE_CACHE_SIZE", "4K")]);
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 8);
    for _ in 0..2 {
        parallel_build(&server, dir.path(), &sources, || {});
        assert_objects_match_plain(dir.path(), &sources);
    }
    let on_disk = settled_disk_usage(&server.cache_dir, 4096);
    assert!(
        on_disk <= 4096,
        "cache holds {on_disk} bytes over a 4 KiB limit"
    );
}

/// The bytes under `dir` once the asynchronous evictions have had their chance: polls until
/// the usage is at most `limit`, for up to ten seconds, and returns the last reading.
fn settled_disk_usage(dir: &Path, limit: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let usage = disk_usage(dir);
        if usage <= limit || std::time::Instant::now() > deadline {
            return usage;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                total += entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
            }
        }
    }
    total
}

fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.len() == 64)
            {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn truncated_or_garbage_entries_are_misses_removed_and_counted() {
    let server = Server::start();
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 2);
    for source in &sources {
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", source, "-o", &object_of(source)]),
            "miss",
        );
    }
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 2);
    let entries = entry_files(&server.cache_dir);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let whole = read(&entries[0]);
    std::fs::write(&entries[0], &whole[..whole.len() / 2]).unwrap_or_default();
    std::fs::write(&entries[1], vec![0x5a; whole.len()]).unwrap_or_default();

    for source in &sources {
        std::fs::remove_file(dir.path().join(object_of(source))).unwrap_or_default();
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", source, "-o", &object_of(source)]),
            "recompile",
        );
    }
    assert_objects_match_plain(dir.path(), &sources);
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") == 4);
    assert_eq!(count(&stats, "corrupt_entries"), 2, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 2, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    // The corrupt entries were replaced by good ones, which now hit.
    for source in &sources {
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", source, "-o", &object_of(source)]),
            "hit",
        );
    }
    assert_objects_match_plain(dir.path(), &sources);
    assert_eq!(count(&server.stats(), "cache_hits.counts.C/C++"), 2);
}

#[test]
fn make_j32_on_a_cold_machine_ends_with_one_server_and_every_compile_right() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let server = Server::configured(root.path().join("cache"), &[], None);
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 32);
    let objects: Vec<String> = sources.iter().map(|source| object_of(source)).collect();
    std::fs::write(
        dir.path().join("Makefile"),
        format!(
            "all: {}\n%.o: %.c\n\t$(CC) -c $< -o $@\n",
            objects.join(" ")
        ),
    )
    .unwrap_or_default();
    let cc = format!("CC={} gcc", sccache_bin().display());
    let output = run(server
        .command("make")
        .current_dir(dir.path())
        .args(["-s", "-j32", &cc]));
    assert_success(&output, "make -j32");
    assert_eq!(assert_objects_match_plain(dir.path(), &sources), 32);
    let servers = servers_on(server.port);
    assert_eq!(
        servers.len(),
        1,
        "servers running for the port: {servers:?}"
    );
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 32, "{stats:#}");
}

#[test]
fn two_servers_sharing_one_cache_directory_stay_correct_and_within_the_limit() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let shared = root.path().join("cache");
    let limit = [("SCCACHE_CACHE_SIZE", "24K")];
    let first = Server::start_in(&shared, &limit);
    let second = Server::start_in(&shared, &limit);
    let dir_one = fixture("c");
    let dir_two = fixture("c");
    let sources_one = generate_sources(dir_one.path(), 24);
    let sources_two = generate_sources(dir_two.path(), 24);
    for _ in 0..2 {
        let one = std::thread::scope(|scope| {
            let handle =
                scope.spawn(|| parallel_build(&first, dir_one.path(), &sources_one, || {}));
            parallel_build(&second, dir_two.path(), &sources_two, || {});
            handle.join().is_ok()
        });
        assert!(one, "the first build panicked");
        assert_objects_match_plain(dir_one.path(), &sources_one);
        assert_objects_match_plain(dir_two.path(), &sources_two);
    }
    for server in [&first, &second] {
        // Every miss ends in one outcome of its write; wait for all of them.
        let stats = server.wait_for_stats(|stats| {
            count(stats, "cache_writes")
                + count(stats, "cache_write_errors")
                + count(stats, "cache_writes_dropped")
                >= count(stats, "cache_misses.counts.C/C++")
        });
        assert_eq!(count(&stats, "corrupt_entries"), 0, "{stats:#}");
    }
    // Both servers are still serving.
    assert_success(
        &first.compile(dir_one.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "first",
    );
    assert_success(
        &second.compile(dir_two.path(), "gcc", &["-c", "util.c", "-o", "util.o"]),
        "second",
    );
    // Each server evicts after a rescan of the shared directory, so together they keep it near
    // the limit; allow one in-flight entry per server beyond it.
    let on_disk = settled_disk_usage(&shared, 24 * 1024 + 2 * 4096);
    assert!(
        on_disk <= 24 * 1024 + 2 * 4096,
        "shared cache holds {on_disk} bytes"
    );
}

#[test]
fn bad_settings_fail_the_server_start_by_name_and_the_client_still_compiles() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("SCCACHE_CACHE_SIZE", "lots")], "SCCACHE_CACHE_SIZE"),
        (&[("SCCACHE_REDIS", "not a url")], "SCCACHE_REDIS"),
        (&[("SCCACHE_BUCKET", "bucket")], "SCCACHE_REGION"),
    ];
    for (settings, named) in cases {
        let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let server = Server::configured(root.path().join("cache"), settings, None);
        let start = server.sccache(["--start-server"]);
        assert!(!start.status.success(), "{settings:?} started a server");
        let message = String::from_utf8_lossy(&start.stderr);
        assert!(message.contains(named), "{settings:?}: {message}");

        let dir = fixture("c");
        let compile = server.compile(dir.path(), "gcc", &["-c", "util.c", "-o", "util.o"]);
        assert_success(&compile, "compile with bad settings");
        assert_objects_match_plain(dir.path(), &["util.c".to_owned()]);
    }
}

#[test]
fn an_entry_file_under_another_key_is_a_miss_removed_and_counted() {
    let server = Server::start();
    let dir = fixture("c");
    let sources = generate_sources(dir.path(), 2);
    for source in &sources {
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", source, "-o", &object_of(source)]),
            "miss",
        );
    }
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 2);
    let entries = entry_files(&server.cache_dir);
    assert_eq!(entries.len(), 2, "{entries:?}");
    // A whole, well-formed entry, but of the other key: a misplaced file, or a planted one.
    std::fs::copy(&entries[0], &entries[1]).unwrap_or_else(|error| panic!("{error}"));

    for source in &sources {
        std::fs::remove_file(dir.path().join(object_of(source))).unwrap_or_default();
        assert_success(
            &server.compile(dir.path(), "gcc", &["-c", source, "-o", &object_of(source)]),
            "recompile",
        );
    }
    assert_objects_match_plain(dir.path(), &sources);
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") == 3);
    assert_eq!(count(&stats, "corrupt_entries"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
}

/// A working directory that cannot be read (deleted under the build) is no reason to fail a
/// compile plain gcc finishes: the client runs the compiler itself.
#[test]
fn a_compile_in_a_deleted_working_directory_runs_the_compiler() {
    let server = Server::start();
    let dir = fixture("c");
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).unwrap_or_default();
    let script = format!(
        "cd '{gone}' && rmdir '{gone}' && exec '{sccache}' gcc -c '{source}' -o '{object}'",
        gone = gone.display(),
        sccache = sccache_bin().display(),
        source = dir.path().join("util.c").display(),
        object = dir.path().join("util.o").display(),
    );
    let output = run(server.command("sh").args(["-c", &script]));
    assert_success(&output, "sccache gcc in a deleted directory");
    let plain = run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-c", "util.c", "-o", "plain.o"]));
    assert_success(&plain, "plain gcc");
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
}

/// A server stopped in the middle of a compile (SIGSTOP: it keeps its TCP connections and
/// says nothing) costs the build one silence limit, not for ever: the client gives up on it,
/// kills it (over TCP, the process holding the connection's other end, as the kernel tells
/// it), so its compile cannot write later, and compiles itself; the object is a plain
/// compile's.
#[test]
fn a_server_stopped_mid_compile_over_tcp_is_killed_and_the_compile_runs_here() {
    let server = Server::start();
    let pid = server.stats()["pid"].as_u64().unwrap_or(0);
    assert!(pid > 0);
    let dir = fixture("c");
    let script = "#!/bin/sh\ncase \" $* \" in *\" -E \"*) exec gcc \"$@\";; esac\nsleep 3\nexec gcc \"$@\"\n";
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        run(Command::new("kill").args(["-STOP", &pid.to_string()]))
    });
    let began = std::time::Instant::now();
    let output = crate::harness::compile_through_wrapper(&server, dir.path(), script, &[]);
    assert_success(
        &stopper.join().unwrap_or_else(|_| panic!("kill")),
        "kill -STOP",
    );
    assert_success(&output, "the compile");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("it was killed"), "{stderr}");
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "{:?}",
        began.elapsed()
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(matches!(state, None | Some('Z') | Some('X')), "{stat}");
    assert_success(
        &run(Command::new("gcc")
            .current_dir(dir.path())
            .args(["-c", "util.c", "-o", "plain.o"])),
        "plain gcc",
    );
    assert_same_file(&dir.path().join("util.o"), &dir.path().join("plain.o"));
}
