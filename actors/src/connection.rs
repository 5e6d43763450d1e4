//! The connection actor: one per client connection.
//!
//! It reads length-delimited frames (within the request limits of `read_budget`), checks the
//! protocol version and credential of each request (over TCP, the proof agreed in a `Hello`
//! handshake, `sccache_core::handshake`), and answers: stats requests itself (from the stats
//! actor and the backend), compile requests through the compile flow, whose large output goes
//! out in chunks. A malformed or oversized frame closes this connection
//! only; the server keeps serving everyone else. The cache write of a miss is sent after the
//! client's `CompileFinished` is queued, so the client never waits for it. When the client goes
//! (its socket closed or broken), the compiles it asked for are interrupted and write none of
//! its files (`Services::client_gone`).

use crate::flow::{self, Decision, Services};
use crate::jobserver::Jobserver;
use crate::lifecycle::{Activity, Shutdown};
use crate::passed_fds::Passed;
use crate::read_budget::{BudgetedCodec, ReadBudget};
use crate::stats::{Snapshot, Zero};
use crate::storage::Describe;
use actix::io::{FramedWrite, WriteHandler};
use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use sccache_core::access::credentials_match;
use sccache_core::framing::MAX_FRAME_LEN;
use sccache_core::handshake;
use sccache_core::protocol::{self, Envelope, ProtocolError, Request, Response};
use sccache_core::stats::{CacheMode, Stats, StatsReport};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

/// The recipients a connection needs beyond the compile flow.
#[derive(Clone)]
pub struct Control {
    pub snapshot: Recipient<Snapshot>,
    pub zero: Recipient<Zero>,
    pub describe: Recipient<Describe>,
    pub shutdown: Recipient<Shutdown>,
    pub activity: Recipient<Activity>,
    /// The credential a client must present; empty when the transport already proves who the
    /// client is.
    pub token: Arc<str>,
    /// The bound on request bytes being read over all connections.
    pub read_budget: Arc<ReadBudget>,
}

type Writer = Box<dyn AsyncWrite + Unpin>;

pub struct Connection {
    writer: FramedWrite<Bytes, Writer, LengthDelimitedCodec>,
    services: Services,
    control: Control,
    /// Requests being worked on; the actor outlives the client's half-close until they finish.
    in_flight: usize,
    client_gone: bool,
    /// Over TCP, after `Hello`: the proof the client's requests carry in place of the token.
    client_proof: Option<String>,
    /// Over a Unix socket: the descriptors the client passed (its jobserver), taken with its
    /// compile request.
    passed: Option<Passed>,
}

/// The codec of responses; it refuses frames over the shared limit.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(sccache_core::framing::LENGTH_FIELD_BYTES)
        .max_frame_length(MAX_FRAME_LEN)
        .big_endian()
        .new_codec()
}

impl Connection {
    /// Starts an actor serving one accepted stream; `passed` holds what a Unix socket's client
    /// passes with its requests (`passed_fds`).
    pub fn serve<S>(
        stream: S,
        mut services: Services,
        control: Control,
        passed: Option<Passed>,
    ) -> Addr<Connection>
    where
        S: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        // This client's own token: its compiles stop when it goes.
        services.client_gone = tokio_util::sync::CancellationToken::new();
        let (read_half, write_half) = tokio::io::split(stream);
        Connection::create(move |ctx| {
            let requests = BudgetedCodec::new(control.read_budget.clone());
            ctx.add_stream(FramedRead::new(read_half, requests));
            let writer: Writer = Box::new(write_half);
            Connection {
                writer: FramedWrite::new(writer, codec(), ctx),
                services,
                control,
                in_flight: 0,
                client_gone: false,
                client_proof: None,
                passed,
            }
        })
    }

    fn reply(&mut self, response: &Response) {
        match protocol::encode(response) {
            Ok(bytes) => self.writer.write(Bytes::from(bytes)),
            Err(error) => log::error!("cannot encode a response: {error}"),
        }
    }

    /// Replies with a compile's result: large output in chunks, so no frame nears the limit,
    /// announced by `CompileStarted` (the one answer that needs it).
    fn reply_finished(&mut self, finished: sccache_core::protocol::CompileFinished) {
        let frames = protocol::finished_in_frames(finished);
        if frames.chunked() {
            self.reply(&Response::CompileStarted);
        }
        for frame in frames {
            self.reply(&frame);
        }
    }

    /// Replies, then closes the connection once the reply is written.
    fn reply_and_close(&mut self, response: &Response) {
        self.reply(response);
        self.writer.close();
    }

    fn begin(&mut self) {
        self.in_flight += 1;
    }

    /// The client will read nothing more: stop now if nothing is in flight, else when the last
    /// request ends.
    fn client_left(&mut self, ctx: &mut Context<Self>) {
        self.client_gone = true;
        self.services.client_gone.cancel();
        if self.in_flight == 0 {
            ctx.stop();
        }
    }

    /// Marks a request done; stops the actor if the client has gone and nothing else is left.
    fn end(&mut self, ctx: &mut Context<Self>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.client_gone && self.in_flight == 0 {
            ctx.stop();
        }
    }

    /// Answers a TCP client's `Hello` with this server's nonce and proof of the token, and
    /// remembers the proof its requests must carry (see `sccache_core::handshake`).
    fn answer_hello(&mut self, client_nonce: &[u8]) {
        if self.control.token.is_empty() || client_nonce.len() != handshake::NONCE_LEN {
            self.reply_and_close(&Response::Refused("unexpected handshake".into()));
            return;
        }
        let nonce = match handshake::nonce() {
            Ok(nonce) => nonce,
            Err(error) => {
                log::error!("{error}");
                self.reply_and_close(&Response::Refused(error.to_string()));
                return;
            }
        };
        let token = &self.control.token;
        let proof = handshake::server_proof(token, client_nonce, &nonce);
        self.client_proof = Some(handshake::client_proof(token, client_nonce, &nonce));
        self.reply(&Response::Challenge { nonce, proof });
    }

    /// Whether a request's credential is good: the proof after a handshake, or the token
    /// itself (which only a client that already trusts this server sends, e.g. a
    /// `--stop-server` of another version).
    fn credential_is_good(&self, presented: &str) -> bool {
        let token = &self.control.token;
        token.is_empty()
            || credentials_match(presented, token)
            || (self.client_proof.as_deref())
                .is_some_and(|proof| credentials_match(presented, proof))
    }

    fn handle_request(&mut self, envelope: Envelope, ctx: &mut Context<Self>) {
        if let Request::Hello { nonce } = &envelope.request {
            self.answer_hello(nonce);
            return;
        }
        if !self.credential_is_good(&envelope.token) {
            log::warn!("refused a request with a wrong credential");
            self.reply_and_close(&Response::Refused("wrong credential".into()));
            return;
        }
        match envelope.request {
            // Answered above, before any credential is due.
            Request::Hello { .. } => {}
            Request::Compile(request) => self.handle_compile(request, ctx),
            Request::GetStats => {
                self.begin();
                let report = report(self.control.clone(), self.services.direct);
                ctx.spawn(report.into_actor(self).map(|report, actor, ctx| {
                    actor.reply(&Response::Stats(Box::new(report)));
                    actor.end(ctx);
                }));
            }
            Request::ZeroStats => {
                self.control.zero.do_send(Zero);
                self.reply(&Response::ZeroedStats);
            }
            Request::Shutdown => {
                self.begin();
                let report = report(self.control.clone(), self.services.direct);
                ctx.spawn(report.into_actor(self).map(|report, actor, ctx| {
                    actor.reply_and_close(&Response::ShuttingDown(Box::new(report)));
                    actor.control.shutdown.do_send(Shutdown);
                    actor.end(ctx);
                }));
            }
        }
    }

    fn handle_compile(
        &mut self,
        request: sccache_core::protocol::CompileRequest,
        ctx: &mut Context<Self>,
    ) {
        self.begin();
        let received = std::time::Instant::now();
        // Until its answer, the client hears every `KEEPALIVE` that the compile is under way
        // (a hit's answer comes long before the first).
        let keepalive = ctx.run_interval(protocol::KEEPALIVE, |actor, _| {
            actor.reply(&Response::Working)
        });
        if let Some(passed) = &self.passed {
            self.services.jobserver =
                Jobserver::from_passed(passed.take(), &request.env).map(Arc::new);
        }
        let services = self.services.clone();
        let decided = async move { flow::decide(&services, request).await };
        ctx.spawn(decided.into_actor(self).then(move |decision, actor, ctx| {
            let plan = match decision {
                Decision::Unhandled => {
                    ctx.cancel_future(keepalive);
                    actor.reply(&Response::UnhandledCompile);
                    actor.end(ctx);
                    return Box::pin(fut::ready(())) as ResponseActFuture<Self, ()>;
                }
                Decision::Unsupported(reason) => {
                    ctx.cancel_future(keepalive);
                    actor.reply(&Response::UnsupportedCompiler(reason));
                    actor.end(ctx);
                    return Box::pin(fut::ready(())) as ResponseActFuture<Self, ()>;
                }
                Decision::Answered(finished) => {
                    ctx.cancel_future(keepalive);
                    actor.reply_finished(finished);
                    actor.end(ctx);
                    return Box::pin(fut::ready(())) as ResponseActFuture<Self, ()>;
                }
                Decision::Accepted(plan) => plan,
            };
            // No `CompileStarted` yet: a hit's answer follows within a millisecond, and
            // waking the client for a frame it only skips cost a hit ~0.05 ms. It goes
            // ahead of output sent in chunks, the one answer that needs it.
            log::debug!("compile taken {:?} after its request", received.elapsed());
            let services = actor.services.clone();
            let executed = async move { flow::execute(&services, plan).await };
            Box::pin(
                executed
                    .into_actor(actor)
                    .map(move |(finished, after), actor, ctx| {
                        ctx.cancel_future(keepalive);
                        actor.reply_finished(finished);
                        log::debug!(
                            "compile answered {:?} after its request",
                            received.elapsed()
                        );
                        // After the reply: the client waits neither for the write nor for
                        // the scratch file's removal.
                        if let Some(store) = after.store {
                            actor.services.storage.store.do_send(store);
                        }
                        // Not tied to this connection's actor, which ends now.
                        if let Some(follow_up) = after.follow_up {
                            actix::spawn(follow_up);
                        }
                        remove_after_flush(after.scratch);
                        actor.end(ctx);
                    }),
            )
        }));
    }
}

/// Removes the scratch file once the reply has left. The writer sends a queued frame only when
/// this actor is next polled, after the current handler returns; removing a 200 KB file from
/// tmpfs here would come first. A task of its own that yields once runs after that.
fn remove_after_flush(scratch: Option<tempfile::TempPath>) {
    if let Some(scratch) = scratch {
        tokio::task::spawn_local(async move {
            tokio::task::yield_now().await;
            drop(scratch);
        });
    }
}

/// Gathers the counters and the backend's description into a report.
async fn report(control: Control, direct: bool) -> StatsReport {
    let stats = control
        .snapshot
        .send(Snapshot)
        .await
        .unwrap_or_else(|error| {
            log::warn!("stats unavailable: {error}");
            Stats::default()
        });
    let description = control.describe.send(Describe).await.unwrap_or_default();
    let mut stats = stats;
    // A chain's levels say where they are; the counters only know their names.
    for (level, described) in stats
        .multi_level
        .iter_mut()
        .flatten()
        .zip(&description.levels)
    {
        level.location = described.location.clone();
    }
    StatsReport {
        stats,
        cache_location: description.location,
        cache_size: description.size,
        max_cache_size: description.max_size,
        size_note: description.note,
        version: sccache_core::VERSION.to_owned(),
        // sccache's name for direct mode.
        use_preprocessor_cache_mode: direct,
        basedirs: Vec::new(),
        effective_cache_mode: Some(if description.read_only {
            CacheMode::ReadOnly
        } else {
            CacheMode::ReadWrite
        }),
        pid: std::process::id(),
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.control.activity.do_send(Activity::Opened);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.control.activity.do_send(Activity::Closed);
    }
}

impl StreamHandler<Result<BytesMut, std::io::Error>> for Connection {
    fn handle(&mut self, frame: Result<BytesMut, std::io::Error>, ctx: &mut Context<Self>) {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                // A client that went away (or sent what is no frame) gets nothing more; its
                // compiles are interrupted, and the actor stops once they have ended.
                log::warn!("closing a connection: {error}");
                self.writer.close();
                self.client_left(ctx);
                return;
            }
        };
        match protocol::decode_envelope(&frame) {
            Ok(envelope) => self.handle_request(envelope, ctx),
            Err(ProtocolError::VersionMismatch { client, server }) => {
                log::warn!("client speaks protocol {client}, this server {server}");
                if let Some(token) = protocol::shutdown_of_any_version(&frame) {
                    // `--stop-server` must work across versions: it is how a user replaces a
                    // server of another version.
                    let envelope = Envelope {
                        version: server,
                        token,
                        request: Request::Shutdown,
                    };
                    self.handle_request(envelope, ctx);
                    return;
                }
                self.reply_and_close(&Response::VersionMismatch {
                    server_version: sccache_core::VERSION.to_owned(),
                    protocol: server,
                });
            }
            Err(error) => {
                log::warn!("closing a connection: {error}");
                self.reply_and_close(&Response::Refused(format!("unreadable request: {error}")));
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The client closed its side: its compiles in flight are interrupted (they write
        // none of its files now); the actor stops when the last of them ends.
        self.client_left(ctx);
    }
}

impl WriteHandler<std::io::Error> for Connection {
    fn error(&mut self, error: std::io::Error, _: &mut Context<Self>) -> Running {
        log::debug!("cannot write to a client: {error}");
        self.client_gone = true;
        self.services.client_gone.cancel();
        // Stopping now would drop the compiles in flight before their processes are
        // interrupted and waited for.
        if self.in_flight > 0 {
            Running::Continue
        } else {
            Running::Stop
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The writer was closed after a last reply; compiles in flight still finish.
        self.client_left(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn the_scratch_file_is_removed_after_the_current_task_yields() {
        let scratch = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let path = scratch.to_path_buf();
        remove_after_flush(Some(scratch));
        // Not yet: the handler that queued the reply is still running.
        assert!(path.exists());
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        assert!(!path.exists());
    }
}
