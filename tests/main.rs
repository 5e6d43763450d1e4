//! The integration suite: one test binary, so the harness links once.
//!
//! Every test starts its own sccache server on a free loopback port with its own cache
//! directory, compiles real sources with real compilers, and stops what it started.

mod harness;

mod abandoned;
mod access;
mod c_cache;
mod c_debug_columns;
mod c_depend;
mod c_direct;
mod c_direct_review;
mod c_direct_search_edges;
mod c_toolchain;
mod c_unseen_reads;
mod c_wrong_hits;
mod changed_during_compile;
mod config_file;
mod daemon;
mod dropin;
mod faults;
mod hostile;
#[cfg(any(feature = "redis", feature = "s3", feature = "reapi"))]
mod levels;
mod privacy;
#[cfg(feature = "reapi")]
mod reapi;
#[cfg(feature = "redis")]
mod redis;
mod rust_cache;
mod rust_crates;
mod rust_direct;
mod rust_failures;
mod rust_jobserver;
mod rust_link_env;
mod rust_link_inputs;
mod rust_native;
mod rust_proc_macros_loaded;
mod rust_queries;
mod rust_restore;
#[cfg(feature = "s3")]
mod s3;
mod swapped_during_compile;
mod terminal;
mod tidy;
mod umask;
mod unseen_inputs;
mod wire;
