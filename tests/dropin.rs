//! The command-line behaviour that sccache's own integration tests expect of the binary (issue
//! 17): stats without a server, a start that cannot listen, the client's log (and one it cannot
//! open), the detailed stats. `.ci/upstream-tests` runs sccache's tests themselves; these pin
//! the same behaviour in our suite, where it fails fast and names the regression.

use crate::harness::{count, fixture, Server};
use std::net::{Ipv4Addr, TcpListener};

fn unstarted() -> (tempfile::TempDir, Server) {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let server = Server::configured(root.path().join("cache"), &[], None);
    (root, server)
}

/// Regression: `--show-stats` started a server when none ran; sccache shows zeros instead.
#[test]
fn show_stats_without_a_server_shows_zeros_and_starts_none() {
    let (_root, server) = unstarted();
    let stats = server.stats();
    assert_eq!(count(&stats, "compile_requests"), 0, "{stats:#}");
    assert!(stats["effective_cache_mode"].is_null(), "{stats:#}");
    let stopped = server.sccache(["--stop-server"]);
    assert!(
        !stopped.status.success(),
        "a server was running after --show-stats"
    );
}

/// Regression: `--start-server` on a port another program holds exited 0 and printed nothing.
#[test]
fn start_server_on_a_port_another_program_holds_fails_loudly() {
    let (_root, server) = unstarted();
    let _holder = TcpListener::bind((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    let output = server.sccache(["--start-server"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("Server startup failed:"), "{stderr}");
}

/// Whether `text` has a log line starting `[YYYY-MM-DDTHH:MM:SS<fraction>Z `, where the
/// fraction is `.mmm` with `millis` and absent without.
fn has_timestamp(text: &str, millis: bool) -> bool {
    text.lines().any(|line| {
        let bytes = line.as_bytes();
        let seconds_end = 20;
        if bytes.len() < seconds_end + 5 || bytes[0] != b'[' || bytes[11] != b'T' {
            return false;
        }
        let rest = &line[seconds_end..];
        if millis {
            rest.len() > 5
                && rest.starts_with('.')
                && rest[1..4].bytes().all(|b| b.is_ascii_digit())
                && rest[4..].starts_with("Z ")
        } else {
            rest.starts_with("Z ")
        }
    })
}

/// Regression: the client logged nothing under `SCCACHE_LOG`, and `SCCACHE_LOG_MILLIS` was
/// unknown. Without `SCCACHE_ERROR_LOG` a client logs to stderr, as sccache's does.
#[test]
fn the_client_logs_under_sccache_log_with_optional_millis() {
    let (_root, server) = unstarted();
    for millis in [false, true] {
        let mut command = server.command(crate::harness::sccache_bin());
        command
            .arg("--show-stats")
            .env("SCCACHE_LOG", "debug")
            .env_remove("SCCACHE_ERROR_LOG")
            .env_remove("SCCACHE_LOG_MILLIS");
        if millis {
            command.env("SCCACHE_LOG_MILLIS", "yes");
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(has_timestamp(&stderr, millis), "millis {millis}: {stderr}");
        assert!(
            !has_timestamp(&stderr, !millis),
            "millis {millis}: {stderr}"
        );
    }
}

/// `--show-adv-stats` counts by language and compiler, under sccache's labels.
#[test]
fn advanced_stats_count_by_language_and_compiler() {
    let server = Server::start();
    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert!(output.status.success());
    let stats = server.stats();
    assert_eq!(
        stats["stats"]["cache_misses"]["adv_counts"]["c [gcc]"], 1,
        "{stats:#}"
    );
    assert_eq!(
        stats["stats"]["cache_misses"]["counts"]["C/C++"], 1,
        "{stats:#}"
    );
    let text = server.sccache(["--show-adv-stats"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Cache misses (c [gcc])"), "{text}");
    assert!(text.contains("Effective cache mode"), "{text}");
    server.stop();
}

/// sccache's client exits when `SCCACHE_ERROR_LOG` cannot be opened (its
/// `test_run_log_no_perm`); ours compiles, logging to stderr, and says so in sccache's words.
#[test]
fn an_unwritable_log_file_is_reported_and_the_compile_goes_on() {
    let server = Server::start();
    let dir = fixture("c");
    let log = dir.path().join("no-such-dir").join("sccache.log");
    let output = server
        .command(crate::harness::sccache_bin())
        .current_dir(dir.path())
        .args(["gcc", "-c", "hello.c", "-o", "hello.o"])
        .env("SCCACHE_LOG", "debug")
        .env("SCCACHE_ERROR_LOG", &log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(dir.path().join("hello.o").exists(), "{stderr}");
    let notice = format!("Cannot open/write log file '{}'", log.display());
    assert!(stderr.contains(&notice), "{stderr}");
    server.stop();
}
