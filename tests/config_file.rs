//! sccache's config file through the real server: it chooses the cache directory, the
//! environment overrides it, a malformed one stops `--start-server` with an error naming the
//! file and the key; a read-only disk cache (from the environment or the file) is read but never
//! written (and logged in sccache's words); and `--show-stats` with no server running shows the
//! file's cache, or refuses a malformed file, as sccache does.

use crate::harness::{assert_success, count, fixture, Server};
use std::path::{Path, PathBuf};

/// The entry files under a cache directory.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Writes `text` as a config file in a new directory, which the caller keeps alive.
fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path().join("config");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("config: {error}"));
    let text = path.display().to_string();
    (dir, text)
}

fn compile_once(server: &Server, dir: &Path) {
    let output = server.compile(dir, "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&output, "gcc through sccache");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
}

#[test]
fn the_config_files_cache_directory_is_used() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let file_cache = root.path().join("from-file");
    let (_conf_dir, conf) = config_file(&format!(
        "[cache.disk]\ndir = {:?}\nsize = \"1G\"\n",
        file_cache.display().to_string()
    ));
    // An empty SCCACHE_DIR is unset, as in sccache, so the file's directory applies.
    let server = Server::start_with(&[("SCCACHE_CONF", &conf), ("SCCACHE_DIR", "")]);
    let sources = fixture("c");
    compile_once(&server, sources.path());
    assert_eq!(entries(&file_cache).len(), 1, "{}", server.log());
    assert!(entries(&server.cache_dir).is_empty());
    let stats = server.stats();
    assert_eq!(stats["max_cache_size"], 1u64 << 30, "{stats:#}");
}

#[test]
fn the_environment_overrides_the_config_file() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let file_cache = root.path().join("from-file");
    let (_conf_dir, conf) = config_file(&format!(
        "[cache.disk]\ndir = {:?}\n",
        file_cache.display().to_string()
    ));
    let server = Server::start_with(&[("SCCACHE_CONF", &conf)]);
    let sources = fixture("c");
    compile_once(&server, sources.path());
    assert_eq!(entries(&server.cache_dir).len(), 1, "{}", server.log());
    assert!(!file_cache.exists());
}

#[test]
fn a_malformed_config_file_stops_the_server_naming_the_file_and_the_key() {
    for (text, key) in [
        ("[cache.disk]\ndri = \"/tmp/x\"\n", "dri"),
        ("[cache.disk]\nsize = \"lots\"\n", "cache.disk.size"),
        (
            "[cache.memcached]\nurl = \"tcp://127.0.0.1:11211\"\n",
            "cache.memcached",
        ),
    ] {
        let (conf_dir, conf) = config_file(text);
        let cache_dir = conf_dir.path().join("cache");
        let server = Server::configured(cache_dir, &[("SCCACHE_CONF", &conf)], None);
        let output = server.sccache(["--start-server"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {text:?}: {stderr}");
        assert!(
            stderr.contains(&conf) && stderr.contains(key),
            "{text:?}: {stderr}"
        );
    }
}

/// Primes a cache with `hello.c`, then serves it read-only (by `env`) and checks that the primed
/// entry is a hit while a new source's entry is skipped, not written.
fn read_only_cache_is_read_not_written(env: &[(&str, &str)]) {
    let sources = fixture("c");
    let primed = Server::start();
    compile_once(&primed, sources.path());
    primed.stop();
    let before = entries(&primed.cache_dir);

    let server = Server::start_in(&primed.cache_dir, env);
    std::fs::remove_file(sources.path().join("hello.o")).unwrap_or_default();
    let hit = server.compile(sources.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&hit, "hit");
    assert!(sources.path().join("hello.o").exists());
    std::fs::write(
        sources.path().join("new.c"),
        "int fresh(void) { return 4; }\n",
    )
    .unwrap_or_else(|error| panic!("new.c: {error}"));
    let miss = server.compile(sources.path(), "gcc", &["-c", "new.c", "-o", "new.o"]);
    assert_success(&miss, "miss");
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes_skipped") == 1);
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    assert_eq!(entries(&primed.cache_dir), before);
    let text = server.sccache(["--show-stats"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Cache writes skipped"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // sccache's log lines for both, which its own tests (and tools) look for.
    let log = server.log();
    assert!(log.contains("server has setup with ReadOnly"), "{log}");
    assert!(
        log.contains("Error executing cache write: Cannot write to read-only storage"),
        "{log}"
    );
    assert!(!primed.log().contains("server has setup with ReadOnly"));
}

#[test]
fn local_rw_mode_read_only_reads_but_never_writes() {
    read_only_cache_is_read_not_written(&[("SCCACHE_LOCAL_RW_MODE", "READ_ONLY")]);
}

#[test]
fn config_files_disk_rw_mode_read_only_reads_but_never_writes() {
    let (_conf_dir, conf) = config_file("[cache.disk]\nrw_mode = \"READ_ONLY\"\n");
    read_only_cache_is_read_not_written(&[("SCCACHE_CONF", &conf)]);
}

#[test]
fn show_stats_without_a_server_shows_the_config_files_cache() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let file_cache = root.path().join("from-file");
    let (_conf_dir, conf) = config_file(&format!(
        "[cache.disk]\ndir = {:?}\nsize = \"3G\"\n",
        file_cache.display().to_string()
    ));
    // Never started: `--show-stats` starts no server, so it reads the settings itself.
    let server = Server::configured(
        root.path().join("unused"),
        &[("SCCACHE_CONF", &conf), ("SCCACHE_DIR", "")],
        None,
    );
    let stats = server.stats();
    assert_eq!(
        stats["cache_location"],
        format!("Local disk: {:?}", file_cache.display().to_string()),
        "{stats:#}"
    );
    assert_eq!(stats["max_cache_size"], 3u64 << 30, "{stats:#}");
    let text = server.sccache(["--show-stats"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&file_cache.display().to_string()));
    assert!(Server::configured(root.path().join("unused"), &[], None)
        .sccache(["--show-stats"])
        .status
        .success());
}

#[test]
fn show_stats_without_a_server_reports_a_malformed_config_file() {
    let (conf_dir, conf) = config_file("[cache.disk]\nsize = \"lots\"\n");
    let server = Server::configured(
        conf_dir.path().join("cache"),
        &[("SCCACHE_CONF", &conf)],
        None,
    );
    let output = server.sccache(["--show-stats"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&conf) && stderr.contains("cache.disk.size"),
        "{stderr}"
    );
}
