//! The sccache server: actix actors for connections, compiler detection, hashing, the
//! compile-process pool, stats and storage, and the assembly that wires them (`server`).
//!
//! Boundary: the domain logic (what is cacheable, what goes into a key, the entry format)
//! lives in `sccache_core`; these actors move messages, run processes and touch storage.
//! See docs/ARCHITECTURE.md for the message table.

pub mod c_memos;
pub mod close_watch;
pub mod connection;
pub mod content_copy;
pub mod detector;
pub mod digest_memo;
pub mod dispatcher;
pub mod driver_probe;
pub mod file_stamp;
pub mod file_system;
pub mod flow;
pub mod hasher;
pub mod jobserver;
pub mod library_scan;
pub mod lifecycle;
pub mod linker_probe;
pub mod listener;
pub mod manifest_files;
pub mod manifest_memo;
pub mod manifest_record;
pub mod native_cpus;
pub mod outputs;
pub mod passed_fds;
pub mod private_dir;
pub mod query_answers;
pub mod read_budget;
pub mod reaper;
pub mod remembered;
pub mod rust_manifest_files;
pub mod scratch;
pub mod script_env;
pub mod server;
pub mod server_error;
pub mod stats;
pub mod storage;
pub mod sys;
