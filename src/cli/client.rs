//! One connection to the server: connect to `127.0.0.1:<port>`, send one request in its
//! envelope, read the responses.
//!
//! The failure kinds are typed because callers branch on them: a compile falls back to the local
//! compiler on any of them, but words its warning by kind. This module neither starts a server
//! nor decides what to do with an answer.

use sccache_core::framing::{read_frame, write_frame, FrameError};
use sccache_core::protocol::{
    decode_response, encode, Envelope, Request, Response, PROTOCOL_VERSION,
};
use std::fmt;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long to wait for the server to accept. A live server on loopback accepts at once; a wait
/// this long means there is none worth waiting for.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why talking to the server failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server closed the connection before answering.
    Closed,
    /// The connection broke.
    Io(io::Error),
    /// The server's bytes did not decode as a response.
    Garbage(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Closed => write!(formatter, "the server closed the connection"),
            ClientError::Io(error) => {
                write!(formatter, "lost the connection to the server: {error}")
            }
            ClientError::Garbage(detail) => {
                write!(formatter, "the server answered garbage ({detail})")
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<FrameError> for ClientError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Closed => ClientError::Closed,
            FrameError::Io(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                ClientError::Closed
            }
            FrameError::Io(error) => ClientError::Io(error),
            FrameError::TooLarge(_) => ClientError::Garbage(error.to_string()),
        }
    }
}

/// An open connection to the server.
pub struct Connection {
    stream: TcpStream,
}

impl Connection {
    /// Connects to the server on loopback `port`, waiting at most `CONNECT_TIMEOUT`.
    pub fn open(port: u16) -> io::Result<Connection> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
        // Requests and answers are single small frames; do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        Ok(Connection { stream })
    }

    /// Bounds how long each later read may wait (`None`: forever, for compiles).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sends one request in an envelope of this client's protocol version.
    pub fn send(&mut self, request: Request) -> Result<(), ClientError> {
        let envelope = Envelope {
            version: PROTOCOL_VERSION,
            token: String::new(),
            request,
        };
        let payload =
            encode(&envelope).map_err(|error| ClientError::Io(io::Error::other(error)))?;
        // Frame into memory first so the request leaves in one write.
        let mut frame = Vec::with_capacity(payload.len() + 4);
        write_frame(&mut frame, &payload)?;
        self.stream.write_all(&frame).map_err(ClientError::Io)?;
        self.stream.flush().map_err(ClientError::Io)
    }

    /// Reads the next response.
    pub fn receive(&mut self) -> Result<Response, ClientError> {
        let frame = read_frame(&mut self.stream)?;
        decode_response(&frame).map_err(|error| ClientError::Garbage(error.to_string()))
    }

    /// Sends `request` and reads the single response it gets.
    pub fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        self.send(request)?;
        self.receive()
    }
}

/// A short name for a response, for messages about unexpected answers (never the whole body).
pub fn response_name(response: &Response) -> &'static str {
    match response {
        Response::CompileStarted => "CompileStarted",
        Response::CompileFinished(_) => "CompileFinished",
        Response::UnhandledCompile => "UnhandledCompile",
        Response::UnsupportedCompiler(_) => "UnsupportedCompiler",
        Response::Stats(_) => "Stats",
        Response::ZeroedStats => "ZeroedStats",
        Response::ShuttingDown(_) => "ShuttingDown",
        Response::VersionMismatch { .. } => "VersionMismatch",
        Response::Refused(_) => "Refused",
    }
}

/// The warning for a server of another version.
pub fn version_mismatch_message(server_version: &str, server_protocol: u32) -> String {
    format!(
        "server is version {server_version} (protocol {server_protocol}), client is {} \
         (protocol {PROTOCOL_VERSION}); run `sccache --stop-server`",
        sccache_core::VERSION
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sccache_core::protocol::decode_envelope;
    use std::net::TcpListener;

    #[test]
    fn a_request_arrives_as_one_envelope_and_the_answer_decodes() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let envelope = decode_envelope(&read_frame(&mut stream).unwrap()).unwrap();
            assert_eq!(envelope.request, Request::ZeroStats);
            write_frame(&mut stream, &encode(&Response::ZeroedStats).unwrap()).unwrap();
            // Then garbage, then a close.
            write_frame(&mut stream, &[0xc1]).unwrap();
        });
        let mut connection = Connection::open(port).unwrap();
        assert_eq!(
            connection.call(Request::ZeroStats).unwrap(),
            Response::ZeroedStats
        );
        assert!(matches!(connection.receive(), Err(ClientError::Garbage(_))));
        assert!(matches!(connection.receive(), Err(ClientError::Closed)));
        server.join().unwrap();
    }

    #[test]
    fn mismatch_message_names_both_versions_and_the_remedy() {
        let message = version_mismatch_message("9.9.9", 7);
        assert!(message.starts_with("server is version 9.9.9 (protocol 7), client is "));
        assert!(message.ends_with("run `sccache --stop-server`"));
    }
}
