//! The REAPI round trips of a lookup and a store, over one set of `Clients`.
//!
//! A lookup: `GetActionResult` for the key's synthetic Action (asking for stdout inline), then,
//! unless the entry came inline, its blob by `BatchReadBlobs` (within the server's batch limit)
//! or ByteStream `Read` (above it). A store:
//! `FindMissingBlobs` for the entry, Action, Command and input-root blobs, the missing ones by
//! `BatchUpdateBlobs` or ByteStream `Write`, then `UpdateActionResult`. Every blob read is
//! checked against its digest. The server's capabilities (digest functions, batch limit,
//! whether the action cache takes updates) are asked once, by the first round trip that needs
//! them, and kept. Nothing here retries or decides what a failure means for the backend: it
//! reports a `Failure`, and the actor rests or counts.

use super::link::Clients;
use super::mapping::{self, Blob, EntryBlob, SHA256};
use bazel_remote_apis::build::bazel::remote::execution::v2::{
    batch_update_blobs_request, BatchReadBlobsRequest, BatchUpdateBlobsRequest, Digest,
    FindMissingBlobsRequest, GetActionResultRequest, GetCapabilitiesRequest,
    UpdateActionResultRequest,
};
use bazel_remote_apis::google::bytestream::{ReadRequest, WriteRequest};
use sccache_core::hash_key::CacheKey;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::OnceCell;
use tonic::Code;

/// The batch limit assumed when the server sets none (gRPC's usual message limit).
const DEFAULT_BATCH_LIMIT: u64 = 4 << 20;
/// Room left in a batch for the request's own fields besides the blobs.
const BATCH_OVERHEAD: u64 = 16 << 10;
/// The size of each ByteStream `Write` message.
const WRITE_CHUNK: usize = 1 << 20;

/// What the server said about itself, once.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// The most blob bytes one batch call may carry.
    pub batch_limit: u64,
    /// Whether `UpdateActionResult` is allowed.
    pub update_enabled: bool,
}

/// Why a round trip did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The server answered a call with an error status (or could not be reached).
    Call {
        call: &'static str,
        status: tonic::Status,
    },
    /// The server does not hash with SHA-256.
    NoSha256,
    /// The server broke the protocol (a batch reply without our blob, a short stream...).
    Protocol(String),
    /// Something on our side: a task died.
    Local(String),
}

impl Failure {
    /// Whether the connection may be gone (the server stopped, a timeout): the actor then rests
    /// and makes a new channel.
    pub fn breaks_connection(&self) -> bool {
        matches!(self, Failure::Call { status, .. }
            if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded
                | Code::Cancelled | Code::Unknown))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Call { call, status } => {
                write!(
                    formatter,
                    "{call}: {:?}: {}",
                    status.code(),
                    status.message()
                )
            }
            Failure::NoSha256 => formatter.write_str("the server does not offer SHA-256 digests"),
            Failure::Protocol(reason) | Failure::Local(reason) => formatter.write_str(reason),
        }
    }
}

fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> Failure {
    move |status| Failure::Call { call, status }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Fetched {
    Found(Vec<u8>),
    /// No result for the key, or its blob is gone from the CAS.
    Missing,
    /// A blob that does not match its digest.
    Corrupt(String),
}

/// How a store ended, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Written,
    /// The server takes no action cache updates.
    Refused,
}

/// One server's clients with the settings every request carries.
#[derive(Clone)]
pub struct Remote {
    pub clients: Clients,
    pub instance: String,
    pub capabilities: Arc<OnceCell<Capabilities>>,
    pub uploads: Arc<AtomicU64>,
}

impl Remote {
    /// The server's capabilities, asked on the first call only.
    pub async fn capabilities(&self) -> Result<Capabilities, Failure> {
        let ask = || async {
            let reply = self
                .clients
                .capabilities
                .clone()
                .get_capabilities(GetCapabilitiesRequest {
                    instance_name: self.instance.clone(),
                })
                .await
                .map_err(call("GetCapabilities"))?
                .into_inner();
            let cache = reply.cache_capabilities.unwrap_or_default();
            // An empty list is an old server's way of saying SHA-256 only.
            if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&SHA256) {
                return Err(Failure::NoSha256);
            }
            let limit = u64::try_from(cache.max_batch_total_size_bytes).unwrap_or(0);
            Ok(Capabilities {
                batch_limit: if limit == 0 {
                    DEFAULT_BATCH_LIMIT
                } else {
                    limit
                },
                update_enabled: cache
                    .action_cache_update_capabilities
                    .is_some_and(|update| update.update_enabled),
            })
        };
        self.capabilities.get_or_try_init(ask).await.copied()
    }

    /// The entry stored for `key`, its digest checked.
    pub async fn fetch(&self, key: &CacheKey) -> Result<Fetched, Failure> {
        let capabilities = self.capabilities().await?;
        let action = mapping::action_for(key);
        let reply = self
            .clients
            .action_cache
            .clone()
            .get_action_result(GetActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action.digest),
                inline_stdout: true,
                digest_function: SHA256,
                ..GetActionResultRequest::default()
            })
            .await;
        let result = match reply {
            Ok(reply) => reply.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(Fetched::Missing),
            Err(status) => return Err(call("GetActionResult")(status)),
        };
        let (digest, bytes) = match mapping::entry_blob(result) {
            None => return Ok(Fetched::Missing),
            Some(EntryBlob::Inline(digest, bytes)) => (digest, bytes),
            Some(EntryBlob::Stored(digest)) => {
                let size = u64::try_from(digest.size_bytes).unwrap_or(u64::MAX);
                let read = if size + BATCH_OVERHEAD <= capabilities.batch_limit {
                    self.batch_read(&digest).await?
                } else {
                    self.stream_read(&digest).await?
                };
                match read {
                    Some(bytes) => (digest, bytes),
                    None => return Ok(Fetched::Missing),
                }
            }
        };
        Ok(check(&digest, bytes))
    }

    async fn batch_read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, Failure> {
        let reply = self
            .clients
            .cas
            .clone()
            .batch_read_blobs(BatchReadBlobsRequest {
                instance_name: self.instance.clone(),
                digests: vec![digest.clone()],
                digest_function: SHA256,
                ..BatchReadBlobsRequest::default()
            })
            .await
            .map_err(call("BatchReadBlobs"))?
            .into_inner();
        let response = reply
            .responses
            .into_iter()
            .find(|response| response.digest.as_ref() == Some(digest))
            .ok_or_else(|| {
                Failure::Protocol("BatchReadBlobs: the blob is not in the reply".into())
            })?;
        match response.status.map_or(0, |status| status.code) {
            0 => Ok(Some(response.data)),
            code if code == Code::NotFound as i32 => Ok(None),
            code => Err(Failure::Call {
                call: "BatchReadBlobs",
                status: tonic::Status::new(Code::from_i32(code), "reading the entry blob"),
            }),
        }
    }

    async fn stream_read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, Failure> {
        let request = ReadRequest {
            resource_name: mapping::read_resource(&self.instance, digest),
            read_offset: 0,
            read_limit: 0,
        };
        let mut stream = match self.clients.byte_stream.clone().read(request).await {
            Ok(reply) => reply.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(call("ByteStream.Read")(status)),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(digest.size_bytes).unwrap_or(0));
        loop {
            match stream.message().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk.data),
                Ok(None) => return Ok(Some(bytes)),
                Err(status) if status.code() == Code::NotFound => return Ok(None),
                Err(status) => return Err(call("ByteStream.Read")(status)),
            }
        }
    }

    /// Stores `entry` (an encoded `CacheEntry`) for `key`.
    pub async fn store(&self, key: &CacheKey, entry: Blob) -> Result<Stored, Failure> {
        let capabilities = self.capabilities().await?;
        if !capabilities.update_enabled {
            return Ok(Stored::Refused);
        }
        let action = mapping::action_for(key);
        let action_digest = action.digest;
        let result = mapping::result_for(&entry);
        let mut blobs: Vec<Blob> = Vec::with_capacity(4);
        blobs.push(entry);
        blobs.extend(action.blobs);
        let missing = self.find_missing(&blobs).await?;
        blobs.retain(|blob| missing.contains(&blob.digest));
        let (small, large): (Vec<Blob>, Vec<Blob>) = blobs.into_iter().partition(|blob| {
            u64::try_from(blob.digest.size_bytes).unwrap_or(u64::MAX) + BATCH_OVERHEAD
                <= capabilities.batch_limit
        });
        for batch in batches(small, capabilities.batch_limit) {
            self.batch_write(batch).await?;
        }
        for blob in large {
            self.stream_write(blob).await?;
        }
        self.clients
            .action_cache
            .clone()
            .update_action_result(UpdateActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action_digest),
                action_result: Some(result),
                digest_function: SHA256,
                ..UpdateActionResultRequest::default()
            })
            .await
            .map_err(call("UpdateActionResult"))?;
        Ok(Stored::Written)
    }

    async fn find_missing(&self, blobs: &[Blob]) -> Result<Vec<Digest>, Failure> {
        let reply = self
            .clients
            .cas
            .clone()
            .find_missing_blobs(FindMissingBlobsRequest {
                instance_name: self.instance.clone(),
                blob_digests: blobs.iter().map(|blob| blob.digest.clone()).collect(),
                digest_function: SHA256,
            })
            .await
            .map_err(call("FindMissingBlobs"))?;
        Ok(reply.into_inner().missing_blob_digests)
    }

    async fn batch_write(&self, blobs: Vec<Blob>) -> Result<(), Failure> {
        let reply = self
            .clients
            .cas
            .clone()
            .batch_update_blobs(BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests: blobs
                    .into_iter()
                    .map(|blob| batch_update_blobs_request::Request {
                        digest: Some(blob.digest),
                        data: blob.data,
                        ..batch_update_blobs_request::Request::default()
                    })
                    .collect(),
                digest_function: SHA256,
            })
            .await
            .map_err(call("BatchUpdateBlobs"))?;
        match reply
            .into_inner()
            .responses
            .into_iter()
            .find_map(|response| response.status.filter(|status| status.code != 0))
        {
            None => Ok(()),
            Some(status) => Err(Failure::Call {
                call: "BatchUpdateBlobs",
                status: tonic::Status::new(Code::from_i32(status.code), status.message),
            }),
        }
    }

    async fn stream_write(&self, blob: Blob) -> Result<(), Failure> {
        let sequence = self.uploads.fetch_add(1, Ordering::Relaxed);
        let resource = mapping::write_resource(
            &self.instance,
            &blob.digest,
            &mapping::upload_name(&blob.digest, sequence),
        );
        let size = blob.data.len();
        let data = Arc::new(blob.data);
        let chunks = (0..size.div_ceil(WRITE_CHUNK).max(1)).map(move |index| {
            let start = index * WRITE_CHUNK;
            let end = (start + WRITE_CHUNK).min(size);
            WriteRequest {
                // Only the first message needs to name the resource.
                resource_name: if index == 0 {
                    resource.clone()
                } else {
                    String::new()
                },
                write_offset: i64::try_from(start).unwrap_or(i64::MAX),
                finish_write: end == size,
                data: data[start..end].to_vec(),
            }
        });
        let reply = self
            .clients
            .byte_stream
            .clone()
            .write(futures::stream::iter(chunks))
            .await
            .map_err(call("ByteStream.Write"))?
            .into_inner();
        // A server that already holds the blob may answer early with its full size.
        if usize::try_from(reply.committed_size).ok() != Some(size) {
            return Err(Failure::Protocol(format!(
                "ByteStream.Write: committed {} of {size} bytes",
                reply.committed_size
            )));
        }
        Ok(())
    }
}

/// The blob's bytes if they are what its digest names.
fn check(digest: &Digest, bytes: Vec<u8>) -> Fetched {
    if mapping::matches(digest, &bytes) {
        Fetched::Found(bytes)
    } else {
        Fetched::Corrupt(format!(
            "the entry blob does not match its digest {}/{}",
            digest.hash, digest.size_bytes
        ))
    }
}

/// `blobs` in groups whose sizes stay within `limit` (with room for the request itself).
fn batches(blobs: Vec<Blob>, limit: u64) -> Vec<Vec<Blob>> {
    let mut groups: Vec<Vec<Blob>> = Vec::new();
    let mut total = u64::MAX;
    for blob in blobs {
        let size = u64::try_from(blob.digest.size_bytes).unwrap_or(u64::MAX);
        match groups.last_mut() {
            Some(group) if total.saturating_add(size) + BATCH_OVERHEAD <= limit => {
                total += size;
                group.push(blob);
            }
            _ => {
                total = size;
                groups.push(vec![blob]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_within_the_limit() {
        let blob = |size: usize| Blob::new(vec![7; size]);
        let limit = BATCH_OVERHEAD + 100;
        let groups = batches(vec![blob(60), blob(30), blob(20), blob(100)], limit);
        let sizes: Vec<Vec<usize>> = groups
            .iter()
            .map(|group| group.iter().map(|blob| blob.data.len()).collect())
            .collect();
        assert_eq!(sizes, [vec![60, 30], vec![20], vec![100]]);
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_corrupt() {
        let digest = mapping::digest_of(b"entry");
        assert!(matches!(
            check(&digest, b"entry".to_vec()),
            Fetched::Found(_)
        ));
        assert!(matches!(
            check(&digest, b"entrY".to_vec()),
            Fetched::Corrupt(_)
        ));
    }
}
