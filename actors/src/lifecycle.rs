//! The lifecycle actor: when the server stops.
//!
//! Connections report when they open and close; the actor stops the system after
//! `SCCACHE_IDLE_TIMEOUT` without any connection, or shortly after a `Shutdown` request (the
//! delay lets the reply reach the client and pending cache writes finish).

use actix::prelude::*;
use std::time::{Duration, Instant};

/// How often the idle timeout is checked.
const IDLE_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// How long a requested shutdown waits for replies and pending writes.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);

pub struct Lifecycle {
    idle_timeout: Option<Duration>,
    open_connections: usize,
    last_activity: Instant,
}

impl Lifecycle {
    pub fn new(idle_timeout: Option<Duration>) -> Self {
        Lifecycle {
            idle_timeout,
            open_connections: 0,
            last_activity: Instant::now(),
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
        ctx.run_later(SHUTDOWN_GRACE, |_, _| System::current().stop());
    }
}
