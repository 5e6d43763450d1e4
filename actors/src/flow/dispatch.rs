//! Choosing the family of a compile: `decide` detects the compiler and has its family read the
//! command line; `execute` runs the accepted compile through the shared steps.
//!
//! This is the only file of the pipeline that names the families; they never import it.

use crate::detector::{CompilerInfo, Detect};
use crate::flow::c::CFamily;
use crate::flow::family::Family;
use crate::flow::request_env;
use crate::flow::rust::Rustc;
use crate::flow::rust_query;
use crate::flow::services::Services;
use crate::flow::steps::{self, Accepted, AfterReply};
use sccache_core::compiler::{CompilerKind, Parsed};
use sccache_core::protocol::{CompileFinished, CompileRequest};
use sccache_core::stats::Event;

/// Whether the server takes a compile.
pub enum Decision {
    /// Not something the server runs: the client runs the compiler itself.
    Unhandled,
    /// Not a compiler the server knows.
    Unsupported(String),
    /// A query answered without running the compiler (`rust_query`).
    Answered(CompileFinished),
    Accepted(Plan),
}

/// An accepted compile, by family.
pub enum Plan {
    C(Accepted<CFamily>),
    Rust(Accepted<Rustc>),
}

/// Detects the compiler and reads the command line.
pub async fn decide(services: &Services, mut request: CompileRequest) -> Decision {
    services.record(Event::CompileRequest);
    // Every process the server runs for this request gets the client's environment, minus what
    // only made sense in the client's process.
    request_env::drop_inherited_jobserver(&mut request.env);
    request_env::keep_first_settings(&mut request.env);
    let detected = services.detect.send(Detect {
        exe: request.exe.clone(),
        cwd: request.cwd.clone(),
        env: request.env.clone(),
    });
    if rust_query::is_query(&request.args) && !services.compilers_seen.contains(&request.exe) {
        // A new server's first queries (cargo's `-vV` and `--print` at a build's start) are run
        // by the client while the compiler is detected (a digest of the toolchain, ~150 MB),
        // as rustc's own answer; the build's first compiles then find it detected, or nearly.
        // Once it is, the query is answered here too, so that the next build finds its answer
        // remembered (`rust_query`), as if it had waited.
        let (background, query) = (services.detached(), request.clone());
        actix_rt::spawn(async move {
            if let Ok(Ok(Some(info))) = detected.await {
                background.compilers_seen.insert(&query.exe);
                if info.kind == CompilerKind::Rustc {
                    let _ = rust_query::answer(&background, &info, &query).await;
                }
            }
        });
        services.record(Event::NotCompilation);
        return Decision::Unhandled;
    }
    let info = match detected.await {
        Ok(Ok(Some(info))) => {
            services.compilers_seen.insert(&request.exe);
            info
        }
        Ok(Ok(None)) => {
            services.record(Event::UnsupportedCompiler);
            return Decision::Unsupported(format!("{:?} is not a known compiler", request.exe));
        }
        Ok(Err(error)) => {
            log::info!("cannot detect compiler: {error}");
            services.record(Event::UnsupportedCompiler);
            return Decision::Unsupported(error);
        }
        Err(error) => {
            log::warn!("detector unavailable: {error}");
            services.record(Event::NotCacheable("detector unavailable".to_owned()));
            return Decision::Unhandled;
        }
    };
    let plan = match info.kind {
        CompilerKind::Gcc | CompilerKind::Clang => {
            accept(services, info, request).await.map(Plan::C)
        }
        CompilerKind::Rustc => {
            // cargo's queries at the start of a build, answered without rustc when they can be.
            if let Some(finished) = rust_query::answer(services, &info, &request).await {
                services.record(Event::NotCompilation);
                return Decision::Answered(finished);
            }
            accept(services, info, request).await.map(Plan::Rust)
        }
    };
    match plan {
        Some(plan) => Decision::Accepted(plan),
        None => Decision::Unhandled,
    }
}

/// Runs an accepted compile: from the cache when it can, from the compiler when it must.
pub async fn execute(services: &Services, plan: Plan) -> (CompileFinished, AfterReply) {
    match plan {
        Plan::C(accepted) => steps::run(services, accepted).await,
        Plan::Rust(accepted) => steps::run(services, accepted).await,
    }
}

/// Has the family read the command line, off the event loop when that reads files. `None`
/// (counted) when the server does not take the compile.
async fn accept<F: Family>(
    services: &Services,
    info: CompilerInfo,
    mut request: CompileRequest,
) -> Option<Accepted<F>> {
    let parsed = if F::accept_reads_files(&request) {
        let read = tokio::task::spawn_blocking(move || {
            let parsed = F::accept(&mut request);
            (parsed, request)
        })
        .await;
        match read {
            Ok((parsed, read_request)) => {
                request = read_request;
                parsed
            }
            Err(error) => {
                // The request went with the task; the client compiles by itself.
                log::warn!("reading a command line failed: {error}");
                services.record(Event::NotCacheable("unreadable command line".to_owned()));
                return None;
            }
        }
    } else {
        F::accept(&mut request)
    };
    match parsed {
        Parsed::Cacheable(family) => Some(Accepted {
            info,
            family: Box::new(family),
            request,
        }),
        Parsed::NotCompilation => {
            services.record(Event::NotCompilation);
            None
        }
        Parsed::NotCacheable(reason) => {
            services.record(Event::NotCacheable(reason));
            None
        }
    }
}
