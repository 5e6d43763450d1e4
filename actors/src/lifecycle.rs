//! The lifecycle actor: when the server stops.
//!
//! Connections report when they open and close; the actor stops the system after
//! `SCCACHE_IDLE_TIMEOUT` without any connection, or shortly after a `Shutdown` request (the
//! delay lets the reply reach the client and pending cache writes finish). A `Shutdown` stops
//! the accept loop at once, so no new client reaches a server that is going away.

use actix::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How often the idle timeout is checked.
const IDLE_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// How long a requested shutdown waits for replies and pending writes.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1000);

pub struct Lifecycle {
    idle_timeout: Option<Duration>,
    open_connections: usize,
    last_activity: Instant,
    /// Notified on `Shutdown`; the accept loop stops listening.
    stop_accepting: Arc<Notify>,
}

impl Lifecycle {
    pub fn new(idle_timeout: Option<Duration>, stop_accepting: Arc<Notify>) -> Self {
        Lifecycle {
            idle_timeout,
            open_connections: 0,
            last_activity: Instant::now(),
            stop_accepting,
        }
    }
}

impl Actor for Lifecycle {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(timeout) = self.idle_timeout {
            ctx.run_interval(IDLE_CHECK_INTERVAL.min(timeout), move |actor, _| {
                if actor.open_connections == 0 && actor.last_activity.elapsed() >= timeout {
                    log::info!("idle for {timeout:?}; stopping");
                    System::current().stop();
                }
            });
        }
    }
}

/// A connection opened or closed.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Activity {
    Opened,
    Closed,
}

/// Stop the server (a client asked).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Activity> for Lifecycle {
    type Result = ();

    fn handle(&mut self, activity: Activity, _: &mut Context<Self>) {
        self.last_activity = Instant::now();
        match activity {
            Activity::Opened => self.open_connections += 1,
            Activity::Closed => self.open_connections = self.open_connections.saturating_sub(1),
        }
    }
}

impl Handler<Shutdown> for Lifecycle {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        log::info!("shutdown requested");
        // `notify_one` keeps the wake-up even if the accept loop is not waiting right now.
        self.stop_accepting.notify_one();
        ctx.run_later(SHUTDOWN_GRACE, |_, _| System::current().stop());
    }
}
