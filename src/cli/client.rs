//! One connection to the server: connect to its endpoint (the Unix socket, or `127.0.0.1:<port>`
//! with the user's token), send one request in its envelope, read the responses.
//!
//! Invariant: over TCP nothing but a nonce leaves before the listener has proved that it holds
//! the user's token (`sccache_core::handshake`); requests then carry a proof, never the token.
//!
//! The failure kinds are typed because callers branch on them: a compile falls back to the local
//! compiler on any of them, but words its warning by kind. This module neither starts a server
//! nor decides what to do with an answer.

use rustix::event::{PollFd, PollFlags};
use sccache_core::access::{credential, credentials_match, current_uid, AccessError};
use sccache_core::config::{client_endpoint, private_dir, Endpoint};
use sccache_core::framing::{read_frame, write_frame, FrameError};
use sccache_core::handshake;
use sccache_core::protocol::{
    decode_response, encode, Envelope, Request, Response, PROTOCOL_VERSION,
};
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long to wait for the server to accept. A live server on loopback accepts at once; a wait
/// this long means there is none worth waiting for.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait for the answer to `Hello`. A server answers it at once, without waiting
/// for any compile; a listener that stays silent this long is not one, and the compile must
/// not hang on it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether process `pid` runs a program of this one's name, as the server does (it is this
/// binary): a forwarder between client and server (`ssh -L`, `socat`) holds the connection's
/// other end as well, and must not be killed for the server's silence.
fn runs_this_program(pid: rustix::process::Pid) -> bool {
    let name = |path: std::path::PathBuf| {
        let text = path.to_string_lossy().into_owned();
        let text = text.strip_suffix(" (deleted)").unwrap_or(&text).to_owned();
        std::path::Path::new(&text)
            .file_name()
            .map(ToOwned::to_owned)
    };
    let theirs = std::fs::read_link(format!("/proc/{}/exe", pid.as_raw_nonzero())).map(name);
    let ours = std::fs::read_link("/proc/self/exe").map(name);
    matches!((theirs, ours), (Ok(Some(theirs)), Ok(Some(ours))) if theirs == ours)
}

/// Why talking to the server failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server closed the connection before answering.
    Closed,
    /// The connection broke.
    Io(io::Error),
    /// The server's bytes did not decode as a response.
    Garbage(String),
    /// The TCP listener did not prove that it holds the user's token; nothing was sent to it.
    Untrusted(String),
    /// A listener on this TCP port is another user's (or its owner is unknown); the token was
    /// not sent to it.
    ForeignListener(u16),
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
            ClientError::Untrusted(endpoint) => write!(
                formatter,
                "the server on {endpoint} did not prove that it holds this user's token (a \
                 changed token file, or another account listening there); nothing was sent to it"
            ),
            ClientError::ForeignListener(port) => write!(
                formatter,
                "127.0.0.1:{port} is not (only) this user's to listen on; the token was not sent"
            ),
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

/// Where the server is and the credential it wants (empty over a Unix socket). `Debug` hides
/// the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerAddress {
    pub endpoint: Endpoint,
    token: String,
}

impl std::fmt::Debug for ServerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAddress")
            .field("endpoint", &self.endpoint)
            .field("token", &"***")
            .finish()
    }
}

impl ServerAddress {
    /// The server of this environment's settings. Creates the private directory (and the TCP
    /// token) when missing, and refuses ones another account could have planted.
    pub fn from_env() -> Result<ServerAddress, AccessError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let endpoint = client_endpoint(&lookup)?;
        let token = credential(&endpoint, &private_dir(&lookup))?;
        Ok(ServerAddress { endpoint, token })
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.endpoint)
    }
}

/// The stream under a connection.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buffer),
            Stream::Unix(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.write(buffer),
            Stream::Unix(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.flush(),
            Stream::Unix(stream) => stream.flush(),
        }
    }
}

/// An open connection to the server.
pub struct Connection {
    /// Buffered for reading, so that a frame's length and body usually arrive in one read.
    stream: BufReader<Stream>,
    /// The user's token (empty over a Unix socket); over TCP it never leaves this process.
    token: String,
    /// What requests carry as their credential: over TCP, the proof agreed in the handshake.
    credential: String,
    /// Over TCP, before the first request: the listener must first prove it holds the token.
    handshake_due: bool,
    /// The answer to a handshake that was not a challenge (a server of another version, a
    /// refusal), given to the next `receive` in place of the request's answer.
    pending: Option<Response>,
    /// Whether reads wait at most a set time (control commands, the handshake).
    timed: bool,
    /// How long an untimed read waits in `poll` for the server's next word (a compile's
    /// `SILENCE_LIMIT`); `None`: for ever.
    silence_limit: Option<Duration>,
}

impl Connection {
    /// Connects to the server, waiting at most `CONNECT_TIMEOUT` for TCP (a Unix socket
    /// answers or refuses at once).
    pub fn open(address: &ServerAddress) -> io::Result<Connection> {
        let stream = match &address.endpoint {
            Endpoint::Tcp(port) => {
                let socket = SocketAddr::from((Ipv4Addr::LOCALHOST, *port));
                let stream = TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT)?;
                // Requests and answers are single small frames; do not let Nagle hold them
                // back.
                stream.set_nodelay(true)?;
                Stream::Tcp(stream)
            }
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                check_server_uid(&stream)?;
                Stream::Unix(stream)
            }
        };
        Ok(Connection {
            handshake_due: matches!(stream, Stream::Tcp(_)),
            stream: BufReader::new(stream),
            token: address.token.clone(),
            credential: String::new(),
            pending: None,
            timed: false,
            silence_limit: None,
        })
    }

    /// Bounds how long each later read may wait (`None`: as `set_silence_limit` says).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timed = timeout.is_some();
        match self.stream.get_ref() {
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    /// Sends `request` with the token itself and no handshake, for a server of an older
    /// protocol (which cannot answer `Hello` but obeys a `Shutdown` of any version). Over TCP
    /// only when every listener that a connection to the port can reach is this user's
    /// (`listener_owner`); a Unix socket's owner was checked when it was opened.
    pub fn send_to_older_server(&mut self, request: Request) -> Result<(), ClientError> {
        self.handshake_due = false;
        if let Stream::Tcp(stream) = self.stream.get_ref() {
            let port = stream.peer_addr().map_err(ClientError::Io)?.port();
            if !crate::listener_owner::listener_is_ours(port) {
                return Err(ClientError::ForeignListener(port));
            }
        }
        self.send_envelope(self.token.clone(), request, &[])
    }

    /// Sends one request in an envelope of this client's protocol version; over TCP, after the
    /// handshake. When the handshake is answered otherwise than by a challenge, the request is
    /// not sent and that answer is the next `receive`'s.
    pub fn send(&mut self, request: Request) -> Result<(), ClientError> {
        self.send_passing(request, &[])
    }

    /// `send`, passing `descriptors` with the request over a Unix socket (`SCM_RIGHTS`); over
    /// TCP they are not passed.
    pub fn send_passing(
        &mut self,
        request: Request,
        descriptors: &[BorrowedFd<'_>],
    ) -> Result<(), ClientError> {
        if std::mem::take(&mut self.handshake_due) {
            if let Some(answer) = self.handshake()? {
                self.pending = Some(answer);
                return Ok(());
            }
        }
        self.send_envelope(self.credential.clone(), request, descriptors)
    }

    /// Sends a nonce and checks the server's proof of the token; keeps the proof of this side
    /// for the requests that follow. `Some`: the server answered something else.
    fn handshake(&mut self) -> Result<Option<Response>, ClientError> {
        let garbage = |error: handshake::NonceError| ClientError::Garbage(error.to_string());
        let client_nonce = handshake::nonce().map_err(garbage)?;
        let hello = Request::Hello {
            nonce: client_nonce.clone(),
        };
        self.send_envelope(String::new(), hello, &[])?;
        let untimed = !self.timed;
        if untimed {
            self.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
                .map_err(ClientError::Io)?;
        }
        let answer = self.receive();
        if untimed {
            self.set_read_timeout(None).map_err(ClientError::Io)?;
        }
        match answer? {
            Response::Challenge { nonce, proof } => {
                let expected = handshake::server_proof(&self.token, &client_nonce, &nonce);
                if nonce.len() != handshake::NONCE_LEN || !credentials_match(&proof, &expected) {
                    let endpoint = match self.stream.get_ref() {
                        Stream::Tcp(stream) => stream.peer_addr().map(|a| a.to_string()),
                        Stream::Unix(_) => Ok("the socket".to_owned()),
                    };
                    return Err(ClientError::Untrusted(endpoint.unwrap_or_default()));
                }
                self.credential = handshake::client_proof(&self.token, &client_nonce, &nonce);
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    fn send_envelope(
        &mut self,
        credential: String,
        request: Request,
        descriptors: &[BorrowedFd<'_>],
    ) -> Result<(), ClientError> {
        let envelope = Envelope {
            version: PROTOCOL_VERSION,
            token: credential,
            request,
        };
        let payload =
            encode(&envelope).map_err(|error| ClientError::Io(io::Error::other(error)))?;
        // Frame into memory first so the request leaves in one write.
        let mut frame = Vec::with_capacity(payload.len() + 4);
        write_frame(&mut frame, &payload)?;
        let stream = self.stream.get_mut();
        let mut sent = 0;
        if let (Stream::Unix(socket), false) = (&*stream, descriptors.is_empty()) {
            sent = send_with_descriptors(socket, &frame, descriptors).map_err(ClientError::Io)?;
        }
        stream.write_all(&frame[sent..]).map_err(ClientError::Io)?;
        stream.flush().map_err(ClientError::Io)
    }

    /// The server's process, as the kernel tells it: over a Unix socket its peer credentials,
    /// over TCP the process holding the connection's other end (`tcp_peer`); only one that
    /// runs a program of this one's name (`runs_this_program`).
    pub fn server_pid(&self) -> Option<rustix::process::Pid> {
        let pid = match self.stream.get_ref() {
            Stream::Unix(stream) => rustix::net::sockopt::socket_peercred(stream).ok()?.pid,
            Stream::Tcp(stream) => crate::tcp_peer::peer_process(stream)?,
        };
        runs_this_program(pid).then_some(pid)
    }

    /// Bounds how long an untimed read waits for the server's next word, in `poll` (a
    /// compile's reads: see `wait_readable` for why not `recv` with a timeout); a read that
    /// waits longer fails with `TimedOut`.
    pub fn set_silence_limit(&mut self, limit: Duration) {
        self.silence_limit = Some(limit);
    }

    /// Reads the next response.
    pub fn receive(&mut self) -> Result<Response, ClientError> {
        if let Some(answer) = self.pending.take() {
            return Ok(answer);
        }
        if !self.timed && self.stream.buffer().is_empty() {
            wait_readable(self.stream.get_ref(), self.silence_limit).map_err(ClientError::Io)?;
        }
        let frame = read_frame(&mut self.stream)?;
        decode_response(&frame).map_err(|error| ClientError::Garbage(error.to_string()))
    }

    /// Sends `request` and reads the single response it gets.
    pub fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        self.send(request)?;
        self.receive()
    }
}

/// Sends the start of `bytes` with `descriptors` attached (one `sendmsg`); returns how many
/// bytes went, the rest to be written as usual.
fn send_with_descriptors(
    socket: &UnixStream,
    bytes: &[u8],
    descriptors: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(descriptors)) {
        // More than fit: pass none rather than some.
        return Ok(0);
    }
    loop {
        match rustix::net::sendmsg(
            socket,
            &[io::IoSlice::new(bytes)],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(sent) => return Ok(sent),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Waits until the server has sent something (or closed the connection). A thread blocked in
/// `recv` on a Unix socket is also woken, for nothing, when the server reads the request (the
/// kernel announces the freed buffer space to every waiter); `poll` for input is not. On a
/// 2-vCPU machine that needless wake-up preempts the server just as it starts the compile.
/// Errors are left to the read that follows; nothing to read within `limit` is `TimedOut`.
fn wait_readable(stream: &Stream, limit: Option<Duration>) -> io::Result<()> {
    let descriptor = match stream {
        Stream::Tcp(stream) => stream.as_fd(),
        Stream::Unix(stream) => stream.as_fd(),
    };
    let mut poll = [PollFd::new(&descriptor, PollFlags::IN)];
    let deadline = limit.map(|limit| std::time::Instant::now() + limit);
    loop {
        let left = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            rustix::event::Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut poll, left.as_ref()) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(0) if deadline.is_some() => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))
            }
            _ => return Ok(()),
        }
    }
}

/// Refuses a server of another uid: a socket at an explicit `SCCACHE_SERVER_UDS` in a shared
/// directory could be someone else's, and a compile request carries the whole environment.
fn check_server_uid(stream: &UnixStream) -> io::Result<()> {
    let peer = rustix::net::sockopt::socket_peercred(stream)?.uid.as_raw();
    let own = current_uid();
    if peer != own {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the server socket belongs to uid {peer}, not {own}"),
        ));
    }
    Ok(())
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
        Response::Challenge { .. } => "Challenge",
        Response::Output { .. } => "Output",
        Response::Working => "Working",
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
pub(crate) mod tests {
    use super::*;
    use sccache_core::protocol::decode_envelope;
    use std::net::TcpListener;

    /// The address of a test server on loopback `port` wanting `token`.
    pub fn tcp_address(port: u16, token: &str) -> ServerAddress {
        ServerAddress {
            endpoint: Endpoint::Tcp(port),
            token: token.to_owned(),
        }
    }

    #[test]
    fn a_request_arrives_as_one_envelope_and_the_answer_decodes() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The handshake first: the token itself never travels.
            let hello = decode_envelope(&read_frame(&mut stream).unwrap()).unwrap();
            let Request::Hello { nonce: client } = hello.request else {
                panic!("{hello:?}")
            };
            assert_eq!(hello.token, "");
            let nonce = handshake::nonce().unwrap();
            let proof = handshake::server_proof("secret", &client, &nonce);
            let challenge = Response::Challenge {
                nonce: nonce.clone(),
                proof,
            };
            write_frame(&mut stream, &encode(&challenge).unwrap()).unwrap();
            let envelope = decode_envelope(&read_frame(&mut stream).unwrap()).unwrap();
            assert_eq!(
                envelope.token,
                handshake::client_proof("secret", &client, &nonce)
            );
            assert_eq!(envelope.request, Request::ZeroStats);
            write_frame(&mut stream, &encode(&Response::ZeroedStats).unwrap()).unwrap();
            // Then garbage, then a close.
            write_frame(&mut stream, &[0xc1]).unwrap();
        });
        let mut connection = Connection::open(&tcp_address(port, "secret")).unwrap();
        assert_eq!(
            connection.call(Request::ZeroStats).unwrap(),
            Response::ZeroedStats
        );
        assert!(matches!(connection.receive(), Err(ClientError::Garbage(_))));
        assert!(matches!(connection.receive(), Err(ClientError::Closed)));
        server.join().unwrap();
    }

    #[test]
    fn a_listener_without_the_token_receives_only_a_nonce() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let hello = read_frame(&mut stream).unwrap();
            let challenge = Response::Challenge {
                nonce: vec![1; handshake::NONCE_LEN],
                proof: "00".repeat(32),
            };
            write_frame(&mut stream, &encode(&challenge).unwrap()).unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).unwrap();
            (hello, rest)
        });
        let mut connection = Connection::open(&tcp_address(port, "secret")).unwrap();
        let error = connection.send(Request::ZeroStats).unwrap_err();
        assert!(matches!(error, ClientError::Untrusted(_)), "{error}");
        drop(connection);
        let (hello, rest) = server.join().unwrap();
        assert!(rest.is_empty(), "sent after a bad proof: {rest:?}");
        assert!(!hello.windows(6).any(|window| window == b"secret"));
    }

    #[test]
    fn a_unix_socket_carries_an_empty_token() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("server.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let envelope = decode_envelope(&read_frame(&mut stream).unwrap()).unwrap();
            assert_eq!(envelope.token, "");
            write_frame(&mut stream, &encode(&Response::ZeroedStats).unwrap()).unwrap();
        });
        let address = ServerAddress {
            endpoint: Endpoint::Unix(path),
            token: String::new(),
        };
        let mut connection = Connection::open(&address).unwrap();
        assert_eq!(
            connection.call(Request::ZeroStats).unwrap(),
            Response::ZeroedStats
        );
        server.join().unwrap();
    }

    #[test]
    fn mismatch_message_names_both_versions_and_the_remedy() {
        let message = version_mismatch_message("9.9.9", 7);
        assert!(message.starts_with("server is version 9.9.9 (protocol 7), client is "));
        assert!(message.ends_with("run `sccache --stop-server`"));
    }

    /// Only a process of this program's name is taken for the server: a forwarder (here
    /// `sleep`, any other program) is not.
    #[test]
    fn only_a_process_of_this_program_is_taken_for_the_server() {
        let own = rustix::process::getpid();
        assert!(runs_this_program(own));
        let mut other = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = rustix::process::Pid::from_raw(other.id() as i32).unwrap();
        assert!(!runs_this_program(pid));
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
