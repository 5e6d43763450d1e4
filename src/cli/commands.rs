//! sccache's own flags: `--start-server`, `--stop-server`, `--show-stats`, `--zero-stats`.
//!
//! Each sends one request and prints the answer the way sccache does. `--zero-stats` starts a
//! server when none runs, as sccache's does; `--show-stats` shows zeros instead (a new server
//! would have nothing else to show), and `--stop-server` never starts one. An explicit
//! `--start-server` that does not end with an sccache server answering fails with sccache's
//! `Server startup failed: ...` (a compile's auto-start, in `compile`, falls back instead).
//! Errors are returned to `main`, which prints them and exits 2.

use crate::args::{Action, Cli};
use crate::client::{response_name, version_mismatch_message, Connection, ServerAddress};
use crate::spawn::{connect_or_start, start_server};
use crate::stats_view::{render, StatsFormat};
use anyhow::{anyhow, Context};
use clap::Parser;
use sccache_core::config::{env_flag, load_server_config, Backend};
use sccache_core::protocol::{Request, Response};
use sccache_core::stats::StatsReport;
use std::ffi::OsString;
use std::io::Write;
use std::time::{Duration, Instant};

/// How long a control request may wait for its answer; a server that takes longer is stuck.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `--stop-server` waits for the server to close its endpoint.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How long a server just started (or found holding the endpoint) may take to answer a stats
/// request before `--start-server` decides that what listens there is not an sccache server.
const STARTED_ANSWER_WAIT: Duration = Duration::from_secs(5);

/// Parses the flags and runs the action; returns the exit code.
pub fn run(argv: Vec<OsString>) -> anyhow::Result<i32> {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version print to stdout and exit 0; usage errors to stderr, exit 2.
            let _ = error.print();
            return Ok(error.exit_code());
        }
    };
    let action = cli.action();
    // A foreground server sets up its own log (to stderr); everything else logs as a client.
    if !(action == Action::StartServer && env_flag(&lookup, "SCCACHE_NO_DAEMON")) {
        crate::logging::init_client(lookup);
    }
    match action {
        Action::StartServer => start(),
        Action::StopServer => stop(cli.stats_format),
        Action::ShowStats => show_stats(cli.stats_format, false),
        Action::ShowAdvStats => show_stats(cli.stats_format, true),
        Action::ZeroStats => zero_stats(),
    }
}

fn lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn address() -> anyhow::Result<ServerAddress> {
    Ok(ServerAddress::from_env()?)
}

fn start() -> anyhow::Result<i32> {
    if env_flag(&lookup, "SCCACHE_NO_DAEMON") {
        return Ok(crate::server_entry::run_foreground());
    }
    let address = address()?;
    print_out("sccache: Starting the server...\n");
    start_server(&address, true).map_err(|error| anyhow!("Server startup failed: {error}"))?;
    // The endpoint may be held by another program: the spawned server then reports it taken
    // and the client finds something accepting there. Only an answer proves it is a server.
    let answered = Connection::open(&address)
        .map_err(anyhow::Error::from)
        .and_then(|mut connection| {
            connection.set_read_timeout(Some(STARTED_ANSWER_WAIT))?;
            Ok(connection.call(Request::GetStats)?)
        });
    match answered {
        Ok(Response::Stats(_)) => {
            log::debug!("a server answers on {address}");
            Ok(0)
        }
        Ok(other) => Err(anyhow!("Server startup failed: {}", unexpected(other))),
        Err(error) => Err(anyhow!(
            "Server startup failed: {address} is in use by something that does not answer \
             as an sccache server: {error:#}"
        )),
    }
}

fn stop(format: StatsFormat) -> anyhow::Result<i32> {
    let address = address()?;
    if format == StatsFormat::Text {
        // sccache's line; left out of JSON output so stdout stays one JSON document.
        print_out("Stopping sccache server...\n");
    }
    let mut connection =
        Connection::open(&address).with_context(|| format!("no server running on {address}"))?;
    let mut answer = call(&mut connection, Request::Shutdown)?;
    if let Response::VersionMismatch { .. } = answer {
        // A server of another version is what a user stops this way to replace it. One of an
        // older protocol cannot answer the TCP handshake, and closed the connection: it is
        // sent the token itself, if the port is this user's to listen on.
        connection = Connection::open(&address)
            .with_context(|| format!("no server running on {address}"))?;
        connection
            .set_read_timeout(Some(CONTROL_TIMEOUT))
            .context("cannot configure the connection")?;
        match connection.send_to_older_server(Request::Shutdown) {
            Ok(()) => answer = connection.receive()?,
            Err(error) => return Err(anyhow!("{}: {error}", unexpected(answer))),
        }
    }
    match answer {
        Response::ShuttingDown(report) => {
            print_out(&render(&report, format, false)?);
            // The server stops listening as soon as it gets the request. Wait for that, so
            // that once this command returns a new server (perhaps with other settings) can
            // start and no compile reaches the old one.
            drop(connection);
            wait_for_closed(&address, STOP_WAIT);
            Ok(0)
        }
        other => Err(unexpected(other)),
    }
}

fn show_stats(format: StatsFormat, advanced: bool) -> anyhow::Result<i32> {
    let address = address()?;
    log::debug!("asking the server on {address} for its stats");
    let report = match Connection::open(&address) {
        Ok(mut connection) => match call(&mut connection, Request::GetStats)? {
            Response::Stats(report) => *report,
            other => return Err(unexpected(other)),
        },
        Err(error) => {
            // As sccache does: a server started now would only have zeros to show.
            log::debug!("no server on {address} ({error}); showing empty stats");
            offline_report()?
        }
    };
    print_out(&render(&report, format, advanced)?);
    Ok(0)
}

/// The stats when no server runs: zeros, with the cache the settings name, read as a server
/// started now would read them (the environment, then the config file). Settings that a
/// server could not start with are an error here too, as in sccache.
fn offline_report() -> anyhow::Result<StatsReport> {
    let mut report = StatsReport {
        version: sccache_core::VERSION.to_owned(),
        ..StatsReport::default()
    };
    let (config, _) = load_server_config(&lookup)?;
    if matches!(config.backend, Backend::Disk) {
        report.cache_location = format!("Local disk: {:?}", config.cache_dir);
        report.max_cache_size = Some(config.cache_size);
    }
    Ok(report)
}

fn zero_stats() -> anyhow::Result<i32> {
    let mut connection = connect_or_start(&address()?)
        .map_err(|error| anyhow!("server failed to start: {error}"))?;
    match call(&mut connection, Request::ZeroStats)? {
        Response::ZeroedStats => {
            print_out("Statistics zeroed.\n");
            Ok(0)
        }
        other => Err(unexpected(other)),
    }
}

fn call(connection: &mut Connection, request: Request) -> anyhow::Result<Response> {
    connection
        .set_read_timeout(Some(CONTROL_TIMEOUT))
        .context("cannot configure the connection")?;
    Ok(connection.call(request)?)
}

/// Polls until nothing accepts at `address`, for up to `limit`.
fn wait_for_closed(address: &ServerAddress, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && Connection::open(address).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The error for an answer that does not fit the request.
fn unexpected(response: Response) -> anyhow::Error {
    match response {
        Response::VersionMismatch {
            server_version,
            protocol,
        } => anyhow!(version_mismatch_message(&server_version, protocol)),
        Response::Refused(message) => anyhow!("the server refused the request: {message}"),
        other => anyhow!("the server answered {}", response_name(&other)),
    }
}

/// Prints to stdout, ignoring a closed pipe (`sccache -s | head -1` is not an error).
fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_answers_read_clearly() {
        let error = unexpected(Response::Refused("bad token".into()));
        assert_eq!(
            error.to_string(),
            "the server refused the request: bad token"
        );
        let error = unexpected(Response::ZeroedStats);
        assert_eq!(error.to_string(), "the server answered ZeroedStats");
    }

    #[test]
    fn usage_errors_exit_2_and_help_exits_0() {
        let code = run(vec!["sccache".into(), "--no-such-flag".into()]).unwrap();
        assert_eq!(code, 2);
    }
}
