//! Tests of the Redis actor against a real `redis-server` started on a free loopback port.
//!
//! `redis-server` must be installed (CI installs it): a missing server fails these tests rather
//! than skipping them, so a green run always means Redis was exercised.

use super::describe::{sum_maxmemory, sum_used_memory};
use super::*;
use crate::stats::{Snapshot, StatsKeeper};
use crate::storage::test_support::{entry, free_port};
use crate::storage::{Describe, Description};
use redis::Value;
use sccache_core::config::CacheMode;
use sccache_core::entry::CacheEntry;
use sccache_core::stats::Stats;
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

/// A `redis-server` of one test, killed when dropped.
struct RedisProcess {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl RedisProcess {
    fn start() -> RedisProcess {
        RedisProcess::start_on(free_port(), &[])
    }

    fn start_on(port: u16, extra: &[&str]) -> RedisProcess {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the Redis backend's tests");
        let process = RedisProcess {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ping = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .expect("redis-cli must be installed");
            // A server with a password answers, too: that it wants one.
            let answer = String::from_utf8_lossy(&ping.stdout);
            if answer.contains("PONG") || answer.contains("NOAUTH") {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} never answered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(url: &str) -> RedisConfig {
    RedisConfig {
        endpoints: vec![url.to_owned()],
        setting: "SCCACHE_REDIS",
        cluster: false,
        username: None,
        password: None,
        db: None,
        key_prefix: String::new(),
        expiration: None,
        mode: CacheMode::ReadWrite,
    }
}

fn key(number: u8) -> CacheKey {
    CacheKey([number; 32])
}

struct Harness {
    storage: Addr<RedisStorage>,
    stats: Addr<StatsKeeper>,
}

fn start(config: RedisConfig, max_pending_writes: usize) -> Harness {
    let stats = StatsKeeper::default().start();
    let storage = RedisStorage::new(
        config,
        Duration::from_secs(2),
        max_pending_writes,
        stats.clone().recipient(),
    )
    .unwrap()
    .start();
    Harness { storage, stats }
}

impl Harness {
    async fn stats(&self) -> Stats {
        self.stats.send(Snapshot).await.unwrap()
    }

    /// Waits until `ready` holds for the stats (writes are reported asynchronously).
    async fn wait_for(&self, ready: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.stats().await;
            if ready(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "stats never got there: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn store(&self, key: CacheKey, entry: CacheEntry) -> Stats {
        let before = self.stats().await;
        self.storage.do_send(Store { key, entry });
        let done = |stats: &Stats| {
            stats.cache_writes + stats.cache_write_errors + stats.cache_writes_dropped
                > before.cache_writes + before.cache_write_errors + before.cache_writes_dropped
        };
        self.wait_for(done).await
    }

    async fn lookup(&self, key: CacheKey) -> LookupResult {
        self.storage.send(Lookup { key }).await.unwrap()
    }

    async fn describe(&self) -> Description {
        self.storage.send(Describe).await.unwrap()
    }
}

#[actix_rt::test]
async fn a_stored_entry_is_found_whole_under_its_prefixed_key() {
    let redis = RedisProcess::start();
    let mut settings = config(&redis.url());
    settings.key_prefix = "team/".into();
    let harness = start(settings, 4);
    let stored = entry(100_000, 7);
    let stats = harness.store(key(1), stored.clone()).await;
    assert_eq!(stats.cache_writes, 1, "{stats:?}");
    assert_eq!(
        redis.cli(&["exists", &format!("team/{}", key(1).to_hex())]),
        "1"
    );
    assert_eq!(
        redis.cli(&["ttl", &format!("team/{}", key(1).to_hex())]),
        "-1"
    );
    match harness.lookup(key(1)).await {
        LookupResult::Hit(found) => assert_eq!(*found, stored),
        other => panic!("expected a hit, got {other:?}"),
    }
    assert!(matches!(harness.lookup(key(2)).await, LookupResult::Miss));
}

#[actix_rt::test]
async fn entries_expire_when_an_expiration_is_set() {
    let redis = RedisProcess::start();
    let mut settings = config(&redis.url());
    settings.expiration = Some(Duration::from_secs(3600));
    let harness = start(settings, 4);
    harness.store(key(1), entry(10, 1)).await;
    let ttl: u64 = redis.cli(&["ttl", &key(1).to_hex()]).parse().unwrap();
    assert!((3500..=3600).contains(&ttl), "{ttl}");
}

#[actix_rt::test]
async fn a_corrupt_entry_is_reported_and_deleted() {
    let redis = RedisProcess::start();
    let harness = start(config(&redis.url()), 4);
    harness.store(key(1), entry(1000, 1)).await;
    let hex = key(1).to_hex();
    redis.cli(&["setrange", &hex, "50", "garbage"]);
    let result = harness.lookup(key(1)).await;
    assert!(matches!(result, LookupResult::Corrupt), "{result:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.cli(&["exists", &hex]) != "0" {
        assert!(
            Instant::now() < deadline,
            "the corrupt entry was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(harness.lookup(key(1)).await, LookupResult::Miss));
}

#[actix_rt::test]
async fn writes_over_the_pending_limit_are_dropped() {
    let redis = RedisProcess::start();
    let harness = start(config(&redis.url()), 0);
    let stats = harness.store(key(1), entry(10, 1)).await;
    assert_eq!(stats.cache_writes_dropped, 1, "{stats:?}");
    assert_eq!(stats.cache_writes, 0, "{stats:?}");
}

#[actix_rt::test]
async fn describe_reports_used_memory_and_maxmemory() {
    let redis = RedisProcess::start();
    let harness = start(config(&redis.url()), 4);
    let description = harness.describe().await;
    assert_eq!(
        description.location,
        format!("Redis: redis://127.0.0.1:{}/0", redis.port)
    );
    assert!(
        description.size.is_some_and(|size| size > 0),
        "{description:?}"
    );
    assert_eq!(description.max_size, None);
    assert_eq!(
        description.note.as_deref(),
        Some("Redis maxmemory is not set (0)")
    );
    redis.cli(&["config", "set", "maxmemory", "100mb"]);
    let description = harness.describe().await;
    assert_eq!(description.max_size, Some(104_857_600), "{description:?}");
    assert_eq!(description.note, None);

    // A Redis that renames CONFIG away still reports its size.
    let locked = RedisProcess::start_on(free_port(), &["--rename-command", "CONFIG", ""]);
    let harness = start(config(&locked.url()), 4);
    let description = harness.describe().await;
    assert!(description.size.is_some(), "{description:?}");
    assert_eq!(description.max_size, None);
    assert_eq!(
        description.note.as_deref(),
        Some("Redis refused CONFIG GET maxmemory")
    );
}

#[actix_rt::test]
async fn password_and_database_come_from_the_settings() {
    let redis = RedisProcess::start_on(free_port(), &["--requirepass", "secret"]);
    let mut settings = config(&redis.url());
    settings.password = Some("secret".into());
    settings.db = Some(3);
    let harness = start(settings, 4);
    let stats = harness.store(key(1), entry(10, 1)).await;
    assert_eq!(stats.cache_writes, 1, "{stats:?}");
    let in_db_3 = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "-a", "secret", "-n", "3"])
        .args(["exists", &key(1).to_hex()])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&in_db_3.stdout).trim(), "1");
    assert!(matches!(harness.lookup(key(1)).await, LookupResult::Hit(_)));
    let description = harness.describe().await;
    assert_eq!(
        description.location,
        format!("Redis: redis://:***@127.0.0.1:{}/3", redis.port)
    );

    // The wrong password fails the reads, not the actor.
    let mut settings = config(&redis.url());
    settings.password = Some("wrong".into());
    let harness = start(settings, 4);
    let result = harness.lookup(key(1)).await;
    assert!(matches!(result, LookupResult::Error(_)), "{result:?}");
}

#[actix_rt::test]
async fn a_redis_down_at_start_is_used_once_it_comes_up() {
    let port = free_port();
    let harness = start(config(&format!("redis://127.0.0.1:{port}")), 4);
    let started = Instant::now();
    let result = harness.lookup(key(1)).await;
    assert!(matches!(result, LookupResult::Error(_)), "{result:?}");
    // Resting: the next lookup does not even try to connect.
    let result = harness.lookup(key(1)).await;
    match result {
        LookupResult::Error(text) => assert!(text.contains("skipped"), "{text}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let stats = harness.store(key(1), entry(10, 1)).await;
    assert_eq!(stats.cache_write_errors, 1, "{stats:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let description = harness.describe().await;
    assert_eq!(description.size, None);
    assert!(description
        .note
        .is_some_and(|note| note.contains("unreachable")));

    let _redis = RedisProcess::start_on(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = harness.store(key(1), entry(10, 1)).await;
        if stats.cache_writes == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never wrote after Redis came up: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(harness.lookup(key(1)).await, LookupResult::Hit(_)));
}

#[actix_rt::test]
async fn a_restarted_redis_is_reconnected() {
    let port = free_port();
    let mut redis = RedisProcess::start_on(port, &[]);
    let harness = start(config(&redis.url()), 4);
    assert_eq!(harness.store(key(1), entry(10, 1)).await.cache_writes, 1);
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    let result = harness.lookup(key(1)).await;
    assert!(matches!(result, LookupResult::Error(_)), "{result:?}");

    let _restarted = RedisProcess::start_on(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = harness.store(key(2), entry(10, 2)).await;
        if stats.cache_writes == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never wrote after the restart: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(harness.lookup(key(2)).await, LookupResult::Hit(_)));
}

#[test]
fn memory_figures_are_read_from_replies() {
    let info =
        Value::BulkString(b"# Memory\r\nused_memory:1234\r\nused_memory_human:1K\r\n".to_vec());
    assert_eq!(sum_used_memory(&[info.clone(), info]), Some(2468));
    assert_eq!(sum_used_memory(&[Value::Nil]), None);
    let pair = |value: &str| {
        Value::Array(vec![
            Value::BulkString(b"maxmemory".to_vec()),
            Value::BulkString(value.as_bytes().to_vec()),
        ])
    };
    assert_eq!(sum_maxmemory(&[pair("100"), pair("200")]), Ok(Some(300)));
    assert_eq!(sum_maxmemory(&[pair("100"), pair("0")]), Ok(None));
    assert!(sum_maxmemory(&[pair("lots")]).is_err());
}
