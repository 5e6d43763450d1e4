//! The messages a client and the server exchange, and their MessagePack encoding.
//!
//! Every request travels in an envelope that starts with the protocol version, so that a server
//! can recognise a client of another version (and say so) before it tries to read the rest.
//! This module encodes and decodes single messages; `framing` puts them on a stream.

use crate::stats::StatsReport;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;

/// Bumped whenever a message changes shape. Client and server must agree on it exactly.
/// (2: paths, arguments and the environment travel as binaries. 3: the client's umask, the
/// TCP handshake `Hello`/`Challenge`, output in `Output` chunks. 4: `stdin_is_null`.
/// 5: `Working`, the keep-alive.)
pub const PROTOCOL_VERSION: u32 = 5;

/// The most bytes of compiler output one `Output` frame carries; larger output travels in
/// several, so no response comes near the frame limit however much a compiler prints.
pub const OUTPUT_CHUNK: usize = 1024 * 1024;

/// A request as it travels: the protocol version first, then the client's credential for a TCP
/// endpoint (empty over a Unix socket), then the request. `Debug` hides the credential.
#[derive(Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub token: String,
    pub request: Request,
}

/// What a client asks of the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    Compile(CompileRequest),
    GetStats,
    ZeroStats,
    Shutdown,
    /// Over TCP, the first request: the client's nonce for the mutual proof of the token
    /// (`handshake`); the envelope's token is empty.
    Hello {
        #[serde(with = "serde_bytes")]
        nonce: Vec<u8>,
    },
}

/// A compiler invocation as the user made it. Paths and arguments are `OsString` because they
/// need not be UTF-8; each travels as a MessagePack binary of its bytes (see `os_bytes`).
/// `Debug` shows the environment's names, not its values (which hold the user's secrets).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompileRequest {
    /// The compiler executable, resolved by the client to an absolute path.
    #[serde(with = "os_bytes::one")]
    pub exe: OsString,
    /// The working directory of the invocation.
    #[serde(with = "os_bytes::one")]
    pub cwd: OsString,
    /// The arguments after the executable.
    #[serde(with = "os_bytes::list")]
    pub args: Vec<OsString>,
    /// The client's whole environment.
    #[serde(with = "os_bytes::pairs")]
    pub env: Vec<(OsString, OsString)>,
    /// Whether the client's stderr is a terminal, where compilers colour their diagnostics by
    /// default; the server's compilers write to pipes and must be asked to.
    pub stderr_is_terminal: bool,
    /// The client's umask: the compilers the server runs for it create files under it, and
    /// restored outputs get the mode a compile would have given them.
    pub umask: u32,
    /// Whether the client's standard input is `/dev/null` (what cargo gives its queries): the
    /// server runs commands with an empty one, so only then may its answer stand for the
    /// client's.
    pub stdin_is_null: bool,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() { "" } else { "***" };
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("token", &token)
            .field("request", &self.request)
            .finish()
    }
}

impl fmt::Debug for CompileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_names: Vec<&OsString> = self.env.iter().map(|(name, _)| name).collect();
        f.debug_struct("CompileRequest")
            .field("exe", &self.exe)
            .field("cwd", &self.cwd)
            .field("args", &self.args)
            .field("env_names", &env_names)
            .field("stderr_is_terminal", &self.stderr_is_terminal)
            .field("umask", &format_args!("{:03o}", self.umask))
            .finish()
    }
}

/// What the server answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Response {
    /// The server took the compile and sends its output in `Output` chunks ahead of
    /// `CompileFinished` (sent only then: a compile whose answer fits one frame goes straight to
    /// `CompileFinished`).
    CompileStarted,
    /// The compile's result, replayed from the cache or from a real compile.
    CompileFinished(CompileFinished),
    /// The server will not run this command: the client runs the compiler itself.
    UnhandledCompile,
    /// The executable is not a compiler the server knows; the client runs it itself.
    UnsupportedCompiler(String),
    Stats(Box<StatsReport>),
    ZeroedStats,
    /// The server is stopping; the final stats.
    ShuttingDown(Box<StatsReport>),
    /// The client speaks another protocol version; carries the server's version text.
    VersionMismatch {
        server_version: String,
        protocol: u32,
    },
    /// The request was refused (bad credential, unreadable request).
    Refused(String),
    /// The answer to `Hello`: the server's nonce and its proof that it holds the token.
    Challenge {
        #[serde(with = "serde_bytes")]
        nonce: Vec<u8>,
        proof: String,
    },
    /// Compiler output to put before what the `CompileFinished` that follows carries: large
    /// output travels in chunks of at most `OUTPUT_CHUNK` bytes.
    Output {
        stream: OutputStream,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The compile is still under way (sent every `KEEPALIVE` until its answer): a client that
    /// hears nothing for `SILENCE_LIMIT` takes the server for stuck and compiles itself.
    Working,
}

/// How often the server says a compile is still under way.
pub const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a client waits for a word from the server during a compile before it gives up on
/// it and compiles itself (a stopped or deadlocked server never closes the connection).
pub const SILENCE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Which of the compiler's streams an `Output` chunk belongs to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// The responses that carry a compile's result: its output beyond the last `OUTPUT_CHUNK`
/// bytes of each stream in `Output` frames, then the `CompileFinished` with the rest. Each
/// chunk is copied out when its frame is taken, so a large output is not held twice over.
pub fn finished_in_frames(finished: CompileFinished) -> FinishedFrames {
    FinishedFrames {
        finished: Some(finished),
        sent: [0, 0],
    }
}

/// The frames of a compile's result, in order (`finished_in_frames`).
pub struct FinishedFrames {
    finished: Option<CompileFinished>,
    /// How much of stdout and of stderr went out in `Output` frames.
    sent: [usize; 2],
}

impl FinishedFrames {
    /// Whether the result takes more than its `CompileFinished` frame.
    pub fn chunked(&self) -> bool {
        self.finished.as_ref().is_some_and(|finished| {
            finished.stdout.len() > OUTPUT_CHUNK || finished.stderr.len() > OUTPUT_CHUNK
        })
    }
}

/// Where a stream's last frame starts: the bytes before it go in `Output` chunks.
fn last_chunk_start(length: usize) -> usize {
    length.saturating_sub(1) / OUTPUT_CHUNK * OUTPUT_CHUNK
}

impl Iterator for FinishedFrames {
    type Item = Response;

    fn next(&mut self) -> Option<Response> {
        let finished = self.finished.as_mut()?;
        let streams = [
            (OutputStream::Stdout, &mut finished.stdout),
            (OutputStream::Stderr, &mut finished.stderr),
        ];
        for ((stream, bytes), sent) in streams.into_iter().zip(&mut self.sent) {
            let last = last_chunk_start(bytes.len());
            if *sent < last {
                let chunk = bytes[*sent..*sent + OUTPUT_CHUNK].to_vec();
                *sent += OUTPUT_CHUNK;
                return Some(Response::Output {
                    stream,
                    bytes: chunk,
                });
            }
            if last > 0 {
                *bytes = bytes.split_off(last);
            }
        }
        self.finished.take().map(Response::CompileFinished)
    }
}

/// The outcome of a compile, as the compiler produced it (or would have).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompileFinished {
    /// The exit code, when the compiler exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended the compiler, when one did.
    pub signal: Option<i32>,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
}

/// `OsString`s on the wire as MessagePack binaries of their bytes. serde's own encoding is an
/// enum holding an array with one number per byte, which a compile request (mostly its
/// environment) took several times longer to encode and decode, on the path of every hit
/// (bench/README.md has the figures).
mod os_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    fn bytes(value: &OsString) -> &Bytes {
        Bytes::new(value.as_bytes())
    }

    fn os_string(buffer: ByteBuf) -> OsString {
        OsString::from_vec(buffer.into_vec())
    }

    pub mod one {
        use super::*;

        pub fn serialize<S: Serializer>(
            value: &OsString,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(value.as_bytes())
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<OsString, D::Error> {
            ByteBuf::deserialize(deserializer).map(os_string)
        }
    }

    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(
            values: &[OsString],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(values.iter().map(bytes))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<OsString>, D::Error> {
            let buffers = Vec::<ByteBuf>::deserialize(deserializer)?;
            Ok(buffers.into_iter().map(os_string).collect())
        }
    }

    pub mod pairs {
        use super::*;

        pub fn serialize<S: Serializer>(
            values: &[(OsString, OsString)],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(values.iter().map(|(key, value)| (bytes(key), bytes(value))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<(OsString, OsString)>, D::Error> {
            let buffers = Vec::<(ByteBuf, ByteBuf)>::deserialize(deserializer)?;
            Ok(buffers
                .into_iter()
                .map(|(key, value)| (os_string(key), os_string(value)))
                .collect())
        }
    }
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("cannot encode message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    #[error("malformed message: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("client speaks protocol {client}, server speaks {server}")]
    VersionMismatch { client: u32, server: u32 },
}

/// Encodes any message as MessagePack.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, ProtocolError> {
    Ok(rmp_serde::to_vec(message)?)
}

/// Decodes a response (client side).
pub fn decode_response(bytes: &[u8]) -> Result<Response, ProtocolError> {
    Ok(rmp_serde::from_slice(bytes)?)
}

/// Decodes a request envelope (server side), checking the version before reading the request so
/// that a client of another version gets `VersionMismatch` rather than `Decode`.
pub fn decode_envelope(bytes: &[u8]) -> Result<Envelope, ProtocolError> {
    let (version, _, _): (u32, IgnoredAny, IgnoredAny) = rmp_serde::from_slice(bytes)?;
    if version != PROTOCOL_VERSION {
        return Err(ProtocolError::VersionMismatch {
            client: version,
            server: PROTOCOL_VERSION,
        });
    }
    Ok(rmp_serde::from_slice(bytes)?)
}

/// The credential of a `Shutdown` request from a client of any protocol version, if these bytes
/// are one. `Shutdown` is a unit variant, encoded as its name in every version, so the
/// `sccache --stop-server` that a version-mismatch warning recommends can stop an older or
/// newer server.
pub fn shutdown_of_any_version(bytes: &[u8]) -> Option<String> {
    let (_, token, request): (u32, String, String) = rmp_serde::from_slice(bytes).ok()?;
    (request == "Shutdown").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn debug_shows_neither_the_token_nor_the_environment_s_values() {
        let envelope = Envelope {
            version: PROTOCOL_VERSION,
            token: "tokensecret".into(),
            request: Request::Compile(CompileRequest {
                exe: "/usr/bin/gcc".into(),
                cwd: "/".into(),
                args: vec!["-c".into()],
                env: vec![("AWS_SECRET_ACCESS_KEY".into(), "envsecret".into())],
                stderr_is_terminal: false,
                umask: 0o22,
                stdin_is_null: false,
            }),
        };
        let shown = format!("{envelope:?}");
        assert!(!shown.contains("envsecret"), "{shown}");
        assert!(!shown.contains("tokensecret"), "{shown}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY"), "{shown}");
    }

    #[test]
    fn envelope_round_trips_non_utf8_arguments() {
        let request = Request::Compile(CompileRequest {
            exe: "/usr/bin/gcc".into(),
            cwd: OsString::from_vec(vec![b'/', 0xff, b'x']),
            args: vec!["-c".into(), OsString::from_vec(vec![0xfe, b'.', b'c'])],
            env: vec![("PATH".into(), "/bin".into())],
            stderr_is_terminal: true,
            umask: 0o77,
            stdin_is_null: false,
        });
        let envelope = Envelope {
            version: PROTOCOL_VERSION,
            token: String::new(),
            request: request.clone(),
        };
        let decoded = decode_envelope(&encode(&envelope).unwrap()).unwrap();
        assert_eq!(decoded.request, request);
    }

    #[test]
    fn strings_travel_as_binaries() {
        // Each byte of an argument or variable takes one byte on the wire (serde's default for
        // an OsString takes up to two per byte, and one decode step each).
        let strange = OsString::from_vec(vec![0xff; 200]);
        let request = Request::Compile(CompileRequest {
            exe: strange.clone(),
            cwd: strange.clone(),
            args: vec![strange.clone()],
            env: vec![(strange.clone(), strange)],
            stderr_is_terminal: false,
            umask: 0,
            stdin_is_null: false,
        });
        let bytes = encode(&request).unwrap();
        assert!(bytes.len() < 5 * 200 + 64, "{} bytes", bytes.len());
        assert_eq!(
            bytes.windows(3).filter(|w| w == &[0xc4, 200, 0xff]).count(),
            5,
            "not five 200-byte binaries"
        );
    }

    #[test]
    fn other_version_is_reported_as_mismatch_not_garbage() {
        // A future client may change the request's shape entirely; the version still reads.
        let future = (PROTOCOL_VERSION + 1, "tok", vec![1u8, 2, 3]);
        match decode_envelope(&encode(&future).unwrap()) {
            Err(ProtocolError::VersionMismatch { client, .. }) => {
                assert_eq!(client, PROTOCOL_VERSION + 1)
            }
            other => panic!("expected a version mismatch, got {other:?}"),
        }
    }

    #[test]
    fn shutdown_reads_in_any_version() {
        let future = (PROTOCOL_VERSION + 7, "tok", Request::Shutdown);
        assert_eq!(
            shutdown_of_any_version(&encode(&future).unwrap()),
            Some("tok".to_owned())
        );
        let stats = (PROTOCOL_VERSION + 7, "tok", Request::GetStats);
        assert_eq!(shutdown_of_any_version(&encode(&stats).unwrap()), None);
    }

    #[test]
    fn large_output_travels_in_chunks_and_reassembles() {
        let finished = CompileFinished {
            exit_code: Some(0),
            signal: None,
            stdout: vec![1; OUTPUT_CHUNK],
            stderr: (0..3 * OUTPUT_CHUNK + 5).map(|index| index as u8).collect(),
        };
        let frames: Vec<Response> = finished_in_frames(finished.clone()).collect();
        assert_eq!(frames.len(), 4);
        let mut stderr = Vec::new();
        for frame in &frames[..3] {
            match frame {
                Response::Output {
                    stream: OutputStream::Stderr,
                    bytes,
                } => {
                    assert_eq!(bytes.len(), OUTPUT_CHUNK);
                    stderr.extend_from_slice(bytes);
                }
                other => panic!("{other:?}"),
            }
        }
        match &frames[3] {
            Response::CompileFinished(last) => {
                assert_eq!(last.stdout, finished.stdout);
                assert_eq!(last.stderr.len(), 5);
                stderr.extend_from_slice(&last.stderr);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stderr, finished.stderr);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            decode_envelope(&[0xc1, 0x00, 0xff]),
            Err(ProtocolError::Decode(_))
        ));
    }
}
