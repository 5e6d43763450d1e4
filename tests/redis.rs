//! The Redis backend through the real server: a cache shared by two sccache servers (as by two
//! machines of a team), what `--show-stats` says of Redis, a Redis killed and restarted under a
//! running server, key prefixes, and a three-node Redis Cluster.
//!
//! Every test starts its own `redis-server`s on free loopback ports, each in its own temporary
//! directory, and kills them when done. A missing `redis-server` fails the tests (CI installs
//! it): they never pass without having talked to Redis. Both the C fixture and the cargo fixture
//! are shared.

use crate::harness::{
    assert_new_source_is_stored_then_hit, assert_success, compile_until_a_write_lands, count,
    fixture, free_port, have, read, reserve_port, run, Server,
};
use crate::rust_cache::{assert_cargo_build_shared, CRATES};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The C fixture's sources and the objects compiled from them.
const SOURCES: [(&str, &str); 3] = [
    ("hello.c", "hello.o"),
    ("util.c", "util.o"),
    ("warn.c", "warn.o"),
];

/// One `redis-server` of a test, killed when dropped.
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    args: Vec<String>,
    child: Option<Child>,
    dir: TempDir,
}

impl RedisServer {
    /// A Redis on a free port with `args` added to its command line.
    pub(crate) fn start(args: &[&str]) -> RedisServer {
        let mut last_error = String::new();
        // Another process may take the free port before Redis binds it: try a few.
        for _ in 0..5 {
            match RedisServer::start_on(free_port(), args) {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("cannot start redis-server: {last_error}");
    }

    fn start_on(port: u16, args: &[&str]) -> Result<RedisServer, String> {
        assert!(
            have("redis-server") && have("redis-cli"),
            "redis-server and redis-cli must be installed (.ci/run installs them)"
        );
        let dir = tempfile::Builder::new()
            .prefix("sccache-redis")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        let mut server = RedisServer {
            port,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            child: None,
            dir,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts (or restarts) the process and waits until it answers.
    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run redis-server: {error}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A server with a password answers too: that it wants one.
            let answer = self.cli(&["ping"]);
            if answer.contains("PONG") || answer.contains("NOAUTH") {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("redis-server on {} exited: {status}", self.port));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("redis-server on {} never answered", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn restart(&mut self) {
        self.kill();
        if let Err(error) = self.spawn() {
            panic!("cannot restart redis-server: {error}");
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli -p <port> <args>` and returns its output, trimmed.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let output = run(Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stderr(Stdio::null()));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three Redis nodes joined in a cluster, each holding a third of the slots.
struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    fn start() -> RedisCluster {
        let mut nodes = Vec::new();
        let mut attempts = 0;
        while nodes.len() < 3 {
            attempts += 1;
            assert!(attempts < 50, "cannot start three cluster nodes");
            let port = cluster_port();
            let config = format!("nodes-{port}.conf");
            let args = ["--cluster-enabled", "yes", "--cluster-config-file", &config];
            if let Ok(node) = RedisServer::start_on(port, &args) {
                nodes.push(node);
            }
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = run(Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"]));
        assert_success(&created, "redis-cli --cluster create");
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster
            .nodes
            .iter()
            .all(|node| node.cli(&["cluster", "info"]).contains("cluster_state:ok"))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster never got to cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    fn endpoints(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many keys the whole cluster holds.
    fn keys(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| node.cli(&["dbsize"]).parse::<u64>().unwrap_or(0))
            .sum()
    }
}

/// A free port whose cluster bus port (port + 10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55535 && reserve_port(port + 10000) {
            return port;
        }
    }
}

/// Compiles every fixture source in `dir` through `server`, asserting each compile succeeds.
fn compile_all(server: &Server, dir: &Path) {
    for (source, object) in SOURCES {
        let output = server.compile(dir, "gcc", &["-c", source, "-o", object]);
        assert_success(
            &output,
            &format!("gcc -c {source}\nserver log:\n{}", server.log()),
        );
        assert!(dir.join(object).exists(), "{object} was not written");
    }
}

fn location(stats: &Value) -> String {
    stats["cache_location"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn two_servers_share_one_cache_through_redis() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let first = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    let stats = first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(redis.cli(&["dbsize"]), "3");

    // Another machine: its own disk cache directory and its own copy of the sources.
    let second = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    assert_ne!(first.cache_dir, second.cache_dir);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 0, "{stats:#}");
    for (_, object) in SOURCES {
        assert_eq!(
            read(&second_dir.path().join(object)),
            read(&first_dir.path().join(object)),
            "{object} differs between the servers"
        );
    }
}

#[test]
fn two_servers_share_the_cargo_build_through_redis() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let first = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let second = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let stats = assert_cargo_build_shared(&first, &second);
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    assert_eq!(redis.cli(&["dbsize"]), CRATES.to_string());
}

#[test]
fn a_second_server_with_an_empty_disk_gets_rust_direct_hits_through_redis() {
    use crate::rust_cache::CRATES as ALL;
    use crate::rust_direct::{artifacts, DirectWorkspace, CRATES, MISS_STARTS};
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let settings = [("SCCACHE_REDIS", url.as_str()), ("SCCACHE_DIRECT", "true")];
    let workspace = DirectWorkspace::with_server(Server::start_with(&settings));
    let target = workspace.target();
    let once = CRATES
        .iter()
        .map(|name| (name.to_string(), MISS_STARTS))
        .collect();
    assert_eq!(workspace.clean_build_in(&target, &[]), once);
    workspace.wait_for_writes();
    // Each crate's result and its manifest.
    assert_eq!(redis.cli(&["dbsize"]), (2 * ALL).to_string());
    let first_target = workspace.dir.path().join("target-first");
    std::fs::rename(&target, &first_target)
        .unwrap_or_else(|error| panic!("moving {} aside: {error}", target.display()));

    let second = Server::start_with(&settings);
    let none = CRATES.iter().map(|name| (name.to_string(), 0)).collect();
    assert_eq!(
        workspace.clean_build_through(&second, &target, &[]),
        none,
        "{}",
        second.log()
    );
    let stats = second.stats();
    assert_eq!(count(&stats, "direct_hits"), ALL, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), ALL, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.Rust"), 0, "{stats:#}");
    assert_eq!(artifacts(&target), artifacts(&first_target));
    assert_eq!(
        crate::rust_cache::run_app_in(&target),
        crate::rust_cache::PLAIN_OUTPUT
    );
}

#[test]
fn show_stats_reports_the_redis_location_and_its_memory() {
    let redis = RedisServer::start(&[]);
    let server = Server::start_with(&[("SCCACHE_REDIS", &redis.url())]);
    let stats = server.stats();
    let expected = format!("Redis: redis://127.0.0.1:{}", redis.port);
    assert!(location(&stats).contains(&expected), "{stats:#}");
    assert!(
        stats["cache_size"].as_u64().is_some_and(|size| size > 0),
        "cache_size is not Redis's used_memory: {stats:#}"
    );
    // No maxmemory: Redis is unbounded, so there is no maximum to show.
    assert!(stats["max_cache_size"].as_u64().is_none(), "{stats:#}");
}

#[test]
fn maxmemory_is_the_max_cache_size() {
    let redis = RedisServer::start(&["--maxmemory", "100mb"]);
    let server = Server::start_with(&[("SCCACHE_REDIS", &redis.url())]);
    let stats = server.stats();
    assert_eq!(
        stats["max_cache_size"].as_u64(),
        Some(104_857_600),
        "{stats:#}"
    );
}

#[test]
fn a_password_is_masked_and_a_database_number_used() {
    let redis = RedisServer::start(&["--requirepass", "secret"]);
    let url = format!("redis://:secret@127.0.0.1:{}/3", redis.port);
    let first = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let stats = first.stats();
    let expected = format!("redis://:***@127.0.0.1:{}/3", redis.port);
    assert!(location(&stats).contains(&expected), "{stats:#}");
    assert!(!stats.to_string().contains("secret"), "{stats:#}");
    let text = String::from_utf8_lossy(&first.sccache(["--show-stats"]).stdout).to_string();
    assert!(!text.contains("secret"), "{text}");

    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(redis.cli(&["-a", "secret", "-n", "3", "dbsize"]), "3");
    assert_eq!(redis.cli(&["-a", "secret", "-n", "0", "dbsize"]), "0");

    let second = Server::start_with(&[("SCCACHE_REDIS", &url)]);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    for server in [&first, &second] {
        let log = server.log();
        assert!(!log.contains("secret"), "{log}");
    }
}

#[test]
fn killing_redis_fails_no_compile_and_a_restarted_redis_is_used_again() {
    let mut redis = RedisServer::start(&[]);
    let server = Server::start_with(&[("SCCACHE_REDIS", &redis.url())]);
    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&output, "compile before the kill");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);

    redis.kill();
    for (number, (source, _)) in SOURCES.iter().enumerate() {
        let object = format!("down{number}.o");
        let output = server.compile(dir.path(), "gcc", &["-O1", "-c", source, "-o", &object]);
        assert_success(&output, &format!("compile of {source} with Redis down"));
        assert!(
            dir.path().join(&object).exists(),
            "{object} was not written"
        );
    }
    let stats = server.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_write_errors") >= 4
    });
    let errors = count(&stats, "cache_read_errors")
        + count(&stats, "cache_write_errors")
        + count(&stats, "cache_timeouts");
    assert!(errors > 0, "no error counted with Redis down: {stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");

    // Redis comes back on the same port: the same sccache server writes to it again.
    redis.restart();
    let _ = compile_until_a_write_lands(&server, dir.path(), "Redis");
    assert!(redis.cli(&["dbsize"]).parse::<u64>().unwrap_or(0) >= 1);

    // A new source is written to the restarted Redis, and compiling it again is a hit from there.
    let keys = redis.cli(&["dbsize"]).parse::<u64>().unwrap_or(0);
    assert_new_source_is_stored_then_hit(&server, dir.path());
    assert_eq!(redis.cli(&["dbsize"]), (keys + 1).to_string());
}

#[test]
fn key_prefixes_keep_caches_apart() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let args = ["-c", "hello.c", "-o", "hello.o"];
    let team_a = Server::start_with(&[("SCCACHE_REDIS", &url), ("SCCACHE_REDIS_KEY_PREFIX", "a/")]);
    let dir = fixture("c");
    assert_success(&team_a.compile(dir.path(), "gcc", &args), "team a");
    team_a.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    assert_eq!(
        redis.cli(&["--scan", "--pattern", "a/*"]).lines().count(),
        1
    );

    let team_b = Server::start_with(&[("SCCACHE_REDIS", &url), ("SCCACHE_REDIS_KEY_PREFIX", "b/")]);
    let dir = fixture("c");
    assert_success(&team_b.compile(dir.path(), "gcc", &args), "team b");
    let stats = team_b.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");

    // The same prefix again does share: the miss above was the prefix's doing.
    let team_a_again =
        Server::start_with(&[("SCCACHE_REDIS", &url), ("SCCACHE_REDIS_KEY_PREFIX", "a/")]);
    let dir = fixture("c");
    assert_success(
        &team_a_again.compile(dir.path(), "gcc", &args),
        "team a again",
    );
    let stats = team_a_again.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
}

#[test]
fn a_redis_cluster_is_shared() {
    let cluster = RedisCluster::start();
    let endpoints = cluster.endpoints();
    let settings = [("SCCACHE_REDIS_CLUSTER_ENDPOINTS", endpoints.as_str())];
    let first = Server::start_with(&settings);
    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(cluster.keys(), 3);

    let second = Server::start_with(&settings);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    for (_, object) in SOURCES {
        assert_eq!(
            read(&second_dir.path().join(object)),
            read(&first_dir.path().join(object))
        );
    }
    assert!(
        location(&stats).starts_with("Redis cluster: 127.0.0.1:"),
        "{stats:#}"
    );
    assert!(
        stats["cache_size"].as_u64().is_some_and(|size| size > 0),
        "{stats:#}"
    );
}

#[test]
fn a_manifest_through_redis_gives_a_second_server_a_direct_hit() {
    let redis = RedisServer::start(&[]);
    let url = redis.url();
    let env = [("SCCACHE_REDIS", url.as_str()), ("SCCACHE_DIRECT", "true")];
    let dir = fixture("c");
    let args = ["-c", "hello.c", "-o", "hello.o"];
    // Past the clock tick: the fixture is older than the preprocessor's start.
    std::thread::sleep(Duration::from_millis(30));
    let first = Server::start_with(&env);
    assert_success(&first.compile(dir.path(), "gcc", &args), "first server");
    // The result, then the manifest.
    first.wait_for_stats(|stats| count(stats, "cache_writes") == 2);
    first.stop();
    let second = Server::start_with(&env);
    assert_success(&second.compile(dir.path(), "gcc", &args), "second server");
    let stats = second.stats();
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compilations"), 0, "{stats:#}");
}

/// Regression (issue 17): `--start-server` with a Redis nobody answers on exited 0, silently.
/// Started by hand it fails as sccache's does; a compile that starts the server itself still
/// compiles, locally.
#[test]
fn an_explicit_start_fails_loudly_on_a_redis_that_does_not_answer() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let root = tempfile::Builder::new()
        .prefix("sccache-cache")
        .tempdir()
        .unwrap_or_else(|error| panic!("tempdir: {error}"));
    let server = Server::configured(
        root.path().join("cache"),
        &[("SCCACHE_REDIS", &url)],
        Some(root),
    );
    let output = server.sccache(["--start-server"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("Server startup failed:")
            && stderr.contains("cache storage failed to read")
            && stderr.contains(&port.to_string()),
        "{stderr}"
    );

    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(
        &output,
        &format!("compile with Redis down\n{}", server.log()),
    );
    assert!(dir.path().join("hello.o").exists());
}
