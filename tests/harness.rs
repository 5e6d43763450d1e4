//! Test harness: starts sccache servers on free loopback ports with private cache directories,
//! runs compiles through the real binary, and reads the server's stats.
//!
//! Every server the harness starts is stopped when its handle is dropped (and has a short idle
//! timeout as a backstop), so a failing test leaves nothing running.

#![allow(
    dead_code,
    reason = "each test module uses a different part of the harness"
)]

use sccache_core::framing::{read_frame, write_frame};
use sccache_core::protocol::{
    decode_response, encode, CompileRequest, Envelope, Request, Response, PROTOCOL_VERSION,
};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tempfile::TempDir;

/// The sccache binary under test.
pub fn sccache_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sccache"))
}

/// A loopback port nobody listens on right now and that no other test of this process was
/// handed. A port the kernel picks (`bind` to port 0) is free only until someone else binds
/// first, and every outgoing connection of every test draws from the same ephemeral range; so
/// the ports come from below that range, in turn (starting at a place that depends on the
/// process id, so that parallel runs of the suite start apart), each checked free and recorded
/// as handed out.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_start.saturating_sub(LOWEST).max(1_000);
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOWEST + (start + offset) % span)
            .unwrap_or_else(|error| panic!("{error}"));
        if reserve_port(port) {
            return port;
        }
    }
    panic!("no free port below {ephemeral_start}");
}

/// Records `port` as handed out if no test of this process has it and nobody listens on it now;
/// for a port that goes with another (a Redis cluster's bus port).
pub fn reserve_port(port: u16) -> bool {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    !handed_out.contains(&port)
        && TcpListener::bind(("127.0.0.1", port)).is_ok()
        && handed_out.insert(port)
}

/// Whether a program is on PATH; tests needing it are skipped with a note when it is not, so
/// the suite says what it did not check.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A copy of a fixture directory under `tests/fixtures` in a fresh temporary directory.
pub fn fixture(name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sccache-test")
        .tempdir()
        .unwrap_or_else(|error| panic!("tempdir: {error}"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    copy_dir(&source, dir.path());
    // Past the file system's clock tick: a source copied in the tick a compile starts in may
    // have changed during it (`read_since`), and its result is then not stored, which tests
    // that count writes would take for a failure.
    std::thread::sleep(std::time::Duration::from_millis(30));
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("mkdir {}: {error}", to.display()));
    for entry in
        std::fs::read_dir(from).unwrap_or_else(|error| panic!("{}: {error}", from.display()))
    {
        let entry = entry.unwrap_or_else(|error| panic!("{error}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|error| panic!("copy {}: {error}", entry.path().display()));
        }
    }
}

/// A running sccache server of this test.
pub struct Server {
    pub port: u16,
    pub cache_dir: PathBuf,
    /// Extra environment for the server and every client call.
    pub env: Vec<(String, String)>,
    /// This test's `XDG_RUNTIME_DIR`: its private directory (and TCP token) live here.
    pub runtime_dir: TempDir,
    _cache_root: Option<TempDir>,
}

impl Server {
    /// A server with a fresh disk cache.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with a fresh disk cache and extra settings.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let root = tempfile::Builder::new()
            .prefix("sccache-cache")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        let server = Server::configured(root.path().join("cache"), env, Some(root));
        server.start_server();
        server
    }

    /// A server using an existing cache directory (it is not removed afterwards).
    pub fn start_in(cache_dir: &Path, env: &[(&str, &str)]) -> Server {
        let server = Server::configured(cache_dir.to_path_buf(), env, None);
        server.start_server();
        server
    }

    /// A server handle whose server is not started: the first client call starts it.
    pub fn configured(cache_dir: PathBuf, env: &[(&str, &str)], root: Option<TempDir>) -> Server {
        Server {
            port: free_port(),
            cache_dir,
            env: env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            runtime_dir: tempfile::Builder::new()
                .prefix("sccache-run")
                .tempdir()
                .unwrap_or_else(|error| panic!("tempdir: {error}")),
            _cache_root: root,
        }
    }

    fn start_server(&self) {
        let output = self.sccache(["--start-server"]);
        assert!(
            output.status.success(),
            "--start-server failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A command running `program` with this server's environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("SCCACHE_SERVER_PORT", self.port.to_string())
            .env_remove("SCCACHE_SERVER_UDS")
            .env("XDG_RUNTIME_DIR", self.runtime_dir.path())
            .env("SCCACHE_DIR", &self.cache_dir)
            .env("SCCACHE_IDLE_TIMEOUT", "120")
            // The user's own config file must not steer the tests; sccache's tests do the same.
            .env("SCCACHE_CONF", "/nonexistent/sccache-test-config")
            .env_remove("SCCACHE_REDIS")
            .env_remove("SCCACHE_BUCKET")
            .env_remove("SCCACHE_MULTILEVEL_CHAIN")
            .env_remove("SCCACHE_REAPI_ENDPOINT")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("SCCACHE_RECACHE")
            .env_remove("SCCACHE_NO_DAEMON")
            // TLS trusts the system's roots unless these name others; the tests name their own.
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env("SCCACHE_LOG", "debug")
            .env("SCCACHE_ERROR_LOG", self.log_path())
            // Direct mode's manifest writes count as cache writes, which most tests count
            // exactly; its own tests (`c_direct.rs`) turn it on.
            .env("SCCACHE_DIRECT", "false");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Where the server writes its log.
    pub fn log_path(&self) -> PathBuf {
        let parent = self.cache_dir.parent().unwrap_or(Path::new("/tmp"));
        parent.join(format!("sccache-{}.log", self.port))
    }

    /// Runs `sccache <args>` and returns its output.
    pub fn sccache<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(sccache_bin())
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run sccache: {error}"))
    }

    /// Runs `sccache <compiler> <args>` in `cwd`.
    pub fn compile(&self, cwd: &Path, compiler: &str, args: &[&str]) -> Output {
        self.command(sccache_bin())
            .current_dir(cwd)
            .arg(compiler)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run sccache {compiler}: {error}"))
    }

    /// The server's stats as sccache's JSON.
    pub fn stats(&self) -> serde_json::Value {
        let output = self.sccache(["--show-stats", "--stats-format", "json"]);
        assert!(
            output.status.success(),
            "--show-stats failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "stats are not JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Polls the stats until `ready` holds, for counters moved by asynchronous work (cache
    /// writes). Panics after ten seconds with the last stats.
    pub fn wait_for_stats(&self, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let stats = self.stats();
            if ready(&stats) {
                return stats;
            }
            if std::time::Instant::now() > deadline {
                panic!("stats never got there: {stats:#}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn stop(&self) -> Output {
        self.sccache(["--stop-server"])
    }

    /// The server's log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A counter of the stats JSON by path, e.g. `count(&stats, "cache_hits.counts.C/C++")`; a
/// missing per-language count is zero.
pub fn count(stats: &serde_json::Value, path: &str) -> u64 {
    let mut value = &stats["stats"];
    let mut rest = path;
    while !rest.is_empty() {
        let (head, tail) = match rest.split_once('.') {
            // Per-language labels such as `C/C++` contain no dots, so splitting is safe up to
            // the `counts.` level.
            Some((head, tail)) if head != "counts" => (head, tail),
            Some((head, tail)) => {
                value = &value[head];
                (tail, "")
            }
            None => (rest, ""),
        };
        value = &value[head];
        rest = tail;
    }
    value.as_u64().unwrap_or(0)
}

/// Kills the process `pid` (a server the test started) with SIGKILL, as a crash would end it.
/// A server that is already gone is no failure: the test checks the builds, not the kill.
pub fn kill_hard(pid: u64) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .unwrap_or_else(|| panic!("{pid} is not a process id"));
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

/// Runs a command and returns its output, panicking if it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

/// Asserts a command succeeded, showing its output if not.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The bytes of a file, panicking with its path if unreadable.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Writes `text` to `name` under `dir`, making the directories it needs.
pub fn write_under(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

/// Writes an executable script (a stand-in compiler) at `path`.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{error}"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|error| panic!("{error}"));
}

/// Runs `sccache wrap/gcc -c util.c -o util.o` in `dir`, where `wrap/gcc` is a stand-in
/// compiler written from `script`, with `env` set.
pub fn compile_through_wrapper(
    server: &Server,
    dir: &Path,
    script: &str,
    env: &[(&str, &str)],
) -> Output {
    let wrapper = dir.join("wrap");
    std::fs::create_dir_all(&wrapper).unwrap_or_else(|error| panic!("{error}"));
    let gcc = wrapper.join("gcc");
    if std::fs::read_to_string(&gcc).ok().as_deref() != Some(script) {
        write_script(&gcc, script);
    }
    run(server
        .command(sccache_bin())
        .current_dir(dir)
        .args(["wrap/gcc", "-c", "util.c", "-o", "util.o"])
        .envs(env.iter().copied()))
}

/// Asserts two files have the same bytes; on a difference it says where, not what (objects are
/// too large to print).
pub fn assert_same_file(actual: &Path, expected: &Path) {
    let (left, right) = (read(actual), read(expected));
    if left != right {
        let first = left.iter().zip(&right).position(|(a, b)| a != b);
        panic!(
            "{} ({} bytes) differs from {} ({} bytes); first difference at byte {first:?}",
            actual.display(),
            left.len(),
            expected.display(),
            right.len()
        );
    }
}

/// Sends one request by hand, as a client would, with `token` as the credential.
pub fn send(stream: &mut impl Write, token: &str, request: Request) -> std::io::Result<()> {
    let envelope = Envelope {
        version: PROTOCOL_VERSION,
        token: token.to_owned(),
        request,
    };
    let payload = encode(&envelope).map_err(std::io::Error::other)?;
    write_frame(stream, &payload).map_err(std::io::Error::other)
}

/// The next response, or `None` once the server closed the connection (or said nothing for the
/// read timeout).
pub fn receive(stream: &mut impl Read) -> Option<Response> {
    let frame = read_frame(stream).ok()?;
    Some(decode_response(&frame).unwrap_or_else(|error| panic!("garbage: {error}")))
}

/// The TCP secret the client binary presents to `server`.
pub fn token(server: &Server) -> String {
    let path = server.runtime_dir.path().join("sccache").join("tcp-token");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .trim()
        .to_owned()
}

/// Compiles new sources in `dir` through `server` until one of their cache writes lands (a
/// restarted backend is in use again), within fifteen seconds; `backend` names it in the
/// failure message. Returns how many compiles it made.
pub fn compile_until_a_write_lands(server: &Server, dir: &Path, backend: &str) -> u64 {
    let written_before = count(&server.stats(), "cache_writes");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let source = format!("after{attempt}.c");
        std::fs::write(
            dir.join(&source),
            format!("int after_{attempt}(void) {{ return {attempt}; }}\n"),
        )
        .unwrap_or_else(|error| panic!("{source}: {error}"));
        let output = server.compile(dir, "gcc", &["-c", &source, "-o", "after.o"]);
        assert_success(&output, "compile after the restart");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let stats = server.stats();
        if count(&stats, "cache_writes") > written_before {
            return attempt;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no write reached the restarted {backend}: {stats:#}\n{}",
            server.log()
        );
    }
}

/// Sends a compile request by hand and returns the responses until the connection ends.
pub fn compile_by_hand(server: &Server, request: CompileRequest) -> Vec<Response> {
    let mut stream = connect(server);
    send(&mut stream, &token(server), Request::Compile(request))
        .unwrap_or_else(|error| panic!("cannot send: {error}"));
    let mut responses = Vec::new();
    while let Some(response) = receive(&mut stream) {
        let done = !matches!(
            response,
            Response::CompileStarted | Response::Output { .. } | Response::Working
        );
        responses.push(response);
        if done {
            break;
        }
    }
    responses
}

/// A compile request as the client would send it, with this process's environment.
pub fn request(exe: OsString, cwd: OsString, args: Vec<OsString>) -> CompileRequest {
    CompileRequest {
        exe,
        cwd,
        args,
        env: std::env::vars_os().collect(),
        stderr_is_terminal: false,
        umask: 0o022,
        stdin_is_null: false,
    }
}

/// The gcc on PATH.
pub fn gcc_path() -> OsString {
    std::env::var_os("PATH")
        .unwrap_or_default()
        .to_string_lossy()
        .split(':')
        .map(|dir| std::path::Path::new(dir).join("gcc"))
        .find(|path| path.is_file())
        .map(|path| path.into_os_string())
        .unwrap_or_else(|| "/usr/bin/gcc".into())
}

/// A connection to `server`'s TCP port, with a generous read timeout.
pub fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .unwrap_or_else(|error| panic!("cannot connect: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap_or_default();
    stream
}

/// Asserts that every compile request was counted exactly once, as a hit, a miss, a
/// non-cacheable call, a non-compilation call or an unsupported compiler call. Only valid once
/// no request is in flight.
pub fn assert_outcomes_add_up(stats: &serde_json::Value) {
    let outcomes = count(stats, "requests_executed")
        + count(stats, "requests_not_cacheable")
        + count(stats, "requests_not_compile")
        + count(stats, "requests_unsupported_compiler");
    assert_eq!(
        count(stats, "compile_requests"),
        outcomes,
        "requests and their outcomes differ: {stats:#}"
    );
    let executed = count(stats, "cache_hits.counts.C/C++")
        + count(stats, "cache_hits.counts.Rust")
        + count(stats, "cache_misses.counts.C/C++")
        + count(stats, "cache_misses.counts.Rust");
    // A compile taken for caching that fails is executed, and neither a hit nor a miss.
    let requests_executed = count(stats, "requests_executed");
    assert!(
        requests_executed >= executed
            && requests_executed <= executed + count(stats, "compile_fails"),
        "{stats:#}"
    );
}

/// Compiles a new source through `server` once its earlier writes have settled, waits for its
/// cache write, then compiles it again and asserts that this second compile is a hit that
/// restores the object: a backend brought back is really used again. Returns the final stats.
pub fn assert_new_source_is_stored_then_hit(server: &Server, dir: &Path) -> serde_json::Value {
    // A miss is written, fails to be, or is kept out because a source written just before it
    // looked changed during the compile (`compile_until_a_write_lands` writes and compiles at
    // once).
    let before = server.wait_for_stats(|stats| {
        count(stats, "cache_writes")
            + count(stats, "cache_write_errors")
            + count(stats, "inputs_changed")
            >= count(stats, "cache_misses.counts.C/C++")
    });
    let writes = count(&before, "cache_writes");
    let hits = count(&before, "cache_hits.counts.C/C++");
    std::fs::write(dir.join("again.c"), "int again(void) { return 17; }\n")
        .unwrap_or_else(|error| panic!("again.c: {error}"));
    // A clock step before the compile starts, or the source counts as changed during it (the
    // file system's clock moves in steps of a few milliseconds) and nothing is stored.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let again = ["-c", "again.c", "-o", "again.o"];
    assert_success(&server.compile(dir, "gcc", &again), "again.c");
    let stats = server.wait_for_stats(|stats| count(stats, "cache_writes") > writes);
    assert_eq!(count(&stats, "cache_writes"), writes + 1, "{stats:#}");
    std::fs::remove_file(dir.join("again.o")).unwrap_or_else(|error| panic!("again.o: {error}"));
    assert_success(&server.compile(dir, "gcc", &again), "again.c again");
    assert!(dir.join("again.o").exists(), "again.o was not restored");
    let stats = server.stats();
    assert_eq!(
        count(&stats, "cache_hits.counts.C/C++"),
        hits + 1,
        "{stats:#}"
    );
    stats
}

/// A test authority (`ca.pem`) and a server's certificate for 127.0.0.1 that it signs
/// (`cert.pem`, `key.pem`), made by `openssl` in `dir`.
pub fn make_test_certificate(dir: &Path) {
    let openssl = |args: &[&str], what: &str| {
        let output = run(Command::new("openssl").args(args).current_dir(dir));
        assert_success(&output, what);
    };
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sccache test authority",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        "openssl: authority",
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        "openssl: request",
    );
    openssl(
        &[
            "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "1",
            "-extfile", "leaf.ext", "-out", "cert.pem",
        ],
        "openssl: signing",
    );
}
