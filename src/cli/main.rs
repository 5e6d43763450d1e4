//! The `sccache` binary: a compiler wrapper that runs compiles through the cache server, the
//! commands that manage that server, and the server itself when spawned to be it.
//!
//! `main` only dispatches and maps errors to an exit code (errors print as `sccache: ...` and
//! exit 2). Boundary: no cache logic lives here; the client sends requests and replays answers,
//! and the server is `sccache_actors::server`.
//!
//! Codemap: `args` (what was asked), `compile` (compile mode), `resolve` (finding the compiler),
//! `client` (one connection), `spawn` (starting the daemon), `fallback` (running the compiler
//! here, exit statuses), `commands` (sccache's flags), `stats_view` (rendering stats),
//! `server_entry` (being the server).

mod args;
mod client;
mod commands;
mod compile;
mod fallback;
mod resolve;
mod server_entry;
mod spawn;
mod stats_view;

use args::Invocation;

fn main() {
    let code = match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sccache: {error:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run() -> anyhow::Result<i32> {
    if server_entry::requested() {
        return Ok(server_entry::run_daemon());
    }
    match args::classify(std::env::args_os().collect()) {
        Invocation::Compile { compiler, args } => compile::run(compiler, args),
        Invocation::Command(argv) => commands::run(argv),
    }
}
