//! The S3 backend through the real server, against moto's standalone S3 server on a free
//! loopback port: hits shared between servers through a bucket, key prefixes and the object
//! layout, an S3 server that goes away or stops answering mid-build, a bucket without a region,
//! anonymous reads of a public bucket and a missing bucket. The cargo fixture is shared too, and
//! an S3 server that stops mid-build and comes back on the same port is used again by the same
//! sccache server.
//!
//! Each test starts its own moto (killed when the test ends) and its own sccache servers.

use crate::harness::{
    assert_new_source_is_stored_then_hit, assert_success, compile_until_a_write_lands, count,
    fixture, make_test_certificate, read, Server,
};
use crate::rust_cache::{assert_cargo_build_shared, CRATES};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The C fixture's compiles: source and object.
const SOURCES: [(&str, &str); 3] = [
    ("hello.c", "hello.o"),
    ("util.c", "util.o"),
    ("warn.c", "warn.o"),
];

/// Moto checks no signature but treats a request without one as anonymous, which the bucket's
/// policy may refuse; the harness's own requests carry this one.
const FAKE_SIGNATURE: &str = "AWS4-HMAC-SHA256 \
    Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A moto S3 server of one test, killed on drop.
pub(crate) struct Moto {
    port: u16,
    child: Child,
    /// With HTTPS: the directory of its certificate and the test authority that signs it.
    tls: Option<TempDir>,
}

impl Moto {
    /// Starts moto on a free port and waits (at most 30 seconds) until it answers HTTP.
    pub(crate) fn start() -> Moto {
        Moto::start_with(None)
    }

    /// Starts moto serving HTTPS with a certificate for 127.0.0.1 signed by a test authority.
    fn start_https() -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("sccache-moto-tls")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        make_test_certificate(dir.path());
        Moto::start_with(Some(dir))
    }

    fn start_with(tls: Option<TempDir>) -> Moto {
        let importable = Command::new("python3")
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            importable,
            "moto is not installed (pip install 'moto[server]')"
        );
        let port = crate::harness::free_port();
        let child = Moto::spawn(port, tls.as_ref());
        let mut moto = Moto { port, child, tls };
        if let Err(error) = moto.wait_until_answering() {
            panic!("{error}");
        }
        moto
    }

    fn spawn(port: u16, tls: Option<&TempDir>) -> Child {
        let mut command = Command::new("python3");
        command.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]);
        if let Some(dir) = tls {
            command
                .arg("-c")
                .arg(dir.path().join("cert.pem"))
                .arg("-k")
                .arg(dir.path().join("key.pem"));
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start moto: {error}"))
    }

    /// Waits (at most 30 seconds) until moto answers HTTP; an error if it exits first.
    fn wait_until_answering(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.request("GET", "/", b"").0 == 0 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto exited at start: {status}"));
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Starts a new moto on the same port after `stop`. Moto keeps everything in memory, so
    /// the new one has no buckets.
    fn restart(&mut self) {
        self.stop();
        let mut last_error = String::new();
        // The port was just released: give it a few tries.
        for _ in 0..5 {
            self.child = Moto::spawn(self.port, self.tls.as_ref());
            match self.wait_until_answering() {
                Ok(()) => return,
                Err(error) => last_error = error,
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("cannot restart moto on {}: {last_error}", self.port);
    }

    pub(crate) fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The PEM file of the authority that signs an HTTPS moto's certificate.
    fn authority(&self) -> String {
        let dir = self
            .tls
            .as_ref()
            .map_or(Path::new("/nonexistent"), |dir| dir.path());
        dir.join("ca.pem").display().to_string()
    }

    /// Kills moto and waits until it is gone.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends one HTTP/1.1 request and returns the status (0 if there was no answer) and the body.
    pub(crate) fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Content-Type: application/octet-stream\r\nAuthorization: {FAKE_SIGNATURE}\r\n\
             Connection: close\r\n\r\n",
            self.port,
            body.len()
        );
        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        let answer = match &self.tls {
            None => self.exchange(&message),
            Some(_) => self.exchange_over_tls(&message),
        };
        let Some(split) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
            return (0, Vec::new());
        };
        let status = String::from_utf8_lossy(&answer[..split])
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0);
        (status, answer[split + 4..].to_vec())
    }

    /// Sends `message` in the clear and returns everything moto answers.
    fn exchange(&self, message: &[u8]) -> Vec<u8> {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut answer = Vec::new();
        if stream.write_all(message).is_ok() {
            let _ = stream.read_to_end(&mut answer);
        }
        answer
    }

    /// Sends `message` over TLS (`openssl s_client`, trusting the test authority) and returns
    /// everything moto answers.
    fn exchange_over_tls(&self, message: &[u8]) -> Vec<u8> {
        let Ok(mut child) = Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
            .arg(self.authority())
            .arg("-connect")
            .arg(format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return Vec::new();
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(message);
        }
        child
            .wait_with_output()
            .map(|output| output.stdout)
            .unwrap_or_default()
    }

    pub(crate) fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// Lets anyone read the bucket's objects (not list them), as a public cache does.
    fn allow_public_reads(&self, bucket: &str) {
        let statement = format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{}"}}"#,
            format_args!("arn:aws:s3:::{bucket}/*")
        );
        let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        let (status, body) = self.request("PUT", &format!("/{bucket}?policy"), policy.as_bytes());
        assert!(status < 300, "{status}: {}", String::from_utf8_lossy(&body));
    }

    /// The names of every object in the bucket.
    pub(crate) fn list(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"), b"");
        let body = String::from_utf8_lossy(&body).to_string();
        assert_eq!(status, 200, "{body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(key, _)| key.to_owned())
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The settings of a server using `bucket` on `moto` with credentials, plus `extra`.
pub(crate) fn s3_env(moto: &Moto, bucket: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("SCCACHE_BUCKET", bucket.to_owned()),
        ("SCCACHE_REGION", "us-east-1".to_owned()),
        ("SCCACHE_ENDPOINT", moto.endpoint()),
        ("SCCACHE_S3_USE_SSL", "false".to_owned()),
    ];
    env.extend(extra.iter().map(|(key, value)| (*key, value.to_string())));
    env.into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

fn start_server(env: &[(String, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    Server::start_with(&pairs)
}

/// A server handle whose server the first client call starts (as a compile does).
fn unstarted_server(env: &[(String, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let root = tempfile::Builder::new()
        .prefix("sccache-cache")
        .tempdir()
        .unwrap_or_else(|error| panic!("tempdir: {error}"));
    Server::configured(root.path().join("cache"), &pairs, Some(root))
}

/// Regression (issue 17): `--start-server` with a bucket it cannot read exited 0, silently.
/// Started by hand it fails as sccache's does; a compile still compiles, locally.
#[test]
fn an_explicit_start_fails_loudly_on_a_bucket_it_cannot_read() {
    let moto = Moto::start();
    let server = unstarted_server(&s3_env(&moto, "absent", &[]));
    let output = server.sccache(["--start-server"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("Server startup failed:")
            && stderr.contains("cache storage failed to read"),
        "{stderr}"
    );
    assert!(stderr.contains("NoSuchBucket"), "{stderr}");
}

/// HTTPS is rustls trusting the system's roots or the ones `SSL_CERT_FILE` names: a bucket
/// behind a certificate the test authority signs is shared when that authority is trusted,
/// and refused (loudly at an explicit start; every compile still compiling) when not.
#[test]
fn an_https_bucket_is_reached_with_its_authority_and_refused_without() {
    let moto = Moto::start_https();
    moto.create_bucket("secure");
    let mut trusting = s3_env(&moto, "secure", &[]);
    trusting.push(("SSL_CERT_FILE".to_owned(), moto.authority()));
    let first = start_server(&trusting);
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
    assert_eq!(moto.list("secure").len(), 3);
    let second = start_server(&trusting);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    assert_eq!(count(&second.stats(), "cache_hits.counts.C/C++"), 3);

    // The system's roots do not sign this certificate.
    let doubting = unstarted_server(&s3_env(&moto, "secure", &[]));
    let output = doubting.sccache(["--start-server"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    let doubting_dir = fixture("c");
    compile_all(&doubting, doubting_dir.path());
    assert_eq!(
        read(&doubting_dir.path().join("hello.o")),
        read(&first_dir.path().join("hello.o"))
    );
}

/// Compiles every fixture source in `dir`, asserting success; returns the longest compile.
fn compile_all(server: &Server, dir: &Path) -> Duration {
    let mut longest = Duration::ZERO;
    for (source, object) in SOURCES {
        let started = Instant::now();
        let output = server.compile(dir, "gcc", &["-c", source, "-o", object]);
        longest = longest.max(started.elapsed());
        assert_success(
            &output,
            &format!("sccache gcc -c {source}\n{}", server.log()),
        );
        assert!(dir.join(object).exists(), "{object} missing");
    }
    longest
}

#[test]
fn two_servers_share_hits_through_a_bucket() {
    let moto = Moto::start();
    moto.create_bucket("shared");
    let env = s3_env(&moto, "shared", &[]);

    let first = start_server(&env);
    let first_dir = fixture("c");
    compile_all(&first, first_dir.path());
    let stats = first.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    assert_eq!(moto.list("shared").len(), 3);

    let second = start_server(&env);
    assert_ne!(first.cache_dir, second.cache_dir);
    let second_dir = fixture("c");
    compile_all(&second, second_dir.path());
    let stats = second.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 0, "{stats:#}");
    for (_, object) in SOURCES {
        assert_eq!(
            read(&first_dir.path().join(object)),
            read(&second_dir.path().join(object)),
            "{object}"
        );
    }
    let location = stats["cache_location"].as_str().unwrap_or_default();
    assert_eq!(
        location,
        format!(
            "S3, bucket: shared, region: us-east-1, endpoint: {}, prefix: ",
            moto.endpoint()
        )
    );
    let shown = second.sccache(["--show-stats"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("S3, bucket: shared"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
}

#[test]
fn two_servers_share_the_cargo_build_through_a_bucket() {
    let moto = Moto::start();
    moto.create_bucket("crates");
    let env = s3_env(&moto, "crates", &[]);
    let first = start_server(&env);
    let second = start_server(&env);
    let stats = assert_cargo_build_shared(&first, &second);
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    assert_eq!(moto.list("crates").len() as u64, CRATES);
}

#[test]
fn a_key_prefix_keeps_two_caches_apart() {
    let moto = Moto::start();
    moto.create_bucket("prefixed");
    let alpha = s3_env(
        &moto,
        "prefixed",
        &[("SCCACHE_S3_KEY_PREFIX", "team/alpha/")],
    );
    let beta = s3_env(&moto, "prefixed", &[("SCCACHE_S3_KEY_PREFIX", "beta")]);

    let first = start_server(&alpha);
    let first_dir = fixture("c");
    let hello = ["-c", "hello.c", "-o", "hello.o"];
    assert_success(&first.compile(first_dir.path(), "gcc", &hello), "alpha");
    first.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);

    let other = start_server(&beta);
    let other_dir = fixture("c");
    assert_success(&other.compile(other_dir.path(), "gcc", &hello), "beta");
    let stats = other.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert!(stats["cache_location"]
        .as_str()
        .unwrap_or_default()
        .ends_with("prefix: beta"));

    // A third server with the first prefix reads the first server's entry.
    let again = start_server(&alpha);
    let again_dir = fixture("c");
    assert_success(
        &again.compile(again_dir.path(), "gcc", &hello),
        "alpha again",
    );
    assert_eq!(count(&again.stats(), "cache_hits.counts.C/C++"), 1);

    // Both entries have the same key, under each prefix, in sccache's layout.
    let mut objects = moto.list("prefixed");
    objects.sort();
    assert_eq!(objects.len(), 2, "{objects:?}");
    for (object, prefix) in objects.iter().zip(["beta/", "team/alpha/"]) {
        let rest = object
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{object} does not start with {prefix}"));
        let parts: Vec<&str> = rest.split('/').collect();
        assert_eq!(parts.len(), 4, "{object}");
        let hex = parts[3];
        assert_eq!(hex.len(), 64, "{object}");
        assert!(
            hex.chars().all(|digit| digit.is_ascii_hexdigit()),
            "{object}"
        );
        for (index, part) in parts[..3].iter().enumerate() {
            assert_eq!(*part, &hex[index..index + 1], "{object}");
        }
    }
    assert_eq!(
        objects[0].strip_prefix("beta/"),
        objects[1].strip_prefix("team/alpha/")
    );
}

/// What `stopped_mid_build` leaves: the S3 server (stopped), the sccache server, the fixture
/// compiled while S3 was down, that build's longest compile and the stats after it.
struct StoppedMidBuild {
    moto: Moto,
    server: Server,
    dir: tempfile::TempDir,
    longest: Duration,
    stats: serde_json::Value,
}

/// A server on `bucket` stores one object; then S3 stops (connections refused), and every
/// fixture source is compiled through the same server: each must succeed, lookups failing at
/// once and writes after their retries. Asserts the three failed reads.
fn stopped_mid_build(bucket: &str) -> StoppedMidBuild {
    let mut moto = Moto::start();
    moto.create_bucket(bucket);
    let env = s3_env(&moto, bucket, &[("SCCACHE_STORAGE_TIMEOUT_MS", "1000")]);
    let server = start_server(&env);
    let first = fixture("c");
    let hello = ["-c", "hello.c", "-o", "hello.o"];
    assert_success(&server.compile(first.path(), "gcc", &hello), "first");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    moto.stop();
    let dir = fixture("c");
    let longest = compile_all(&server, dir.path());
    let stats = server.wait_for_stats(|stats| count(stats, "cache_write_errors") >= 3);
    assert_eq!(count(&stats, "cache_read_errors"), 3, "{stats:#}");
    StoppedMidBuild {
        moto,
        server,
        dir,
        longest,
        stats,
    }
}

#[test]
fn builds_go_on_when_the_s3_server_dies_or_hangs() {
    // Gone: connections are refused, so lookups fail at once and writes fail after retries.
    let StoppedMidBuild {
        moto,
        server,
        dir: dead_dir,
        longest,
        stats,
    } = stopped_mid_build("flaky");
    let port = moto.port;
    assert!(
        longest < Duration::from_secs(3),
        "a compile took {longest:?}"
    );
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 0, "{stats:#}");

    // Hanging: the port accepts connections and never answers, so lookups time out.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|error| panic!("cannot take over port {port}: {error}"));
    let hung_dir = fixture("c");
    let longest = compile_all(&server, hung_dir.path());
    assert!(
        longest < Duration::from_secs(4),
        "a compile took {longest:?}"
    );
    let stats = server.stats();
    let failed_reads = count(&stats, "cache_read_errors") + count(&stats, "cache_timeouts");
    assert_eq!(failed_reads, 6, "{stats:#}");
    assert_eq!(count(&stats, "compile_requests"), 7, "{stats:#}");
    // After a lookup that timed out, the bucket rests a second: the next lookups answer at
    // once, without a connection (the compiles after the first are well within that second).
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|error| panic!("{error}"));
    let connections = std::iter::from_fn(|| listener.accept().ok()).count();
    let lookups = 2 * SOURCES.len(); // a direct-mode manifest's and a result's per compile
    assert!(
        connections < lookups,
        "{connections} connections for {lookups} lookups"
    );
    for (_, object) in SOURCES {
        assert_eq!(
            read(&dead_dir.path().join(object)),
            read(&hung_dir.path().join(object))
        );
    }
    drop(listener);
}

#[test]
fn a_restarted_s3_server_is_used_again_without_restarting_sccache() {
    // Stopped in the middle of the build: every compile succeeds, and the failures are counted.
    let StoppedMidBuild {
        mut moto,
        server,
        dir,
        stats,
        ..
    } = stopped_mid_build("comeback");
    assert_eq!(count(&stats, "cache_writes"), 1, "{stats:#}");

    // Back on the same port, empty (moto keeps nothing): the bucket is created again, and the
    // same sccache server writes to it once its connections are re-established.
    moto.restart();
    moto.create_bucket("comeback");
    let attempt = compile_until_a_write_lands(&server, dir.path(), "S3 server");

    // A new source is written to the bucket, and compiling it again is a hit from there.
    let stats = assert_new_source_is_stored_then_hit(&server, dir.path());
    let objects = moto.list("comeback");
    assert_eq!(
        objects.len() as u64,
        count(&stats, "cache_writes") - 1,
        "{objects:?}"
    );
    // One server all along: its counters were never reset.
    assert_eq!(
        count(&stats, "compile_requests"),
        1 + 3 + attempt + 2,
        "{stats:#}"
    );
}

#[test]
fn a_bucket_without_a_region_refuses_to_start_and_compiles_locally() {
    let root = tempfile::Builder::new()
        .prefix("sccache-cache")
        .tempdir()
        .unwrap_or_else(|error| panic!("tempdir: {error}"));
    let server = Server::configured(
        root.path().join("cache"),
        &[("SCCACHE_BUCKET", "no-region")],
        None,
    );
    let start = server.sccache(["--start-server"]);
    assert!(
        !start.status.success(),
        "the server started without a region"
    );
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(stderr.contains("SCCACHE_REGION"), "{stderr}");

    let dir = fixture("c");
    let output = server.compile(dir.path(), "gcc", &["-c", "hello.c", "-o", "hello.o"]);
    assert_success(&output, "compile without a server");
    assert!(dir.path().join("hello.o").exists());
}

#[test]
fn anonymous_servers_read_a_public_bucket() {
    let moto = Moto::start();
    moto.create_bucket("public");
    let writer = start_server(&s3_env(&moto, "public", &[]));
    let writer_dir = fixture("c");
    compile_all(&writer, writer_dir.path());
    writer.wait_for_stats(|stats| count(stats, "cache_writes") >= 3);
    moto.allow_public_reads("public");

    // No AWS keys: the server must not need any.
    let anonymous_env: Vec<(String, String)> = s3_env(&moto, "public", &[])
        .into_iter()
        .filter(|(key, _)| !key.starts_with("AWS_"))
        .chain([("SCCACHE_S3_NO_CREDENTIALS".to_owned(), "true".to_owned())])
        .collect();
    let reader = start_server(&anonymous_env);
    let reader_dir = fixture("c");
    compile_all(&reader, reader_dir.path());
    let stats = reader.stats();
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
    for (_, object) in SOURCES {
        assert_eq!(
            read(&writer_dir.path().join(object)),
            read(&reader_dir.path().join(object))
        );
    }

    // A miss is compiled and, the access being read-only, not written.
    std::fs::write(
        reader_dir.path().join("new.c"),
        "int new_one(void) { return 7; }\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    // Past the file system's clock tick: a source written in the tick the compile starts in
    // may have changed during it, and its result is not offered for storing at all
    // (`read_since`), so the backend would have nothing to decline.
    std::thread::sleep(Duration::from_millis(30));
    let output = reader.compile(reader_dir.path(), "gcc", &["-c", "new.c", "-o", "new.o"]);
    assert_success(&output, "anonymous miss");
    // The backend counts the write it declines: that is the event to wait for (a backend that
    // attempted the write instead never counts it, and fails the wait).
    let stats = reader.wait_for_stats(|stats| count(stats, "cache_writes_skipped") == 1);
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_read_errors"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_write_errors"), 0, "{stats:#}");
    assert_eq!(moto.list("public").len(), 3);
}

#[test]
fn a_missing_bucket_counts_errors_and_logs_the_first_write_failure() {
    let moto = Moto::start();
    // Started by the first compile: such a server goes on without its cache.
    let server = unstarted_server(&s3_env(&moto, "absent", &[]));
    let dir = fixture("c");
    compile_all(&server, dir.path());
    let stats = server.wait_for_stats(|stats| count(stats, "cache_write_errors") >= 3);
    assert_eq!(count(&stats, "cache_read_errors"), 3, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    let log = server.log();
    assert_eq!(log.matches("PutObject failed").count(), 1, "{log}");
    assert!(log.contains("NoSuchBucket"), "{log}");
}

#[test]
fn no_secret_reaches_the_debug_log_or_the_stats() {
    let moto = Moto::start();
    moto.create_bucket("private");
    let secret_key = "SecretAccessKeyThatMustNotShow";
    let session_token = "SessionTokenThatMustNotShow";
    let endpoint_password = "EndpointPasswordThatMustNotShow";
    let endpoint = format!(
        "http://endpointuser:{endpoint_password}@127.0.0.1:{}",
        moto.port
    );
    let mut env = s3_env(
        &moto,
        "private",
        &[
            ("AWS_SESSION_TOKEN", session_token),
            ("SCCACHE_ENDPOINT", &endpoint),
        ],
    );
    env.retain(|(key, _)| key != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY".into(), secret_key.into()));
    // The harness runs every server at SCCACHE_LOG=debug; trace is asked for by name too.
    env.push(("SCCACHE_LOG".into(), "trace".into()));
    // Started by the first compile: moto does not serve this bucket through an endpoint with
    // credentials in it, which an explicit start's read check would refuse; what matters here
    // is what the log and the stats show, whatever S3 answers.
    let server = unstarted_server(&env);
    let dir = fixture("c");
    compile_all(&server, dir.path());
    server.wait_for_stats(|stats| {
        count(stats, "cache_writes") + count(stats, "cache_write_errors") >= 3
    });
    let json = server.stats().to_string();
    let text = server.sccache(["--show-stats"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(json.contains("endpointuser:***@127.0.0.1"), "{json}");
    assert!(text.contains("endpointuser:***@127.0.0.1"), "{text}");
    let tcp_token = crate::harness::token(&server);
    let log = server.log();
    assert!(log.contains("DEBUG"), "not a debug log: {log}");
    for (what, secret) in [
        ("secret key", secret_key),
        ("session token", session_token),
        ("endpoint password", endpoint_password),
        ("request signature", "Signature="),
        ("TCP token", &tcp_token),
    ] {
        for (place, shown) in [("log", &log), ("JSON stats", &json), ("text stats", &text)] {
            assert!(
                !shown.contains(secret),
                "the {what} is in the {place}:\n{shown}"
            );
        }
    }
}

#[test]
fn a_manifest_through_a_bucket_gives_a_second_server_a_direct_hit() {
    let moto = Moto::start();
    moto.create_bucket("direct");
    let env = s3_env(&moto, "direct", &[("SCCACHE_DIRECT", "true")]);
    let dir = fixture("c");
    let args = ["-c", "hello.c", "-o", "hello.o"];
    // Past the clock tick: the fixture is older than the preprocessor's start.
    std::thread::sleep(Duration::from_millis(30));
    let first = start_server(&env);
    assert_success(&first.compile(dir.path(), "gcc", &args), "first server");
    // The result, then the manifest.
    first.wait_for_stats(|stats| count(stats, "cache_writes") == 2);
    first.stop();
    let second = start_server(&env);
    assert_success(&second.compile(dir.path(), "gcc", &args), "second server");
    let stats = second.stats();
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    assert_eq!(count(&stats, "compilations"), 0, "{stats:#}");
}
