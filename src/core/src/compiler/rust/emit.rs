//! `EmitKind`: the outputs `--emit` asks for that the cache can store, below the parser's
//! modules that name them.

/// One kind of output `--emit` asks for, among those the cache can store. The order of the
/// variants is the order `emit` and `outputs` are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EmitKind {
    /// The crate itself: an `.rlib` or a static library.
    Link,
    /// The `.rmeta` metadata file.
    Metadata,
    /// The make-style `.d` dependency file.
    DepInfo,
}

impl EmitKind {
    /// The spelling rustc accepts after `--emit`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmitKind::Link => "link",
            EmitKind::Metadata => "metadata",
            EmitKind::DepInfo => "dep-info",
        }
    }
}
