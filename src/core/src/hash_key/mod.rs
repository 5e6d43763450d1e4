//! The hash key: the one place that decides what goes into a cache key.
//!
//! A key is a SHA-256 over labelled, length-prefixed fields, so that no two different inputs
//! can produce the same byte stream. Everything that can change a compiler's output must reach
//! the key through a function here; anything left out is a way for a hit to be wrong.
//! Invariant: the output locations of a compile are not in the key (a compile to another
//! directory shares the entry), except where a compiler writes an output's name into an output.

mod c;
mod link;
mod rust;
mod writer;

pub use c::{c_key, manifest_key, manifest_key_without_input, ManifestKeyPart};
pub use link::{write_link, LinkInputs};
pub use rust::{rust_env_in_key, rust_key, rust_manifest_key, RustInputs};
pub use writer::*;
