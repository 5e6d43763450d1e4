//! What `--show-stats` says of Redis: its location, the memory it uses (`INFO memory`, field
//! `used_memory`) and its limit (`CONFIG GET maxmemory`), summed over the primary nodes of a
//! cluster.
//!
//! A Redis that refuses `CONFIG` (renamed away, or an ACL) still reports its size; a limit of 0
//! means none, so no maximum is shown, with a note saying why. Boundary: it only reads; it never
//! changes Redis's configuration.

use super::link::breaks_connection;
use super::{Failure, RedisStorage};
use crate::storage::{Describe, Description};
use actix::prelude::*;
use redis::Value;
use std::collections::HashMap;

impl Handler<Describe> for RedisStorage {
    type Result = ResponseActFuture<Self, Description>;

    fn handle(&mut self, _: Describe, ctx: &mut Context<Self>) -> Self::Result {
        let location = self.outage.location().to_string();
        let read_only = self.read_only;
        let measure = self.with_connection(ctx, |mut connection| async move {
            let info = redis::cmd("INFO").arg("memory").clone();
            let replies = connection
                .query_primaries(&info)
                .await
                .map_err(Failure::Command)?;
            let used = sum_used_memory(&replies);
            let config_get = redis::cmd("CONFIG").arg("GET").arg("maxmemory").clone();
            let max = match connection.query_primaries(&config_get).await {
                Ok(replies) => sum_maxmemory(&replies),
                Err(error) if breaks_connection(&error) => return Err(Failure::Command(error)),
                Err(error) => {
                    log::debug!("CONFIG GET maxmemory refused: {error}");
                    Err("Redis refused CONFIG GET maxmemory".to_owned())
                }
            };
            Ok((used, max))
        });
        Box::pin(measure.map(move |result, _, _| match result {
            Ok((used, Ok(max))) => Description {
                location,
                size: used,
                max_size: max,
                note: match (used, max) {
                    (_, None) => Some("Redis maxmemory is not set (0)".to_owned()),
                    (None, _) => Some("Redis did not report used_memory".to_owned()),
                    _ => None,
                },
                read_only,
                levels: Vec::new(),
            },
            Ok((used, Err(note))) => Description {
                location,
                size: used,
                max_size: None,
                note: Some(note),
                read_only,
                levels: Vec::new(),
            },
            Err(failure) => Description {
                location,
                size: None,
                max_size: None,
                note: Some(format!("Redis is unreachable: {failure}")),
                read_only,
                levels: Vec::new(),
            },
        }))
    }
}

/// The total `used_memory` of `INFO memory` replies (one per primary node).
pub(super) fn sum_used_memory(replies: &[Value]) -> Option<u64> {
    replies.iter().try_fold(0u64, |total, reply| {
        let text: String = redis::from_redis_value(reply).ok()?;
        let used = text.lines().find_map(|line| {
            line.trim()
                .strip_prefix("used_memory:")?
                .parse::<u64>()
                .ok()
        })?;
        Some(total.saturating_add(used))
    })
}

/// The total `maxmemory` of `CONFIG GET maxmemory` replies (one per primary node): `None` when
/// any node has no limit (0), since the total is then unlimited; an error note when a reply is
/// unreadable.
pub(super) fn sum_maxmemory(replies: &[Value]) -> Result<Option<u64>, String> {
    let unreadable = || "Redis sent an unreadable maxmemory".to_owned();
    let mut total = 0u64;
    for reply in replies {
        let pairs: Vec<(String, String)> = match reply {
            Value::Map(_) => redis::from_redis_value::<HashMap<String, String>>(reply)
                .map(|pairs| pairs.into_iter().collect()),
            _ => redis::from_redis_value(reply),
        }
        .map_err(|_| unreadable())?;
        let max = pairs
            .iter()
            .find(|(name, _)| name == "maxmemory")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .ok_or_else(unreadable)?;
        if max == 0 {
            return Ok(None);
        }
        total = total.saturating_add(max);
    }
    Ok(Some(total))
}
