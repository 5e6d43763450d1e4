//! The compile pipeline: one sequence of steps for every compiler family.
//!
//! ```text
//! decide   detect (Detector), parse (the family's `accept`)     dispatch.rs
//! execute  key (the family's `key`: preprocess or dep-info,     steps.rs::run
//!          digests, hash_key; may look up early)
//!          lookup (storage), restore or compile, collect        steps.rs::serve
//!          reply, then the store and the clean-up               connection.rs, with AfterReply
//! ```
//!
//! A family plugs in through the `Family` trait (`family.rs`): how it reads a command line,
//! where its outputs go, how it keys a compile and how its entries are adapted on their way
//! into and out of the cache. `steps.rs` runs the shared steps and never names a family;
//! `dispatch.rs` is the only file that chooses one (`c.rs`, `rust.rs`), by what the Detector
//! found. The families import from the shared modules below them (`services`, `family`,
//! `request_env`, `steps`), never from `dispatch`. Nothing here fails a build: every cache
//! problem ends in running the real compiler.

pub mod anchor_dirs;
pub mod c;
pub mod c_colour;
pub mod c_depend;
pub mod c_direct;
pub mod c_search;
pub mod dispatch;
pub mod env_dep_values;
pub mod family;
pub mod loaded_objects;
pub mod out_dir;
pub mod read_since;
pub mod request_env;
pub mod rust;
pub mod rust_direct;
pub mod rust_link;
pub mod rust_query;
pub mod services;
pub mod settled_path;
pub mod started;
pub mod steps;

pub use dispatch::{decide, execute, Decision, Plan};
pub use services::Services;
pub use steps::AfterReply;
