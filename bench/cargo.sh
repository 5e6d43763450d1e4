#!/usr/bin/env bash
# Rust benchmark: `cargo clean && cargo build` of a real dependency graph (bench/cargo-deps:
# serde with derive, serde_json, regex, memchr, itoa, log, anyhow and what they pull in), timed
#   plain  without a wrapper,
#   cold   through sccache with an empty cache (every cacheable crate a miss),
#   warm   through sccache again after `cargo clean` (every cacheable crate a hit: libraries,
#          proc-macros, build scripts and binaries),
# then the server's stats of the warm build (hits and misses by crate type, non-cacheable
# reasons, compilation failures).
#
# Usage: bench/cargo.sh [path/to/sccache]   (default: target/release/sccache, built if absent)
#
# Crates are fetched once from crates.io (`cargo fetch`); the builds themselves run offline.
# Builds use CARGO_INCREMENTAL=0 throughout, as sccache users do (incremental compiles are not
# cacheable), so the plain build is the fair comparison. The script uses a private cache
# directory, target directory and port, and stops its server at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sccache=${1:-$root/target/release/sccache}
if [ ! -x "$sccache" ]; then
    (cd "$root" && cargo build --release --quiet)
fi
sccache=$(cd "$(dirname "$sccache")" && pwd)/$(basename "$sccache")

work=$(mktemp -d)
export SCCACHE_DIR="$work/cache"
export SCCACHE_SERVER_UDS="$work/server.sock"
unset SCCACHE_SERVER_PORT
export SCCACHE_IDLE_TIMEOUT=600
export CARGO_TARGET_DIR="$work/target"
export CARGO_INCREMENTAL=0
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER SCCACHE_RECACHE
cleanup() {
    "$sccache" --stop-server >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

cp -r "$root/bench/cargo-deps" "$work/project"
cd "$work/project"
cargo fetch --quiet

# Times one `cargo clean && cargo build` with the given variables set, printing
# "<label> <seconds>". Warnings go nowhere: they are the same in every build.
timed_build() {
    local label=$1
    shift
    cargo clean --quiet
    local start end
    start=$(date +%s%N)
    env "$@" cargo build --offline --quiet 2>/dev/null
    end=$(date +%s%N)
    local millis=$(((end - start) / 1000000))
    printf '%-6s %3d.%02d s\n' "$label" $((millis / 1000)) $((millis % 1000 / 10))
}

echo "== $(rustc --version), $(nproc) cores, $(grep -c '^name' Cargo.lock) packages"
# A plain build first also warms the file system cache for the sources.
timed_build plain
timed_build plain
"$sccache" --start-server >/dev/null
timed_build cold RUSTC_WRAPPER="$sccache"
# Cache writes finish after each compile returns; let the last ones land.
sleep 1
"$sccache" --zero-stats >/dev/null
timed_build warm RUSTC_WRAPPER="$sccache"
timed_build warm RUSTC_WRAPPER="$sccache"
echo "== stats of the two warm builds (hits and misses by crate type; build scripts' failing"
echo "   feature probes count as compilation failures, never cached)"
"$sccache" --show-stats
