//! The bound on memory held by requests being read, over all connections together.
//!
//! Requests are small (a command line and an environment), so each frame a client may send is
//! limited to `MAX_REQUEST_LEN`, far below the responses' limit; and the bytes of frames being
//! read at once, on every connection, are limited by one shared `ReadBudget`. A frame that
//! would go over it closes its connection before its body is read (the client then compiles
//! locally, which never breaks a build), so no number of connections can make the server
//! buffer more than the budget. This module only counts; the connection actor uses the codec.

use bytes::BytesMut;
use sccache_core::framing::{LENGTH_FIELD_BYTES, MAX_REQUEST_LEN};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_util::codec::{Decoder, LengthDelimitedCodec};

/// Bytes of request frames all connections may be reading at once.
pub const REQUEST_BUFFER_BUDGET: usize = 256 * 1024 * 1024;

/// The bytes still free for request frames across all connections.
#[derive(Debug)]
pub struct ReadBudget {
    free: AtomicUsize,
}

impl ReadBudget {
    pub fn new(bytes: usize) -> Arc<ReadBudget> {
        Arc::new(ReadBudget {
            free: AtomicUsize::new(bytes),
        })
    }

    /// Takes `bytes` if that many are free.
    fn take(&self, bytes: usize) -> bool {
        self.free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                free.checked_sub(bytes)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.free.fetch_add(bytes, Ordering::AcqRel);
    }
}

/// The connection's request codec: length-delimited frames of at most `MAX_REQUEST_LEN`, each
/// taken from the shared budget once its length is known and given back once it is read (or
/// when the connection goes).
pub struct BudgetedCodec {
    inner: LengthDelimitedCodec,
    budget: Arc<ReadBudget>,
    /// What the frame being read holds of the budget.
    held: usize,
}

impl BudgetedCodec {
    pub fn new(budget: Arc<ReadBudget>) -> BudgetedCodec {
        let inner = LengthDelimitedCodec::builder()
            .length_field_length(LENGTH_FIELD_BYTES)
            .max_frame_length(MAX_REQUEST_LEN)
            .big_endian()
            .new_codec();
        BudgetedCodec {
            inner,
            budget,
            held: 0,
        }
    }
}

impl Decoder for BudgetedCodec {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, source: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        // A new frame's length is read here before the inner codec reserves room for its body.
        if self.held == 0 {
            if let Some(prefix) = source.get(..LENGTH_FIELD_BYTES) {
                let mut length = [0u8; LENGTH_FIELD_BYTES];
                length.copy_from_slice(prefix);
                let length = u32::from_be_bytes(length) as usize;
                // A frame over the limit is refused by the inner codec, unread.
                if length <= MAX_REQUEST_LEN {
                    let wanted = length + LENGTH_FIELD_BYTES;
                    if !self.budget.take(wanted) {
                        return Err(io::Error::other(
                            "the server is reading too many requests at once",
                        ));
                    }
                    self.held = wanted;
                }
            }
        }
        let frame = self.inner.decode(source)?;
        if frame.is_some() {
            self.budget.give_back(std::mem::take(&mut self.held));
        }
        Ok(frame)
    }
}

impl Drop for BudgetedCodec {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(length: usize) -> BytesMut {
        let mut bytes = BytesMut::from(&(length as u32).to_be_bytes()[..]);
        bytes.extend_from_slice(&vec![7u8; length]);
        bytes
    }

    #[test]
    fn frames_take_from_the_shared_budget_until_read_or_dropped() {
        let budget = ReadBudget::new(100);
        let mut first = BudgetedCodec::new(budget.clone());
        let mut second = BudgetedCodec::new(budget.clone());
        // 60 bytes announced, 10 arrived: held until the rest comes.
        let mut partial = frame(60);
        partial.truncate(14);
        assert!(first.decode(&mut partial).unwrap().is_none());
        // Another connection's 60 do not fit beside them: that connection is closed.
        assert!(second.decode(&mut frame(60)).is_err());
        // The first frame completes and gives its share back.
        partial.extend_from_slice(&[7u8; 50]);
        assert_eq!(first.decode(&mut partial).unwrap().unwrap().len(), 60);
        let mut third = BudgetedCodec::new(budget.clone());
        let mut pending = frame(90);
        pending.truncate(8);
        assert!(third.decode(&mut pending).unwrap().is_none());
        drop(third);
        assert_eq!(budget.free.load(Ordering::Acquire), 100);
    }

    #[test]
    fn a_frame_over_the_request_limit_is_refused_unread() {
        let mut codec = BudgetedCodec::new(ReadBudget::new(REQUEST_BUFFER_BUDGET));
        let mut claim = BytesMut::from(&((MAX_REQUEST_LEN + 1) as u32).to_be_bytes()[..]);
        assert!(codec.decode(&mut claim).is_err());
    }
}
