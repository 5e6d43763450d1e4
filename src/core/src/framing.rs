//! Length-delimited frames: a 4-byte big-endian length, then that many bytes of message.
//!
//! The constants here are shared with the server's codec so both sides agree on the format and
//! the size limit. This module does blocking I/O for the client; the server uses an async codec
//! configured from the same constants.

use std::io::{self, Read, Write};

/// Bytes of the length prefix.
pub const LENGTH_FIELD_BYTES: usize = 4;

/// The largest frame either side accepts. A compile's arguments, environment and output fit
/// easily; a frame claiming more is garbage, and the connection is closed without reading it.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// The largest request frame the server reads. Requests are a command line and an
/// environment, which the kernel bounds far below this (a command line and environment of
/// more than a few MiB cannot be executed with the usual stack limit); only responses carry
/// bulk data, and large output travels in chunks.
pub const MAX_REQUEST_LEN: usize = 16 * 1024 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes is over the {MAX_FRAME_LEN}-byte limit")]
    TooLarge(usize),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Writes one frame.
pub fn write_frame(writer: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(payload.len()));
    }
    let length = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge(payload.len()))?;
    writer.write_all(&length.to_be_bytes())?;
    writer.write_all(payload)?;
    writer.flush()?;
    Ok(())
}

/// Reads one frame, refusing one over `MAX_FRAME_LEN` before allocating for it.
pub fn read_frame(reader: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0u8; LENGTH_FIELD_BYTES];
    match reader.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Closed)
        }
        Err(error) => return Err(error.into()),
    }
    let length = u32::from_be_bytes(prefix) as usize;
    if length > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(length));
    }
    let mut payload = vec![0u8; length];
    reader.read_exact(&mut payload)?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, b"hello").unwrap();
        write_frame(&mut buffer, b"").unwrap();
        let mut reader = &buffer[..];
        assert_eq!(read_frame(&mut reader).unwrap(), b"hello");
        assert_eq!(read_frame(&mut reader).unwrap(), b"");
        assert!(matches!(read_frame(&mut reader), Err(FrameError::Closed)));
    }

    #[test]
    fn a_frame_claiming_four_gib_is_refused_without_allocating() {
        let claim = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            read_frame(&mut &claim[..]),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn a_truncated_frame_is_an_error() {
        let truncated = [0, 0, 0, 10, 1, 2];
        assert!(read_frame(&mut &truncated[..]).is_err());
    }
}
