//! The `sccache` binary: a compiler wrapper that runs compiles through the cache server, the
//! commands that manage that server, and the server itself when spawned to be it.
//!
//! `main` only dispatches and maps errors to an exit code (errors print as `sccache: ...` and
//! exit 2). Boundary: no cache logic lives here; the client sends requests and replays answers,
//! and the server is `sccache_actors::server`.
//!
//! Codemap: `args` (what was asked), `compile` (compile mode), `resolve` (finding the compiler),
//! `local_inputs` (inputs only this process can read), `client` (one connection), `spawn`
//! (starting the daemon), `fallback` (running the compiler here, exit statuses), `commands`
//! (sccache's flags), `stats_view` (rendering stats), `server_entry` (being the server),
//! `logging` (its log, secrets kept out), `process_start` (what Rust's runtime would set up),
//! `sys` (the system calls no safe wrapper offers), `musl_mem` (the musl build's `memcmp`).

// The entry point is `main` below, without Rust's runtime setup: see `process_start`. (Test
// builds keep the test harness's own. Only with glibc, which hands std the arguments itself.)
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

mod args;
mod client;
mod commands;
mod compile;
mod fallback;
mod jobserver;
mod listener_owner;
mod local_inputs;
mod logging;
mod musl_mem;
mod process_start;
mod resolve;
mod server_entry;
mod spawn;
mod stats_view;
mod sys;
mod tcp_peer;

use args::Invocation;

/// With musl (`cargo build-static`), mimalloc: musl's allocator made the server's hits ~10 %
/// costlier in CPU than glibc's; mimalloc's start costs a client ~0.04 ms (bench/README.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The process's entry point, called by the C library with the arguments, which std reads
/// for itself.
#[cfg(all(not(test), target_env = "gnu"))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    start()
}

/// Elsewhere, Rust's own entry point, around the same start.
#[cfg(all(not(test), not(target_env = "gnu")))]
fn main() {
    start()
}

/// Prepares the process, runs what was asked, and exits with its code through
/// `std::process::exit`, which flushes std's buffered output as returning from a Rust `main`
/// would. A panic ends it as Rust's runtime would: its message printed (by the panic hook),
/// exit code 101. (Unused in test builds, whose entry point is the test harness.)
#[cfg_attr(test, allow(dead_code))]
fn start() -> ! {
    process_start::prepare();
    let code = match std::panic::catch_unwind(run) {
        Ok(Ok(code)) => code,
        Ok(Err(error)) => {
            eprintln!("sccache: {error:#}");
            2
        }
        Err(_) => 101,
    };
    std::process::exit(code);
}

fn run() -> anyhow::Result<i32> {
    if sccache_actors::reaper::requested() {
        return Ok(sccache_actors::reaper::run());
    }
    if server_entry::requested() {
        return Ok(server_entry::run_daemon());
    }
    match args::classify(std::env::args_os().collect()) {
        Invocation::Compile { compiler, args } => {
            logging::init_client(|name| std::env::var(name).ok());
            compile::run(compiler, args)
        }
        Invocation::Command(argv) => commands::run(argv),
    }
}
