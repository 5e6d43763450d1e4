//! Tests of the S3 backend against a real S3-compatible server: moto's standalone server on a
//! free loopback port, started per test and killed when the test ends.

use super::*;
use crate::storage::test_support::{entry, free_port, Collector, Events};
use sccache_core::config::CacheMode;
use sccache_core::entry::CacheEntry;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

const FAKE_SIGNATURE: &str = "AWS4-HMAC-SHA256 \
    Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A moto server of one test.
struct Moto {
    port: u16,
    child: Child,
}

impl Moto {
    /// Starts moto and waits (at most 30 seconds) until it answers HTTP.
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto (pip install 'moto[server]')");
        let mut moto = Moto { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && moto.request("GET", "/", b"").0 > 0
            {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not answer on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one HTTP/1.1 request with a made-up signature (moto checks none, but treats a
    /// request without one as anonymous) and returns the status (0 if there was no answer) and
    /// the body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, Vec::new());
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\
             Content-Type: application/octet-stream\r\nConnection: close\r\n\
             Authorization: {FAKE_SIGNATURE}\r\n\r\n",
            self.port,
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body).is_err() {
            return (0, Vec::new());
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let Some(split) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
            return (0, Vec::new());
        };
        let head = String::from_utf8_lossy(&answer[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0);
        let body = answer[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return (status, dechunk(&body));
        }
        (status, body)
    }

    fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    /// Lets anyone read the bucket's objects, as a public cache allows.
    fn allow_public_reads(&self, bucket: &str) {
        let statement = format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{}"}}"#,
            format_args!("arn:aws:s3:::{bucket}/*")
        );
        let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        let (status, body) = self.request("PUT", &format!("/{bucket}?policy"), policy.as_bytes());
        assert!(status < 300, "{status}: {}", String::from_utf8_lossy(&body));
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|window| window == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 4 + size..];
    }
    out
}

fn config(endpoint: &str, bucket: &str, prefix: &str) -> S3Config {
    S3Config {
        bucket: bucket.into(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.into()),
        use_ssl: false,
        key_prefix: prefix.into(),
        no_credentials: false,
        mode: CacheMode::ReadWrite,
    }
}

struct Harness {
    storage: Addr<S3Storage>,
    collector: Addr<Collector>,
}

fn start(config: S3Config, timeout: Duration, max_pending_writes: usize) -> Harness {
    // Rusoto reads the credentials from the environment; moto accepts any.
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let collector = Collector::default().start();
    let storage = S3Storage::new(
        config,
        timeout,
        max_pending_writes,
        collector.clone().recipient(),
    )
    .unwrap()
    .start();
    Harness { storage, collector }
}

impl Harness {
    async fn events(&self) -> Vec<Event> {
        self.collector.send(Events).await.unwrap()
    }

    /// Stores an entry and waits (at most 20 seconds) until its write is reported.
    async fn store(&self, key: CacheKey, entry: CacheEntry) -> Event {
        let before = self.events().await.len();
        self.storage.do_send(Store { key, entry });
        for _ in 0..2000 {
            let events = self.events().await;
            if events.len() > before {
                return events[before].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("write not reported");
    }

    async fn lookup(&self, key: CacheKey) -> LookupResult {
        self.storage.send(Lookup { key }).await.unwrap()
    }
}

fn key(number: u8) -> CacheKey {
    let mut bytes = [number; 32];
    bytes[0] = 0xab;
    bytes[1] = 0xc0 | number;
    CacheKey(bytes)
}

#[test]
fn object_names_follow_sccache_layout() {
    let key = key(1);
    let hex = key.to_hex();
    assert!(hex.starts_with("abc1"));
    assert_eq!(object_name("", &key), format!("a/b/c/{hex}"));
    assert_eq!(object_name("ci/main", &key), format!("ci/main/a/b/c/{hex}"));
}

#[actix_rt::test]
async fn a_stored_entry_is_found_whole_under_its_object_name() {
    let moto = Moto::start();
    moto.create_bucket("cache");
    let harness = start(
        config(&moto.endpoint(), "cache", "team"),
        Duration::from_secs(5),
        4,
    );
    assert!(matches!(harness.lookup(key(1)).await, LookupResult::Miss));

    let stored = entry(100_000, 7);
    let event = harness.store(key(1), stored.clone()).await;
    assert!(matches!(event, Event::WriteFinished { .. }), "{event:?}");
    match harness.lookup(key(1)).await {
        LookupResult::Hit(found) => assert_eq!(*found, stored),
        other => panic!("expected a hit, got {other:?}"),
    }

    let hex = key(1).to_hex();
    let (status, body) = moto.request("GET", &format!("/cache/team/a/b/c/{hex}"), b"");
    assert_eq!(status, 200);
    // Stored compressed; decompressed, the entry as it was encoded.
    assert!(sccache_core::entry_codec::is_compressed(&body));
    assert_eq!(
        sccache_core::entry_codec::decompress(body).unwrap(),
        stored.encode(&key(1)).unwrap()
    );

    let description = harness.storage.send(Describe).await.unwrap();
    assert_eq!(
        description.location,
        format!(
            "S3, bucket: cache, region: us-east-1, endpoint: {}, prefix: team",
            moto.endpoint()
        )
    );
    assert_eq!(description.size, None);
    assert!(description.note.unwrap().contains("size"));
}

#[actix_rt::test]
async fn an_endpoint_without_a_scheme_uses_plain_http_without_ssl() {
    let moto = Moto::start();
    moto.create_bucket("cache");
    let endpoint = format!("127.0.0.1:{}", moto.port);
    let harness = start(config(&endpoint, "cache", ""), Duration::from_secs(5), 4);
    let event = harness.store(key(2), entry(10, 2)).await;
    assert!(matches!(event, Event::WriteFinished { .. }), "{event:?}");
    let (status, _) = moto.request("GET", &format!("/cache/a/b/c/{}", key(2).to_hex()), b"");
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn a_corrupt_object_is_reported_and_removed() {
    let moto = Moto::start();
    moto.create_bucket("cache");
    let harness = start(
        config(&moto.endpoint(), "cache", ""),
        Duration::from_secs(5),
        4,
    );
    let path = format!("/cache/{}", object_name("", &key(3)));
    let mut bytes = entry(1000, 3).encode(&key(3)).unwrap();
    bytes.truncate(bytes.len() / 2);
    assert_eq!(moto.request("PUT", &path, &bytes).0, 200);
    assert_eq!(moto.request("GET", &path, b"").1, bytes);

    let result = harness.lookup(key(3)).await;
    assert!(matches!(result, LookupResult::Corrupt), "{result:?}");
    assert_eq!(moto.request("GET", &path, b"").0, 404);
    assert!(matches!(harness.lookup(key(3)).await, LookupResult::Miss));
}

#[actix_rt::test]
async fn a_missing_bucket_fails_reads_and_writes_without_retrying() {
    let moto = Moto::start();
    let harness = start(
        config(&moto.endpoint(), "absent", ""),
        Duration::from_secs(5),
        4,
    );
    match harness.lookup(key(4)).await {
        LookupResult::Error(text) => assert!(text.contains("NoSuchBucket"), "{text}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let started = Instant::now();
    assert_eq!(
        harness.store(key(4), entry(10, 4)).await,
        Event::WriteFailed
    );
    // A refusal is final: no pauses for retries.
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn an_unreachable_endpoint_is_counted_not_fatal() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let harness = start(config(&endpoint, "cache", ""), Duration::from_secs(5), 4);
    let started = Instant::now();
    assert!(matches!(
        harness.lookup(key(5)).await,
        LookupResult::Error(_)
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The write is tried three times with pauses between.
    let started = Instant::now();
    assert_eq!(
        harness.store(key(5), entry(10, 5)).await,
        Event::WriteFailed
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn a_silent_endpoint_times_out() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let harness = start(
        config(&endpoint, "cache", ""),
        Duration::from_millis(300),
        4,
    );
    let started = Instant::now();
    match harness.lookup(key(6)).await {
        LookupResult::Error(text) => assert!(text.contains("no answer within"), "{text}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

#[actix_rt::test]
async fn writes_beyond_the_pending_bound_are_dropped() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let harness = start(config(&endpoint, "cache", ""), Duration::from_secs(1), 0);
    assert_eq!(
        harness.store(key(7), entry(10, 7)).await,
        Event::WriteDropped
    );
}

#[actix_rt::test]
async fn anonymous_access_reads_and_never_writes() {
    let moto = Moto::start();
    moto.create_bucket("public");
    let stored = entry(500, 8);
    let path = format!("/public/{}", object_name("", &key(8)));
    assert_eq!(
        moto.request("PUT", &path, &stored.encode(&key(8)).unwrap())
            .0,
        200
    );

    let mut anonymous = config(&moto.endpoint(), "public", "");
    anonymous.no_credentials = true;
    let harness = start(anonymous, Duration::from_secs(5), 4);
    // Moto refuses anonymous reads (403) until the bucket allows them; read-only access takes a
    // refusal for a miss, as S3 refuses reads of absent objects when listing is not allowed.
    assert!(matches!(harness.lookup(key(8)).await, LookupResult::Miss));
    moto.allow_public_reads("public");
    match harness.lookup(key(8)).await {
        LookupResult::Hit(found) => assert_eq!(*found, stored),
        other => panic!("expected a hit, got {other:?}"),
    }
    assert!(matches!(harness.lookup(key(9)).await, LookupResult::Miss));
    // The write is declined, and counted as skipped: an event, waited for, not a pause.
    assert!(matches!(
        harness.store(key(9), entry(10, 9)).await,
        Event::WriteSkipped
    ));
    let path = format!("/public/{}", object_name("", &key(9)));
    assert_eq!(moto.request("GET", &path, b"").0, 404);
    let note = harness.storage.send(Describe).await.unwrap().note.unwrap();
    assert!(note.contains("read-only"), "{note}");
}
