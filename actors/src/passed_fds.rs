//! A Unix connection that keeps the file descriptors its client passes with a request
//! (`SCM_RIGHTS`): the client hands over cargo's jobserver this way (`jobserver.rs`).
//!
//! Every read is a `recvmsg` with room for two descriptors, received close-on-exec; what
//! arrives is kept for the connection to take (`Passed::take`), at most two at a time, the rest
//! closed at once. A client that passes nothing costs a slightly larger system call and
//! nothing else. Over TCP nothing can be passed, and this is not used.

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixStream;

/// The most descriptors a connection keeps (a jobserver's read and write ends).
const KEPT: usize = 2;

/// The descriptors a connection's client passed and the connection has not taken yet.
#[derive(Clone, Default)]
pub struct Passed(Arc<Mutex<Vec<OwnedFd>>>);

impl Passed {
    /// The descriptors passed so far, in the order they came; none are kept afterwards.
    pub fn take(&self) -> Vec<OwnedFd> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn keep(&self, descriptors: impl Iterator<Item = OwnedFd>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for descriptor in descriptors {
            // Beyond the limit, dropping it closes it.
            if kept.len() < KEPT {
                kept.push(descriptor);
            }
        }
    }
}

/// A Unix stream whose reads keep the descriptors passed with the bytes read.
pub struct Receiving {
    stream: UnixStream,
    passed: Passed,
}

/// `stream`, reading through `recvmsg`, and where what its client passes is kept.
pub fn receiving(stream: UnixStream) -> (Receiving, Passed) {
    let passed = Passed::default();
    (
        Receiving {
            stream,
            passed: passed.clone(),
        },
        passed,
    )
}

/// One `recvmsg` into `into`, keeping any descriptors that came with the bytes.
fn receive(stream: &UnixStream, into: &mut [u8], passed: &Passed) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(KEPT))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(into)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(descriptors) = message {
            passed.keep(descriptors);
        }
    }
    Ok(received.bytes)
}

impl AsyncRead for Receiving {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.stream.poll_read_ready(cx))?;
            let into = buf.initialize_unfilled();
            let read = this.stream.try_io(Interest::READABLE, || {
                receive(&this.stream, into, &this.passed)
            });
            match read {
                Ok(count) => {
                    buf.advance(count);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl AsyncWrite for Receiving {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    use std::io::IoSlice;
    use std::os::fd::{AsFd, AsRawFd};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn send_with(socket: &std::os::unix::net::UnixStream, bytes: &[u8], fds: &[OwnedFd]) {
        let borrowed: Vec<_> = fds.iter().map(AsFd::as_fd).collect();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&borrowed)));
        let sent = rustix::net::sendmsg(
            socket,
            &[IoSlice::new(bytes)],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        assert_eq!(sent, bytes.len());
    }

    #[tokio::test]
    async fn passed_pipes_are_kept_with_the_bytes_and_extras_closed() {
        let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        let (mut stream, passed) = receiving(UnixStream::from_std(server).unwrap());
        let (read, write) = std::io::pipe().unwrap();
        let (extra, _other) = std::io::pipe().unwrap();
        send_with(
            &client,
            b"hello",
            &[read.into(), write.into(), extra.into()],
        );
        let mut got = [0u8; 5];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        let kept = passed.take();
        assert_eq!(kept.len(), 2);
        // The received write end feeds the received read end: the same pipe.
        rustix::io::write(&kept[1], b"+").unwrap();
        let mut token = [0u8; 1];
        rustix::io::read(&kept[0], &mut token).unwrap();
        assert_eq!(&token, b"+");
        // Close-on-exec, so no other child of the server inherits them.
        let flags = rustix::io::fcntl_getfd(&kept[0]).unwrap();
        assert!(
            flags.contains(rustix::io::FdFlags::CLOEXEC),
            "{}",
            kept[0].as_raw_fd()
        );
        assert!(passed.take().is_empty());
        // Writes go through untouched.
        stream.write_all(b"ok").await.unwrap();
        let mut answer = [0u8; 2];
        std::io::Read::read_exact(&mut &client, &mut answer).unwrap();
        assert_eq!(&answer, b"ok");
    }

    #[tokio::test]
    async fn plain_bytes_pass_no_descriptors() {
        let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        let (mut stream, passed) = receiving(UnixStream::from_std(server).unwrap());
        std::io::Write::write_all(&mut &client, b"plain").unwrap();
        drop(client);
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"plain");
        assert!(passed.take().is_empty());
    }
}
