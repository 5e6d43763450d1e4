//! The REAPI backend through a real Remote Execution API server, BuildGrid 0.4.4 (`bgd`): a
//! cache shared by two sccache servers (as by two machines of a team) for the C and cargo
//! fixtures, direct mode's manifests shared too, an entry above the server's batch limit
//! (through ByteStream), a result whose blob the server evicted, the server stopped and
//! restarted under a running sccache, a read-only mode, a TLS server (`grpcs://` with
//! `SCCACHE_REAPI_TLS_CA`), and a server that checks bearer tokens (JWT): a wrong one is
//! refused and counted, and no token ever shows in `--show-stats`, its JSON or the log.
//!
//! Every test starts its own `bgd` (a cache-only config: an action cache, an in-memory CAS and
//! ByteStream) on a free loopback port and kills it when done. A missing `bgd` fails the tests
//! (`.ci/test` installs it with pip): they never pass without having talked to a server.

use crate::harness::{
    assert_new_source_is_stored_then_hit, assert_success, compile_until_a_write_lands, count,
    fixture, free_port, make_test_certificate, read, run, Server,
};
use crate::rust_cache::assert_cargo_build_shared;
use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The C fixture's sources and the objects compiled from them.
const SOURCES: [(&str, &str); 3] = [
    ("hello.c", "hello.o"),
    ("util.c", "util.o"),
    ("warn.c", "warn.o"),
];

/// The instance every test's server serves and every sccache names.
const INSTANCE: &str = "main";

/// BuildGrid's batch limit (`MAX_REQUEST_SIZE`, 4 MiB less 1 KiB), which it does not let a
/// config change: a bigger blob must go through ByteStream.
const BATCH_LIMIT: usize = 4 * 1024 * 1024 - 1024;

/// The `bgd` program: on PATH, or where `pip install --user` puts it.
fn bgd() -> PathBuf {
    let on_path = Command::new("bgd")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if on_path {
        return PathBuf::from("bgd");
    }
    let user = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/bin/bgd"));
    match user {
        Some(path) if path.exists() => path,
        _ => panic!("bgd must be installed: pip install buildgrid==0.4.4 (.ci/test installs it)"),
    }
}

/// How the server checks callers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    /// JWT bearer tokens signed with HS256 by the secret in the test's directory.
    Jwt,
    /// No check of callers, but TLS with a certificate for 127.0.0.1 signed by a test
    /// authority (`ca.pem` in the test's directory, made by `openssl`).
    Tls,
}

/// The `cas_size` of a server whose CAS is a directory (`cas/` in the test's directory) rather
/// than memory, so that a test can read the blobs it holds.
const CAS_ON_DISK: &str = "on-disk";

/// One BuildGrid server of a test, killed when dropped.
pub(crate) struct BuildGrid {
    port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl BuildGrid {
    fn start(auth: Auth) -> BuildGrid {
        BuildGrid::start_with(auth, "256MB")
    }

    /// A server without checks of callers whose CAS is on disk (`cas_files`).
    pub(crate) fn start_on_disk() -> BuildGrid {
        BuildGrid::start_with(Auth::None, CAS_ON_DISK)
    }

    /// Every blob the CAS of a `start_on_disk` server holds, with its bytes.
    pub(crate) fn cas_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().join("cas")];
        while let Some(next) = pending.pop() {
            for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let bytes = read(&path);
                    found.push((path, bytes));
                }
            }
        }
        found.sort();
        found
    }

    /// A server whose in-memory CAS holds at most `cas_size` (BuildGrid's syntax: `12MB`),
    /// evicting the least recently used blobs beyond it.
    fn start_with(auth: Auth, cas_size: &str) -> BuildGrid {
        let dir = tempfile::Builder::new()
            .prefix("sccache-bgd")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        let mut last_error = String::new();
        // Another process may take the free port before BuildGrid binds it: try a few.
        for _ in 0..3 {
            let mut server = BuildGrid {
                port: free_port(),
                child: None,
                dir: tempfile::Builder::new()
                    .prefix("sccache-bgd")
                    .tempdir()
                    .unwrap_or_else(|error| panic!("tempdir: {error}")),
            };
            server.write_config(auth, cas_size);
            match server.spawn() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        drop(dir);
        panic!("cannot start bgd: {last_error}");
    }

    fn write_config(&self, auth: Auth, cas_size: &str) {
        let secret = self.dir.path().join("jwt.secret");
        std::fs::write(&secret, "test-secret-for-hs256\n")
            .unwrap_or_else(|error| panic!("{error}"));
        let tls = if auth == Auth::Tls {
            make_test_certificate(self.dir.path());
            format!(
                "    insecure-mode: false\n    credentials:\n      tls-server-key: {}\n      \
                 tls-server-cert: {}\n",
                self.dir.path().join("key.pem").display(),
                self.dir.path().join("cert.pem").display()
            )
        } else {
            "    insecure-mode: true\n".to_owned()
        };
        let authorization = match auth {
            Auth::None | Auth::Tls => String::new(),
            Auth::Jwt => format!(
                "authorization:\n  method: jwt\n  secret: {}\n  algorithm: hs256\n\
                 allow-localhost-requests: false\n",
                secret.display()
            )
            .replace("allow-localhost", "  allow-localhost"),
        };
        let storage = if cas_size == CAS_ON_DISK {
            let cas = self.dir.path().join("cas");
            std::fs::create_dir_all(&cas).unwrap_or_else(|error| panic!("{error}"));
            format!("!disk-storage &cas\n    path: {}\n", cas.display())
        } else {
            format!("!lru-storage &cas\n    size: {cas_size}\n")
        };
        let config = format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n{tls}\
             {authorization}\
             storages:\n  - {storage}\
             caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 10000\n\
             \x20   allow-updates: true\n    cache-failed-actions: true\n\
             instances:\n  - name: {INSTANCE}\n    services:\n      - !action-cache\n\
             \x20       cache: *ac\n      - !cas\n        storage: *cas\n\
             \x20     - !bytestream\n        storage: *cas\n",
            port = self.port,
        );
        std::fs::write(self.dir.path().join("bgd.yml"), config)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    /// Starts (or restarts) the process and waits until it accepts connections.
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("bgd.log"))
            .unwrap_or_else(|error| panic!("{error}"));
        let child = Command::new(bgd())
            .args(["server", "start", "bgd.yml"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run bgd: {error}"));
        self.child = Some(child);
        // BuildGrid's start (Python imports) takes seconds, longer on a loaded machine.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!(
                    "bgd on {} exited: {status}\n{}",
                    self.port,
                    self.log()
                ));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "bgd on {} never listened\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgd.log")).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash would (its in-memory cache goes with it).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        if let Err(error) = self.spawn() {
            panic!("cannot restart bgd: {error}");
        }
    }

    fn endpoint(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    /// The settings of an sccache server using this BuildGrid.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SCCACHE_REAPI_ENDPOINT".to_owned(), self.endpoint()),
            ("SCCACHE_REAPI_INSTANCE".to_owned(), INSTANCE.to_owned()),
        ]
    }

    /// A JWT for this server's secret, made by PyJWT (which BuildGrid itself uses), valid for
    /// an hour.
    fn token(&self, secret: &str) -> String {
        let script = format!(
            "import jwt, time; print(jwt.encode({{'sub': 'sccache-test', \
             'exp': int(time.time()) + 3600}}, {secret:?}, algorithm='HS256'))"
        );
        let output = run(Command::new("python3").args(["-c", &script]));
        assert_success(&output, "python3 -c 'import jwt'");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An sccache server with `settings` on top of the REAPI ones.
fn sccache(grid: &BuildGrid, settings: &[(&str, &str)]) -> Server {
    let mut env = grid.env();
    env.extend(
        settings
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string())),
    );
    let pairs: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    Server::start_with(&pairs)
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
fn two_servers_share_one_cache_through_reapi() {
    let grid = BuildGrid::start(Auth::None);
    let first = sccache(&grid, &[]);
    let stats = first.stats();
    let expected = format!("REAPI: {}, instance {INSTANCE}", grid.endpoint());
    assert_eq!(location(&stats), expected, "{stats:#}");
    let text = String::from_utf8_lossy(&first.sccache(["--show-stats"]).stdout).to_string();
    assert!(text.contains(&expected), "{text}");

    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    let stats = first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");

    // Another machine: its own disk cache directory and its own copy of the sources.
    let second = sccache(&grid, &[]);
    assert_ne!(first.cache_dir, second.cache_dir);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 0, "{stats:#}");
    for (_, object) in SOURCES {
        assert_eq!(
            read(&second_dir.path().join(object)),
            read(&first_dir.path().join(object)),
            "{object} differs between the servers"
        );
    }
    // The server's instance is the one named: another instance holds nothing of ours (and
    // BuildGrid serves no other, so it is an error, counted, not a hit).
    let other = Server::start_with(&[
        ("SCCACHE_REAPI_ENDPOINT", &grid.endpoint()),
        ("SCCACHE_REAPI_INSTANCE", "elsewhere"),
    ]);
    let other_dir = fixture("c");
    compile_all(&other, other_dir.path());
    let stats = other.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
}

#[test]
fn direct_mode_manifests_are_shared_through_reapi() {
    let grid = BuildGrid::start(Auth::None);
    let direct = [("SCCACHE_DIRECT", "true")];
    let dir = fixture("c");
    let first = sccache(&grid, &direct);
    compile_all(&first, dir.path());
    // Three results and three manifests.
    let stats = first.wait_for_stats(|stats| count(stats, "cache_writes") >= 6);
    assert_eq!(count(&stats, "cache_writes"), 6, "{stats:#}");
    let objects: Vec<Vec<u8>> = SOURCES
        .iter()
        .map(|(_, object)| read(&dir.path().join(object)))
        .collect();
    for (_, object) in SOURCES {
        std::fs::remove_file(dir.path().join(object)).unwrap_or_else(|error| panic!("{error}"));
    }
    // Another server with its own disk cache, in the same directory: direct hits from REAPI.
    let second = sccache(&grid, &direct);
    compile_all(&second, dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "direct_hits"), 3, "{stats:#}");
    for ((_, object), expected) in SOURCES.iter().zip(&objects) {
        assert_eq!(&read(&dir.path().join(object)), expected, "{object}");
    }
}

#[test]
fn two_servers_share_the_cargo_build_through_reapi() {
    let grid = BuildGrid::start(Auth::None);
    let first = sccache(&grid, &[]);
    let second = sccache(&grid, &[]);
    let stats = assert_cargo_build_shared(&first, &second);
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 0, "{stats:#}");
}

/// A C source whose object holds `size` bytes that do not compress (random letters and
/// digits), so that it stays above the batch limit even if entries are compressed.
fn big_source(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut text = String::from("const char big[] =\n");
    for _ in 0..size / 100 {
        text.push('"');
        for _ in 0..100 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(char::from(ALPHABET[(state % 62) as usize]));
        }
        text.push_str("\"\n");
    }
    text.push_str(";\n");
    text
}

/// Above BuildGrid's batch limit, which it enforces: only ByteStream can carry the entry, both
/// ways. Between the inline limit (256 KiB) and the batch limit: batch calls.
#[test]
fn entries_above_the_batch_limit_go_through_bytestream_and_medium_ones_in_batches() {
    let grid = BuildGrid::start(Auth::None);
    let first = sccache(&grid, &[]);
    let second = sccache(&grid, &[]);
    let first_dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let second_dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let sources = [("big", 2 * BATCH_LIMIT), ("medium", 1 << 20)];
    for (written, (name, size)) in (1u64..).zip(sources) {
        let file = format!("{name}.c");
        let object_name = format!("{name}.o");
        let args = ["-c", file.as_str(), "-o", object_name.as_str()];
        let source = big_source(size);
        for dir in [&first_dir, &second_dir] {
            std::fs::write(dir.path().join(&file), &source)
                .unwrap_or_else(|error| panic!("{error}"));
        }
        assert_success(&first.compile(first_dir.path(), "gcc", &args), &file);
        let object = read(&first_dir.path().join(&object_name));
        assert!(
            object.len() >= size,
            "{object_name} is {} bytes",
            object.len()
        );
        let stats = first.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_write_errors") >= written
        });
        assert_eq!(
            count(&stats, "cache_writes"),
            written,
            "{stats:#}\n{}",
            first.log()
        );
        assert_success(&second.compile(second_dir.path(), "gcc", &args), &file);
        let stats = second.stats();
        assert_eq!(
            count(&stats, "cache_hits.counts.C/C++"),
            written,
            "{stats:#}\n{}",
            second.log()
        );
        assert_eq!(read(&second_dir.path().join(&object_name)), object);
    }
}

#[test]
fn a_result_whose_blob_the_server_evicted_is_a_miss() {
    let grid = BuildGrid::start_with(Auth::None, "12MB");
    let first = sccache(&grid, &[]);
    let dir = fixture("c");
    let args = ["-c", "hello.c", "-o", "hello.o"];
    assert_success(&first.compile(dir.path(), "gcc", &args), "hello.c");
    first.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    // Two entries of 10 MB each (about 7.5 MB compressed: random letters and digits) push
    // hello.o's blob out of the 12 MB CAS.
    for number in 0..2 {
        let source = format!("{}int filler_{number};\n", big_source(10 << 20));
        let name = format!("big{number}.c");
        std::fs::write(dir.path().join(&name), source).unwrap_or_else(|error| panic!("{error}"));
        let output = first.compile(dir.path(), "gcc", &["-c", &name, "-o", "big.o"]);
        assert_success(&output, &name);
        first.wait_for_stats(|stats| count(stats, "cache_writes") == 2 + number);
    }
    let second = sccache(&grid, &[]);
    let second_dir = fixture("c");
    assert_success(
        &second.compile(second_dir.path(), "gcc", &args),
        "hello.c again",
    );
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 0, "{stats:#}");
    assert_eq!(count(&stats, "corrupt_entries"), 0, "{stats:#}");
}

#[test]
fn stopping_the_server_fails_no_compile_and_a_restarted_server_is_used_again() {
    let mut grid = BuildGrid::start(Auth::None);
    let server = sccache(&grid, &[]);
    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&output, "compile before the kill");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);

    grid.kill();
    for (number, (source, _)) in SOURCES.iter().enumerate() {
        let object = format!("down{number}.o");
        let output = server.compile(dir.path(), "gcc", &["-O1", "-c", source, "-o", &object]);
        assert_success(
            &output,
            &format!("compile of {source} with the server down"),
        );
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
    assert!(
        errors > 0,
        "no error counted with the server down: {stats:#}"
    );
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");

    // BuildGrid comes back on the same port (empty: its cache was in memory); the same sccache
    // server writes to it again and hits from it.
    grid.restart();
    let _ = compile_until_a_write_lands(&server, dir.path(), "REAPI server");
    assert_new_source_is_stored_then_hit(&server, dir.path());
}

#[test]
fn a_read_only_cache_never_writes() {
    let grid = BuildGrid::start(Auth::None);
    let reader = sccache(&grid, &[("SCCACHE_REAPI_RW_MODE", "READ_ONLY")]);
    let dir = fixture("c");
    compile_all(&reader, dir.path());
    let stats = reader.wait_for_stats(|stats| count(stats, "cache_writes_skipped") >= 3);
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
    // The server holds nothing: a writer misses every source, then the reader hits them.
    let writer = sccache(&grid, &[]);
    let writer_dir = fixture("c");
    compile_all(&writer, writer_dir.path());
    let stats = writer.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
    for (_, object) in SOURCES {
        std::fs::remove_file(dir.path().join(object)).unwrap_or_else(|error| panic!("{error}"));
    }
    compile_all(&reader, dir.path());
    assert_eq!(count(&reader.stats(), "cache_hits.counts.C/C++"), 3);
}

#[test]
fn a_tls_server_is_reached_with_its_authority_and_refused_without() {
    let grid = BuildGrid::start(Auth::Tls);
    let endpoint = format!("grpcs://127.0.0.1:{}", grid.port);
    let authority = grid.dir.path().join("ca.pem").display().to_string();
    let trusting = [
        ("SCCACHE_REAPI_ENDPOINT", endpoint.as_str()),
        ("SCCACHE_REAPI_INSTANCE", INSTANCE),
        ("SCCACHE_REAPI_TLS_CA", authority.as_str()),
    ];
    let first = Server::start_with(&trusting);
    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    let stats = first.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_write_errors") >= 3
    });
    assert_eq!(
        count(&stats, "cache_writes"),
        3,
        "{stats:#}\n{}",
        first.log()
    );
    let second = Server::start_with(&trusting);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    assert_eq!(count(&second.stats(), "cache_hits.counts.C/C++"), 3);
    // The system's roots do not sign this certificate: every call fails, no compile does.
    let doubting = Server::start_with(&[
        ("SCCACHE_REAPI_ENDPOINT", endpoint.as_str()),
        ("SCCACHE_REAPI_INSTANCE", INSTANCE),
    ]);
    let doubting_dir = fixture("c");
    compile_all(&doubting, doubting_dir.path());
    let stats = doubting.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert!(count(&stats, "cache_read_errors") > 0, "{stats:#}");
}

#[test]
fn a_wrong_token_is_refused_and_counted_and_no_token_is_ever_shown() {
    let grid = BuildGrid::start(Auth::Jwt);
    let good = grid.token("test-secret-for-hs256");
    let bad = grid.token("another-secret");
    let token_file = grid.dir.path().join("token");
    std::fs::write(&token_file, format!("{good}\n")).unwrap_or_else(|error| panic!("{error}"));
    let token_file = token_file.display().to_string();

    // The right token, from a file: stored and shared.
    let first = sccache(&grid, &[("SCCACHE_REAPI_TOKEN_FILE", &token_file)]);
    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    let stats = first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    let second = sccache(&grid, &[("SCCACHE_REAPI_TOKEN", &good)]);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    assert_eq!(count(&second.stats(), "cache_hits.counts.C/C++"), 3);

    // A token signed with another secret: refused, counted, and every compile still succeeds.
    let wrong = sccache(&grid, &[("SCCACHE_REAPI_TOKEN", &bad)]);
    let wrong_dir = fixture("c");
    compile_all(&wrong, wrong_dir.path());
    let stats = wrong.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_write_errors") >= 3
    });
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_write_errors"), 3, "{stats:#}");
    assert!(
        wrong.log().contains("Unauthenticated"),
        "the refusal is not in the log:\n{}",
        wrong.log()
    );
    // No token anywhere people can see.
    for server in [&first, &second, &wrong] {
        let json = server.stats().to_string();
        let text = String::from_utf8_lossy(&server.sccache(["--show-stats"]).stdout).to_string();
        let log = server.log();
        for token in [&good, &bad] {
            assert!(!json.contains(token.as_str()), "{json}");
            assert!(!text.contains(token.as_str()), "{text}");
            assert!(
                !log.contains(token.as_str()),
                "the log shows a token:\n{log}"
            );
        }
    }
}
