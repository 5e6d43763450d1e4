//! The format versions of direct mode's manifests. Both the manifests (`direct`) and their keys
//! (`hash_key`) take them, so a manifest of another format is never found, let alone read, as
//! this one. A leaf module, so that neither of those two depends on the other for it.

/// The C/C++ manifest's format (`direct::Manifest`).
pub const C: u32 = 3;

/// The rust manifest's format (`direct::rust`). 3: env-deps by the digest of their value. 4:
/// the objects rustc loaded (its proc macros) among a record's crates; a record of 3 lacks
/// them and would hold when one changed.
pub const RUST: u32 = 4;
