//! The rustc compile flow: STUB until rustc caching lands; runs the compile uncached.

use crate::compile::{compile_uncached, PendingStore, Services};
use crate::detector::CompilerInfo;
use sccache_core::compiler::rust::RustCompilation;
use sccache_core::protocol::{CompileFinished, CompileRequest};

pub async fn execute(
    services: &Services,
    _info: &CompilerInfo,
    _compilation: &RustCompilation,
    request: &CompileRequest,
) -> (CompileFinished, PendingStore) {
    (compile_uncached(services, request).await, None)
}
