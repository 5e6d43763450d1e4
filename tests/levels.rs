//! A cache in levels through the real server (`SCCACHE_MULTILEVEL_CHAIN`), and compressed
//! entries in the remote levels: a local disk in front of a real Redis, of moto's S3 and of
//! BuildGrid's REAPI (the first hit comes from the remote level, the next from the disk, as the
//! per-level stats show), three levels (disk, Redis, REAPI: a hit from the last written back
//! to both in front),
//! read-only levels never written (their server's contents checked), each write-error policy
//! with an unreachable Redis (never a failed build), and zstd entries: compressed on the wire,
//! byte-identical outputs, an old uncompressed entry still read, a corrupt one a counted miss.

#[cfg(feature = "redis")]
use crate::harness::free_port;
use crate::harness::{assert_success, count, fixture, read, Server};
#[cfg(feature = "reapi")]
use crate::reapi::BuildGrid;
#[cfg(feature = "redis")]
use crate::redis::RedisServer;
#[cfg(feature = "s3")]
use crate::s3::{s3_env, Moto};
use serde_json::Value;
use std::path::Path;
#[cfg(feature = "redis")]
use std::path::PathBuf;

/// `pairs` as the harness takes them.
#[cfg(feature = "reapi")]
fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
}

/// The figure `field` of the level of index `level` in the stats.
fn level(stats: &Value, level: usize, field: &str) -> u64 {
    stats["stats"]["multi_level"][level][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no multi_level[{level}].{field}: {stats:#}"))
}

fn compile(server: &Server, dir: &Path, source: &str) {
    let object = source.replace(".c", ".o");
    let output = server.compile(dir, "gcc", &["-c", source, "-o", &object]);
    assert_success(&output, &format!("gcc -c {source}\n{}", server.log()));
}

/// Every file under `dir`.
#[cfg(feature = "redis")]
fn files_under(dir: &Path) -> Vec<PathBuf> {
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

/// The first server stores `hello.c` in every level; a second one, with an empty disk level,
/// gets its first hit from the remote level (written back to its disk) and the next from its
/// disk. Both hits restore the first server's object byte for byte.
fn assert_remote_hit_then_disk_hit(env: &[(&str, &str)]) {
    let first = Server::start_with(env);
    let first_dir = fixture("c");
    compile(&first, first_dir.path(), "hello.c");
    let stats = first
        .wait_for_stats(|stats| level(stats, 0, "writes") == 1 && level(stats, 1, "writes") == 1);
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "misses"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "misses"), 1, "{stats:#}");
    let expected = read(&first_dir.path().join("hello.o"));

    let second = Server::start_with(env);
    let second_dir = fixture("c");
    compile(&second, second_dir.path(), "hello.c");
    assert_eq!(read(&second_dir.path().join("hello.o")), expected);
    let stats = second.wait_for_stats(|stats| level(stats, 0, "writes") == 1);
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "misses"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "backfills_from"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "backfills_to"), 1, "{stats:#}");
    // A write-back is not a compile's write.
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");

    std::fs::remove_file(second_dir.path().join("hello.o"))
        .unwrap_or_else(|error| panic!("hello.o: {error}"));
    compile(&second, second_dir.path(), "hello.c");
    assert_eq!(read(&second_dir.path().join("hello.o")), expected);
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 2, "{stats:#}");
    assert_eq!(level(&stats, 0, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    let text = second.sccache(["--show-stats"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("L0 (disk) hits"), "{text}");
    assert!(text.contains("L1 ("), "{text}");
}

#[cfg(feature = "redis")]
#[test]
fn a_disk_in_front_of_redis_serves_the_second_hit() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    assert_remote_hit_then_disk_hit(&[
        ("SCCACHE_MULTILEVEL_CHAIN", "disk,redis"),
        ("SCCACHE_REDIS", &url),
    ]);
    assert_eq!(redis.cli(&["dbsize"]), "1");
}

#[cfg(feature = "s3")]
#[test]
fn a_disk_in_front_of_s3_serves_the_second_hit() {
    let moto = Moto::start();
    moto.create_bucket("levels");
    let mut env = s3_env(&moto, "levels", &[]);
    env.push(("SCCACHE_MULTILEVEL_CHAIN".into(), "disk,s3".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_remote_hit_then_disk_hit(&pairs);
    let objects = moto.list("levels");
    assert_eq!(objects.len(), 1, "{objects:?}");
    // Stored compressed: the marker, then a zstd frame.
    let (status, body) = moto.request("GET", &format!("/levels/{}", objects[0]), b"");
    assert_eq!(status, 200);
    assert!(
        body.starts_with(b"SCZ1"),
        "{:?}",
        &body[..8.min(body.len())]
    );
}

#[cfg(feature = "redis")]
#[test]
fn a_read_only_redis_level_is_read_and_never_written() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let writer = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let dir = fixture("c");
    compile(&writer, dir.path(), "hello.c");
    writer.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let keys_before = redis.cli(&["--scan"]);
    assert_eq!(keys_before.lines().count(), 1);

    let reader = Server::start_with(&[
        ("SCCACHE_MULTILEVEL_CHAIN", "disk,redis"),
        ("SCCACHE_REDIS", &url),
        ("SCCACHE_REDIS_RW_MODE", "READ_ONLY"),
    ]);
    let dir = fixture("c");
    // A miss: stored on the disk, skipped for Redis.
    compile(&reader, dir.path(), "util.c");
    // A hit from Redis: written back to the disk only.
    compile(&reader, dir.path(), "hello.c");
    let stats = reader.wait_for_stats(|stats| level(stats, 0, "writes") == 2);
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "writes"), 0, "{stats:#}");
    assert_eq!(level(&stats, 1, "writes_skipped"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");
    assert_eq!(stats["effective_cache_mode"], "ReadWrite", "{stats:#}");
    assert_eq!(redis.cli(&["--scan"]), keys_before);
}

#[cfg(feature = "redis")]
#[test]
fn a_read_only_disk_level_is_read_and_never_written_not_even_by_a_write_back() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let writer = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let dir = fixture("c");
    compile(&writer, dir.path(), "hello.c");
    writer.wait_for_stats(|stats| count(stats, "cache_writes") == 1);

    let reader = Server::start_with(&[
        ("SCCACHE_MULTILEVEL_CHAIN", "disk,redis"),
        ("SCCACHE_REDIS", &url),
        ("SCCACHE_LOCAL_RW_MODE", "READ_ONLY"),
    ]);
    let dir = fixture("c");
    compile(&reader, dir.path(), "hello.c");
    compile(&reader, dir.path(), "util.c");
    // The miss's write lands in Redis, the first writable level: the cache's write.
    let stats = reader.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "writes_skipped"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "backfills_to"), 0, "{stats:#}");
    assert_eq!(redis.cli(&["dbsize"]), "2");
    assert!(
        files_under(&reader.cache_dir).is_empty(),
        "{:?}",
        files_under(&reader.cache_dir)
    );
}

#[cfg(feature = "s3")]
#[test]
fn a_read_only_s3_level_is_read_and_never_written() {
    let moto = Moto::start();
    moto.create_bucket("read-only");
    let writer_env = s3_env(&moto, "read-only", &[]);
    let pairs: Vec<(&str, &str)> = writer_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let writer = Server::start_with(&pairs);
    let dir = fixture("c");
    compile(&writer, dir.path(), "hello.c");
    writer.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let before = moto.list("read-only");
    assert_eq!(before.len(), 1);

    let mut env = s3_env(&moto, "read-only", &[("SCCACHE_S3_RW_MODE", "READ_ONLY")]);
    env.push(("SCCACHE_MULTILEVEL_CHAIN".into(), "disk,s3".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reader = Server::start_with(&pairs);
    let dir = fixture("c");
    compile(&reader, dir.path(), "util.c");
    compile(&reader, dir.path(), "hello.c");
    let stats = reader.wait_for_stats(|stats| level(stats, 0, "writes") == 2);
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "writes_skipped"), 1, "{stats:#}");
    assert_eq!(moto.list("read-only"), before);
}

/// One compile through a chain whose Redis level nobody answers, under `policy`; returns the
/// stats once the Redis level's failed write is counted.
#[cfg(feature = "redis")]
fn unreachable_redis_level(chain: &str, policy: &str) -> Value {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let root = tempfile::Builder::new()
        .prefix("sccache-cache")
        .tempdir()
        .unwrap_or_else(|error| panic!("tempdir: {error}"));
    // Started by the compile, as in a build: an explicit start checks the levels the policy
    // names (`explicit_start_checks_the_levels_the_policy_names`).
    let server = Server::configured(
        root.path().join("cache"),
        &[
            ("SCCACHE_MULTILEVEL_CHAIN", chain),
            ("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY", policy),
            ("SCCACHE_REDIS", &url),
        ],
        Some(root),
    );
    let redis_level = usize::from(chain.starts_with("disk"));
    let disk_level = 1 - redis_level;
    let dir = fixture("c");
    compile(&server, dir.path(), "hello.c");
    assert!(dir.path().join("hello.o").exists());
    let stats = server.wait_for_stats(|stats| {
        level(stats, redis_level, "write_failures") == 1 && level(stats, disk_level, "writes") == 1
    });
    assert_eq!(level(&stats, redis_level, "errors"), 1, "{stats:#}");
    stats
}

#[cfg(feature = "redis")]
#[test]
fn each_write_error_policy_counts_an_unreachable_levels_failures_its_way() {
    // Redis behind the disk: only `all` counts its failure; the disk's write is the cache's.
    for (policy, errors) in [("ignore", 0), ("l0", 0), ("all", 1)] {
        let stats = unreachable_redis_level("disk,redis", policy);
        assert_eq!(
            count(&stats, "cache_write_errors"),
            errors,
            "{policy}: {stats:#}"
        );
        assert_eq!(count(&stats, "cache_writes"), 1, "{policy}: {stats:#}");
    }
    // Redis first: `l0` and `all` count its failure, `ignore` does not.
    for (policy, errors) in [("ignore", 0), ("l0", 1), ("all", 1)] {
        let stats = unreachable_redis_level("redis,disk", policy);
        assert_eq!(
            count(&stats, "cache_write_errors"),
            errors,
            "{policy}: {stats:#}"
        );
        // The first writable level is Redis, whose write failed.
        assert_eq!(count(&stats, "cache_writes"), 0, "{policy}: {stats:#}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn explicit_start_checks_the_levels_the_policy_names() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    for (chain, policy, starts) in [
        ("disk,redis", "all", false),
        ("disk,redis", "l0", true),
        ("redis,disk", "l0", false),
        ("redis,disk", "ignore", true),
    ] {
        let root = tempfile::Builder::new()
            .prefix("sccache-cache")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        let server = Server::configured(
            root.path().join("cache"),
            &[
                ("SCCACHE_MULTILEVEL_CHAIN", chain),
                ("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY", policy),
                ("SCCACHE_REDIS", &url),
            ],
            Some(root),
        );
        let output = server.sccache(["--start-server"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.success(),
            starts,
            "{chain} {policy}: {stderr}"
        );
    }
}

/// The one key Redis holds.
#[cfg(feature = "redis")]
fn only_key(redis: &RedisServer) -> String {
    let keys = redis.cli(&["--scan"]);
    assert_eq!(keys.lines().count(), 1, "{keys}");
    keys.trim().to_owned()
}

#[cfg(feature = "redis")]
#[test]
fn entries_in_redis_are_compressed_and_old_uncompressed_ones_still_read() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    // A disk-only server makes the uncompressed entry an older sccache stored.
    let disk_only = Server::start();
    let dir = fixture("c");
    compile(&disk_only, dir.path(), "hello.c");
    disk_only.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let expected = read(&dir.path().join("hello.o"));
    let entries = files_under(&disk_only.cache_dir);
    let entry = entries
        .iter()
        .find(|path| path.file_name().is_some_and(|name| name.len() == 64))
        .unwrap_or_else(|| panic!("no entry in {entries:?}"));
    let key = entry.file_name().unwrap().to_string_lossy().into_owned();
    let set = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "-x", "SET", &key])
        .stdin(std::fs::File::open(entry).unwrap())
        .output()
        .unwrap();
    assert_success(&set, "redis-cli -x SET");
    assert_eq!(redis.cli(&["GETRANGE", &key, "0", "3"]), "SCCE");

    let server = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let dir = fixture("c");
    compile(&server, dir.path(), "hello.c");
    assert_eq!(read(&dir.path().join("hello.o")), expected);
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");

    // A new entry goes to Redis compressed, smaller than the disk's, and reads back whole.
    redis.cli(&["FLUSHALL"]);
    compile(&server, dir.path(), "util.c");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let key = only_key(&redis);
    assert_eq!(redis.cli(&["GETRANGE", &key, "0", "3"]), "SCZ1");
    let expected = read(&dir.path().join("util.o"));
    let other = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let other_dir = fixture("c");
    compile(&other, other_dir.path(), "util.c");
    assert_eq!(read(&other_dir.path().join("util.o")), expected);
    assert_eq!(count(&other.stats(), "cache_hits.counts.C/C++"), 1);
}

#[cfg(feature = "redis")]
#[test]
fn a_corrupt_compressed_entry_is_a_counted_miss_and_is_replaced() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let writer = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let dir = fixture("c");
    compile(&writer, dir.path(), "hello.c");
    writer.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let expected = read(&dir.path().join("hello.o"));
    let key = only_key(&redis);
    let length: usize = redis.cli(&["STRLEN", &key]).parse().unwrap();
    // Overwrite bytes in the middle of the zstd frame.
    let middle = (length / 2).to_string();
    redis.cli(&["SETRANGE", &key, &middle, "garbage!"]);

    let server = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let dir = fixture("c");
    compile(&server, dir.path(), "hello.c");
    assert_eq!(read(&dir.path().join("hello.o")), expected);
    // The miss's store replaces the removed entry.
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_eq!(count(&stats, "corrupt_entries"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    let other = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let other_dir = fixture("c");
    compile(&other, other_dir.path(), "hello.c");
    assert_eq!(read(&other_dir.path().join("hello.o")), expected);
    assert_eq!(count(&other.stats(), "cache_hits.counts.C/C++"), 1);
}

#[cfg(feature = "reapi")]
#[test]
fn a_disk_in_front_of_reapi_serves_the_second_hit_and_the_reapi_entry_is_compressed() {
    let grid = BuildGrid::start_on_disk();
    let mut env = grid.env();
    env.push(("SCCACHE_MULTILEVEL_CHAIN".into(), "disk,reapi".into()));
    assert_remote_hit_then_disk_hit(&borrowed(&env));
    // The entry's blob is the marker and a zstd frame, smaller than the object it holds; the
    // other blobs are the synthetic Action and its Command and input root.
    let blobs = grid.cas_files();
    let entries: Vec<_> = blobs
        .iter()
        .filter(|(_, bytes)| bytes.starts_with(b"SCZ1"))
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "{:?}",
        blobs
            .iter()
            .map(|(path, bytes)| (path, bytes.len()))
            .collect::<Vec<_>>()
    );
    let dir = fixture("c");
    let plain = Server::start_with(&[]);
    compile(&plain, dir.path(), "hello.c");
    let object = read(&dir.path().join("hello.o"));
    assert!(
        entries[0].1.len() < object.len(),
        "entry blob {} bytes, object {} bytes",
        entries[0].1.len(),
        object.len()
    );
}

#[cfg(feature = "reapi")]
#[test]
fn a_read_only_reapi_level_is_read_and_never_written() {
    let grid = BuildGrid::start_on_disk();
    let writer = Server::start_with(&borrowed(&grid.env()));
    let dir = fixture("c");
    compile(&writer, dir.path(), "hello.c");
    writer.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    let before = grid.cas_files();
    assert!(!before.is_empty());

    let mut env = grid.env();
    env.push(("SCCACHE_MULTILEVEL_CHAIN".into(), "disk,reapi".into()));
    env.push(("SCCACHE_REAPI_RW_MODE".into(), "READ_ONLY".into()));
    let reader = Server::start_with(&borrowed(&env));
    let dir = fixture("c");
    // A miss: stored on the disk, skipped for REAPI.
    compile(&reader, dir.path(), "util.c");
    // A hit from REAPI: written back to the disk only.
    compile(&reader, dir.path(), "hello.c");
    let stats = reader.wait_for_stats(|stats| level(stats, 0, "writes") == 2);
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "writes"), 0, "{stats:#}");
    assert_eq!(level(&stats, 1, "writes_skipped"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "write_failures"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");
    assert_eq!(grid.cas_files(), before);
}

#[cfg(all(feature = "redis", feature = "reapi"))]
#[test]
fn three_levels_disk_redis_reapi_serve_from_the_fastest_that_holds_the_entry() {
    let grid = BuildGrid::start_on_disk();
    let redis = RedisServer::start(&[]);
    let chain = |redis: &RedisServer| {
        let mut env = grid.env();
        env.push(("SCCACHE_MULTILEVEL_CHAIN".into(), "disk,redis,reapi".into()));
        env.push(("SCCACHE_REDIS".into(), redis.url()));
        env
    };
    let first = Server::start_with(&borrowed(&chain(&redis)));
    let first_dir = fixture("c");
    compile(&first, first_dir.path(), "hello.c");
    let stats =
        first.wait_for_stats(|stats| (0..3).all(|index| level(stats, index, "writes") == 1));
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");
    let expected = read(&first_dir.path().join("hello.o"));
    assert_eq!(redis.cli(&["dbsize"]), "1");

    // A new disk, the same Redis: the hit comes from Redis and REAPI is not asked.
    let second = Server::start_with(&borrowed(&chain(&redis)));
    let dir = fixture("c");
    compile(&second, dir.path(), "hello.c");
    assert_eq!(read(&dir.path().join("hello.o")), expected);
    let stats = second.wait_for_stats(|stats| level(stats, 0, "writes") == 1);
    assert_eq!(level(&stats, 1, "hits"), 1, "{stats:#}");
    assert_eq!(
        level(&stats, 2, "hits") + level(&stats, 2, "misses"),
        0,
        "{stats:#}"
    );

    // A new disk and an empty Redis: the hit comes from REAPI, written back to both.
    let empty = RedisServer::start(&[]);
    let third = Server::start_with(&borrowed(&chain(&empty)));
    let dir = fixture("c");
    compile(&third, dir.path(), "hello.c");
    assert_eq!(read(&dir.path().join("hello.o")), expected);
    let stats = third
        .wait_for_stats(|stats| level(stats, 0, "writes") == 1 && level(stats, 1, "writes") == 1);
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(level(&stats, 0, "misses"), 1, "{stats:#}");
    assert_eq!(level(&stats, 1, "misses"), 1, "{stats:#}");
    assert_eq!(level(&stats, 2, "hits"), 1, "{stats:#}");
    assert_eq!(level(&stats, 2, "backfills_from"), 2, "{stats:#}");
    assert_eq!(empty.cli(&["dbsize"]), "1");
    // The next hit is the disk's.
    std::fs::remove_file(dir.path().join("hello.o")).unwrap_or_else(|error| panic!("{error}"));
    compile(&third, dir.path(), "hello.c");
    assert_eq!(read(&dir.path().join("hello.o")), expected);
    assert_eq!(level(&third.stats(), 0, "hits"), 1);
}
