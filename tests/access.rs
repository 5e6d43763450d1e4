//! Who can reach the server: the default Unix socket in a private directory, the uid check on
//! each peer, the per-user token over TCP, refusing a directory another account could have
//! planted, and a shutdown that stops accepting at once. Threat model: docs/SECURITY.md.

use crate::harness::{
    assert_success, count, fixture, read, receive, run, sccache_bin, send, Server,
};
use sccache_core::protocol::{CompileRequest, Request, Response};
use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The environment variable that turns `foreign_client` from a no-op into the helper.
const FOREIGN_SOCKET_VAR: &str = "SCCACHE_TEST_FOREIGN_SOCKET";
/// The environment variable that turns `foreign_server` from a no-op into the helper.
const FOREIGN_LISTEN_VAR: &str = "SCCACHE_TEST_FOREIGN_LISTEN";
/// The loopback port `foreign_old_server` listens on.
const FOREIGN_PORT_VAR: &str = "SCCACHE_TEST_FOREIGN_PORT";

/// A server on the default endpoint: no `SCCACHE_SERVER_PORT`, a private runtime directory.
struct UnixServer {
    /// Used as `XDG_RUNTIME_DIR`, or as `TMPDIR` when `xdg` is false.
    runtime: TempDir,
    xdg: bool,
    cache: TempDir,
}

impl UnixServer {
    fn new(xdg: bool) -> UnixServer {
        let temp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .unwrap_or_else(|error| panic!("tempdir: {error}"))
        };
        UnixServer {
            runtime: temp("sccache-run"),
            xdg,
            cache: temp("sccache-cache"),
        }
    }

    /// The private directory the server should use.
    fn private_dir(&self) -> PathBuf {
        if self.xdg {
            self.runtime.path().join("sccache")
        } else {
            let uid = sccache_core::access::current_uid();
            self.runtime.path().join(format!("sccache-{uid}"))
        }
    }

    fn socket(&self) -> PathBuf {
        self.private_dir().join("server.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.cache.path().join("server.log")).unwrap_or_default()
    }

    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_remove("SCCACHE_SERVER_PORT")
            .env_remove("SCCACHE_SERVER_UDS")
            .env_remove("SCCACHE_REDIS")
            .env_remove("SCCACHE_BUCKET")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("SCCACHE_RECACHE")
            .env_remove("SCCACHE_NO_DAEMON")
            .env("SCCACHE_DIR", self.cache.path().join("cache"))
            .env("SCCACHE_IDLE_TIMEOUT", "120")
            .env("SCCACHE_LOG", "debug")
            .env("SCCACHE_ERROR_LOG", self.cache.path().join("server.log"));
        if self.xdg {
            command.env("XDG_RUNTIME_DIR", self.runtime.path());
        } else {
            command
                .env_remove("XDG_RUNTIME_DIR")
                .env("TMPDIR", self.runtime.path());
        }
        command
    }

    fn sccache<const N: usize>(&self, args: [&str; N]) -> Output {
        run(self.command(sccache_bin()).args(args))
    }

    fn compile(&self, cwd: &Path, args: &[&str]) -> Output {
        run(self
            .command(sccache_bin())
            .current_dir(cwd)
            .arg("gcc")
            .args(args))
    }

    fn stats(&self) -> serde_json::Value {
        let output = self.sccache(["--show-stats", "--stats-format", "json"]);
        assert_success(&output, "--show-stats");
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("stats are not JSON ({error})"))
    }

    fn wait_for_stats(&self, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.stats();
            if ready(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "stats never got there: {stats:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = self.sccache(["--stop-server"]);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {}: {error}", path.display()));
}

fn is_root() -> bool {
    sccache_core::access::current_uid() == 0
}

fn plain_object(dir: &Path) -> Vec<u8> {
    let output = run(Command::new("gcc")
        .current_dir(dir)
        .args(["-c", "hello.c", "-o", "plain.o"]));
    assert_success(&output, "plain gcc");
    read(&dir.join("plain.o"))
}

/// A miss then a hit through `server`, both byte-identical to a plain compile.
fn miss_then_hit(server: &UnixServer) {
    let dir = fixture("c");
    let plain = plain_object(dir.path());
    let args = ["-c", "hello.c", "-o", "hello.o"];
    assert_success(&server.compile(dir.path(), &args), "miss");
    assert_eq!(read(&dir.path().join("hello.o")), plain);
    // The result and, with direct mode on (the default, which these servers keep), its
    // manifest: a direct miss compiles at once (the depend path) and would not find the
    // result by the preprocessed text.
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 2);
    std::fs::remove_file(dir.path().join("hello.o")).unwrap_or_default();
    assert_success(&server.compile(dir.path(), &args), "hit");
    assert_eq!(read(&dir.path().join("hello.o")), plain);
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 1, "{stats:#}");
}

fn assert_private_socket(server: &UnixServer) {
    let socket = server.socket();
    let metadata = std::fs::symlink_metadata(&socket)
        .unwrap_or_else(|error| panic!("no socket at {}: {error}", socket.display()));
    assert!(metadata.file_type().is_socket(), "{}", socket.display());
    assert_eq!(mode(&socket), 0o600, "socket mode");
    assert_eq!(mode(&server.private_dir()), 0o700, "directory mode");
    // No TCP token is made for a socket.
    assert!(!server.private_dir().join("tcp-token").exists());
}

#[test]
fn the_default_endpoint_is_a_private_unix_socket_under_xdg_runtime_dir() {
    let server = UnixServer::new(true);
    miss_then_hit(&server);
    assert_private_socket(&server);
    assert_success(&server.sccache(["--stop-server"]), "--stop-server");
    assert!(!server.socket().exists(), "the socket outlived the server");
}

#[test]
fn without_a_runtime_dir_the_socket_is_in_a_private_temp_dir() {
    let server = UnixServer::new(false);
    miss_then_hit(&server);
    assert_private_socket(&server);
}

#[test]
fn a_stale_socket_of_a_killed_server_is_replaced() {
    let server = UnixServer::new(true);
    std::fs::create_dir(server.private_dir()).unwrap_or_else(|error| panic!("{error}"));
    set_mode(&server.private_dir(), 0o700);
    drop(std::os::unix::net::UnixListener::bind(server.socket()).unwrap_or_else(|e| panic!("{e}")));
    miss_then_hit(&server);
    assert_private_socket(&server);
}

/// A directory in the way that another account could have made: the server refuses to start
/// with a message naming it, and the compile still succeeds, locally.
fn assert_refused(server: &UnixServer, why: &str) {
    let dir_text = server.private_dir().display().to_string();

    // The server itself (in the foreground, so its own check is the one that answers).
    let mut foreground = server
        .command(sccache_bin())
        .arg("--start-server")
        .env("SCCACHE_NO_DAEMON", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while foreground.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = foreground.kill();
            panic!("the server started in a directory that is {why}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = foreground
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&dir_text),
        "does not name the path: {stderr}"
    );
    assert!(stderr.contains(why), "does not say why: {stderr}");

    // A client that would spawn one.
    let start = server.sccache(["--start-server"]);
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(!start.status.success(), "{stderr}");
    assert!(
        stderr.contains(&dir_text),
        "does not name the path: {stderr}"
    );

    // A compile: locally, with a warning naming the path.
    let dir = fixture("c");
    let plain = plain_object(dir.path());
    let compile = server.compile(dir.path(), &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&compile, "compile");
    let warning = String::from_utf8_lossy(&compile.stderr);
    assert!(warning.contains(&dir_text), "{warning}");
    assert!(warning.contains("compiling locally"), "{warning}");
    assert_eq!(read(&dir.path().join("hello.o")), plain);
    assert!(!server.socket().exists(), "a server listened anyway");
}

#[test]
fn a_socket_dir_others_can_open_is_refused() {
    let server = UnixServer::new(true);
    std::fs::create_dir(server.private_dir()).unwrap_or_else(|error| panic!("{error}"));
    set_mode(&server.private_dir(), 0o777);
    assert_refused(&server, "mode 0777");
}

/// The other account's side of `a_peer_of_another_uid_is_refused`: run (as that account) only
/// when the variable names a socket. It connects, sends a compile request, and prints what came
/// back.
#[test]
#[ignore = "a helper that a_peer_of_another_uid_is_refused runs as another user"]
fn foreign_client() {
    let Some(socket) = std::env::var_os(FOREIGN_SOCKET_VAR) else {
        return;
    };
    let mut stream = match UnixStream::connect(&socket) {
        Ok(stream) => stream,
        Err(error) => {
            println!("FOREIGN cannot connect: {error}");
            return;
        }
    };
    println!("FOREIGN connected");
    let request = Request::Compile(CompileRequest {
        exe: "/usr/bin/gcc".into(),
        cwd: "/tmp".into(),
        args: vec![
            "-c".into(),
            "/dev/null".into(),
            "-o".into(),
            "/dev/null".into(),
        ],
        env: Vec::new(),
        stderr_is_terminal: false,
        umask: 0o022,
        stdin_is_null: false,
    });
    if let Err(error) = send(&mut stream, "", request) {
        println!("FOREIGN send failed: {error}");
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    while let Some(response) = receive(&mut stream) {
        println!("FOREIGN response {response:?}");
    }
    println!("FOREIGN closed");
}

/// Runs this test binary's ignored helper `name` as uid 65534 with `var` set to `value`.
fn as_another_user(name: &str, var: &str, value: &Path) -> Command {
    let mut command =
        Command::new(std::env::current_exe().unwrap_or_else(|error| panic!("{error}")));
    command
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(var, value)
        .current_dir("/")
        .uid(65534)
        .gid(65534);
    command
}

/// Another account's listener for `a_socket_of_another_user_is_not_used`: binds the socket the
/// variable names, accepts for three seconds, and prints how many bytes any client sent.
#[test]
#[ignore = "a helper that a_socket_of_another_user_is_not_used runs as another user"]
fn foreign_server() {
    let Some(path) = std::env::var_os(FOREIGN_LISTEN_VAR) else {
        return;
    };
    let listener =
        std::os::unix::net::UnixListener::bind(&path).unwrap_or_else(|error| panic!("{error}"));
    set_mode(Path::new(&path), 0o666);
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|error| panic!("{error}"));
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut received = Vec::new();
            let _ = stream.read_to_end(&mut received);
            if !received.is_empty() {
                println!("FOREIGN received {} bytes", received.len());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("FOREIGN done");
}

/// Another account's listener on a TCP port for `a_tcp_port_of_another_user_gets_no_token`:
/// answers every frame as a server of protocol 2 would (a version mismatch) for four seconds,
/// and prints each frame it gets in hexadecimal.
#[test]
#[ignore = "a helper that a_tcp_port_of_another_user_gets_no_token runs as another user"]
fn foreign_old_server() {
    let Some(port) = std::env::var(FOREIGN_PORT_VAR).ok() else {
        return;
    };
    let listener = std::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .unwrap_or_else(|error| panic!("{error}"));
    println!("FOREIGN listening");
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|error| panic!("{error}"));
    let mismatch = Response::VersionMismatch {
        server_version: "0.0.1".into(),
        protocol: 2,
    };
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            if let Ok(frame) = sccache_core::framing::read_frame(&mut stream) {
                let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
                println!("FOREIGN frame {hex}");
                let answer = sccache_core::protocol::encode(&mismatch).unwrap_or_default();
                let _ = sccache_core::framing::write_frame(&mut stream, &answer);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("FOREIGN done");
}

fn tcp(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .unwrap_or_else(|error| panic!("connect: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|error| panic!("{error}"));
    stream
}

fn token_file(server: &Server) -> PathBuf {
    server.runtime_dir.path().join("sccache").join("tcp-token")
}

#[test]
fn tcp_answers_only_the_users_token() {
    let server = Server::start();
    let token_path = token_file(&server);
    assert_eq!(mode(&token_path), 0o600, "token file mode");
    assert_eq!(mode(token_path.parent().unwrap_or(Path::new("/"))), 0o700);
    let token = std::fs::read_to_string(&token_path).unwrap_or_else(|error| panic!("{error}"));
    let token = token.trim();
    assert_eq!(token.len(), 64, "{token}");

    let dir = fixture("c");
    let compile = Request::Compile(CompileRequest {
        exe: "/usr/bin/gcc".into(),
        cwd: dir.path().into(),
        args: vec!["-c".into(), "hello.c".into(), "-o".into(), "hello.o".into()],
        env: std::env::vars_os().collect(),
        stderr_is_terminal: false,
        umask: 0o022,
        stdin_is_null: false,
    });
    let mut wrong = token.to_owned().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap_or_default();
    for (bad_token, request) in [
        ("", Request::GetStats),
        (wrong.as_str(), Request::GetStats),
        (wrong.as_str(), compile.clone()),
        (&token[..63], Request::Shutdown),
    ] {
        let mut stream = tcp(&server);
        send(&mut stream, bad_token, request).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            receive(&mut stream),
            Some(Response::Refused("wrong credential".into()))
        );
        assert_eq!(receive(&mut stream), None, "the connection stays open");
    }
    assert!(
        !dir.path().join("hello.o").exists(),
        "a refused compile ran"
    );

    let mut stream = tcp(&server);
    send(&mut stream, token, Request::GetStats).unwrap_or_else(|error| panic!("{error}"));
    match receive(&mut stream) {
        Some(Response::Stats(report)) => {
            assert_eq!(report.stats.compile_requests, 0, "{:?}", report.stats);
        }
        other => panic!("a correct token got {other:?}"),
    }

    // The client binary presents the token by itself.
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&output, "compile");
    assert_eq!(count(&server.stats(), "cache_misses.counts.C/C++"), 1);
}

#[test]
fn a_client_with_another_token_compiles_locally() {
    let server = Server::start();
    let token_path = token_file(&server);
    let original = std::fs::read(&token_path).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(&token_path, "ab".repeat(32)).unwrap_or_else(|error| panic!("{error}"));
    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    std::fs::write(&token_path, original).unwrap_or_else(|error| panic!("{error}"));
    assert_success(&output, "compile");
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("did not prove"), "{warning}");
    assert!(warning.contains("compiling locally"), "{warning}");
    assert!(dir.path().join("hello.o").exists());
    assert_eq!(count(&server.stats(), "compile_requests"), 0);
}

#[test]
fn shutdown_stops_accepting_before_the_grace_period_ends() {
    let server = Server::start();
    let token = std::fs::read_to_string(token_file(&server)).unwrap_or_default();
    let mut stream = tcp(&server);
    send(&mut stream, token.trim(), Request::Shutdown).unwrap_or_else(|error| panic!("{error}"));
    let pid = match receive(&mut stream) {
        Some(Response::ShuttingDown(report)) => report.pid,
        other => panic!("{other:?}"),
    };
    let asked = Instant::now();
    let deadline = asked + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(Instant::now() < deadline, "the server kept accepting");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The server lingers a second for replies and pending writes; its port must close well
    // before (with room for a loaded machine).
    let closed_after = asked.elapsed();
    assert!(
        closed_after < Duration::from_millis(700),
        "the port closed only after {closed_after:?}"
    );
    // And the process is still finishing, so it was the shutdown, not the exit, that closed it.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let running = state
        .rsplit_once(')')
        .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
    assert!(
        running,
        "the port only closed when the server exited: {state}"
    );
}

/// The tests that act as another user, which only root can. They are ignored in an ordinary run,
/// so that a run without root reports them as not run rather than as passed; `.ci/test` runs
/// them by this module's name when it is root.
mod needs_root {
    use super::*;

    #[test]
    #[ignore = "needs root (.ci/test runs it as root): it listens as another user"]
    fn a_tcp_port_of_another_user_gets_no_token() {
        assert!(is_root(), "needs root: it listens as another user");
        // Another account holds the port and poses as an older server, whose version mismatch
        // would make `--stop-server` fall back to sending the token itself.
        let port = crate::harness::free_port();
        let helper = as_another_user(
            "access::foreign_old_server",
            FOREIGN_PORT_VAR,
            Path::new(&port.to_string()),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the other user never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut server = Server::configured(std::env::temp_dir().join("sccache-never"), &[], None);
        server.port = port;
        let stop = server.stop();
        assert!(!stop.status.success(), "--stop-server claimed success");
        let said = String::from_utf8_lossy(&stop.stderr);
        assert!(said.contains("not (only) this user's"), "{said}");
        let dir = fixture("c");
        let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
        assert_success(&output, "a compile facing another user's old server");
        assert!(dir.path().join("hello.o").exists());
        let helper = helper
            .wait_with_output()
            .unwrap_or_else(|error| panic!("{error}"));
        let heard = String::from_utf8_lossy(&helper.stdout);
        assert!(heard.contains("FOREIGN done"), "{heard}");
        assert!(heard.contains("FOREIGN frame"), "{heard}");
        let token: String = crate::harness::token(&server)
            .bytes()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert!(!heard.contains(&token), "the token was sent: {heard}");
    }

    #[test]
    #[ignore = "needs root (.ci/test runs it as root): it makes a directory of another user"]
    fn a_socket_dir_of_another_user_is_refused() {
        assert!(
            is_root(),
            "needs root: it makes a directory of another user"
        );
        let server = UnixServer::new(true);
        std::fs::create_dir(server.private_dir()).unwrap_or_else(|error| panic!("{error}"));
        set_mode(&server.private_dir(), 0o700);
        std::os::unix::fs::chown(server.private_dir(), Some(65534), Some(65534))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_refused(&server, "owned by uid 65534");
    }

    #[test]
    #[ignore = "needs root (.ci/test runs it as root): it runs a client as another user"]
    fn a_peer_of_another_uid_is_refused() {
        assert!(is_root(), "needs root: it runs a client as another user");
        let server = UnixServer::new(true);
        assert_success(&server.sccache(["--start-server"]), "--start-server");
        // A misconfigured directory lets the other account reach the socket; the uid check is
        // all that stands in the way.
        set_mode(server.runtime.path(), 0o755);
        set_mode(&server.private_dir(), 0o755);
        set_mode(&server.socket(), 0o666);
        let helper = run(&mut as_another_user(
            "access::foreign_client",
            FOREIGN_SOCKET_VAR,
            &server.socket(),
        ));
        set_mode(server.runtime.path(), 0o700);
        set_mode(&server.private_dir(), 0o700);
        set_mode(&server.socket(), 0o600);

        let said = String::from_utf8_lossy(&helper.stdout);
        assert!(said.contains("FOREIGN connected"), "{said}");
        assert!(said.contains("FOREIGN closed"), "{said}");
        assert!(!said.contains("FOREIGN response"), "{said}");
        let stats = server.stats();
        assert_eq!(count(&stats, "compile_requests"), 0, "{stats:#}");
        assert_eq!(count(&stats, "requests_executed"), 0, "{stats:#}");
        let log = server.log();
        assert!(log.contains("refused a connection from uid 65534"), "{log}");
    }

    #[test]
    #[ignore = "needs root (.ci/test runs it as root): it runs a server as another user"]
    fn a_socket_of_another_user_is_not_used() {
        assert!(is_root(), "needs root: it runs a server as another user");
        let shared = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        set_mode(shared.path(), 0o777);
        let socket = shared.path().join("sccache.sock");
        let helper = as_another_user("access::foreign_server", FOREIGN_LISTEN_VAR, &socket)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the other user's server never listened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let server = UnixServer::new(true);
        let dir = fixture("c");
        let started = Instant::now();
        let output = run(server
            .command(sccache_bin())
            .env("SCCACHE_SERVER_UDS", &socket)
            .current_dir(dir.path())
            .args(["gcc", "-c", "hello.c", "-o", "hello.o"]));
        assert_success(&output, "compile");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the client waited"
        );
        let warning = String::from_utf8_lossy(&output.stderr);
        assert!(warning.contains("belongs to uid 65534"), "{warning}");
        assert!(dir.path().join("hello.o").exists());
        let helper = helper
            .wait_with_output()
            .unwrap_or_else(|error| panic!("{error}"));
        let said = String::from_utf8_lossy(&helper.stdout);
        assert!(said.contains("FOREIGN done"), "{said}");
        assert!(
            !said.contains("FOREIGN received"),
            "the client sent to it: {said}"
        );
    }
}
