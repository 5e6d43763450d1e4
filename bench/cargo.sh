#!/usr/bin/env bash
# Rust benchmark: `cargo clean && cargo build` of a real dependency graph (bench/cargo-deps:
# serde with derive, serde_json, regex, memchr, itoa, log, anyhow and what they pull in), timed
#   plain         without a wrapper,
#   cold-dep-info through sccache with SCCACHE_DIRECT=false and an empty cache (a dep-info run
#                 of rustc, then the compile, for every cacheable crate),
#   warm-dep-info the same again after `cargo clean` (a dep-info run per hit),
#   cold-direct   through sccache in direct mode with another empty cache (the compile alone;
#                 the key from the dep-info it writes; a linking compile's crates listed by a
#                 dep-info run after its reply),
#   warm-direct   the same again (a manifest's record checked per hit: no rustc),
# every cacheable crate counted: libraries, proc-macros, build scripts, binaries,
# in rounds, interleaved, so that the machine's load reaches every variant alike. Every build
# runs rustc through a logging stand-in (RUSTC=), and prints how many rustc processes compiled
# (`--crate-name` on the command line, dep-info runs included; after a cold build, also those
# started after the build ended: direct mode's dep-info runs of linking compiles, which follow
# their replies). Then the server's stats of the last warm direct build: hits and misses by
# crate type, non-cacheable reasons, compilation failures.
#
# Usage: bench/cargo.sh [path/to/sccache] [rounds]   (default: target/release/sccache, built
# if absent; 2 rounds)
#
# Crates are fetched once from crates.io (`cargo fetch`); the builds themselves run offline.
# Builds use CARGO_INCREMENTAL=0 throughout, as sccache users do (incremental compiles are not
# cacheable), so the plain build is the fair comparison. The script uses private cache
# directories, target directory and socket, and stops its server at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sccache=${1:-$root/target/release/sccache}
rounds=${2:-2}
if [ ! -x "$sccache" ]; then
    (cd "$root" && cargo build --release --quiet)
fi
sccache=$(cd "$(dirname "$sccache")" && pwd)/$(basename "$sccache")

work=$(mktemp -d)
export SCCACHE_SERVER_UDS="$work/server.sock"
unset SCCACHE_SERVER_PORT
export SCCACHE_IDLE_TIMEOUT=600
export CARGO_TARGET_DIR="$work/target"
export CARGO_INCREMENTAL=0
unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER SCCACHE_RECACHE SCCACHE_DIRECT
cleanup() {
    "$sccache" --stop-server >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The logging rustc: one line per process, then the real rustc.
real_rustc=$(command -v rustc)
export RUSTC="$work/rustc-logging"
printf '#!/bin/sh\necho "$*" >> "%s"\nexec "%s" "$@"\n' "$work/rustc.log" "$real_rustc" >"$RUSTC"
chmod +x "$RUSTC"
touch "$work/rustc.log"

cp -r "$root/bench/cargo-deps" "$work/project"
cd "$work/project"
cargo fetch --quiet

compiles() {
    grep -c -- '--crate-name' "$work/rustc.log" || true
}

# Times one `cargo clean && cargo build` with the given variables set, printing
# "<label> <seconds> <rustc processes>". Warnings go nowhere: they are the same in every build.
timed_build() {
    local label=$1
    shift
    cargo clean --quiet
    local before start end
    before=$(compiles)
    start=$(date +%s%N)
    env "$@" cargo build --offline --quiet 2>/dev/null
    end=$(date +%s%N)
    local millis=$(((end - start) / 1000000))
    ended=$(compiles)
    printf '%-14s %3d.%02d s  %3d rustc processes\n' "$label" $((millis / 1000)) \
        $((millis % 1000 / 10)) $((ended - before))
}

# Lets a cold build's last work after the replies land (cache writes; in direct mode the
# dep-info runs that list a linking compile's crates), then prints the rustc processes
# started since the build ended.
settle() {
    sleep 3
    printf '%-14s %3d rustc processes after the build (after the replies)\n' "  +after" \
        $(($(compiles) - ended))
}

# Starts the server on the cache directory $1 with SCCACHE_DIRECT=$2.
start_server() {
    "$sccache" --stop-server >/dev/null 2>&1 || true
    SCCACHE_DIR="$1" SCCACHE_DIRECT="$2" "$sccache" --start-server >/dev/null
}

echo "== $(rustc --version), $(nproc) cores, $(grep -c '^name' Cargo.lock) packages"
# A plain build first also warms the file system cache for the sources.
timed_build plain
for round in $(seq "$rounds"); do
    echo "-- round $round"
    timed_build plain
    rm -rf "$work/cache-dep-info" "$work/cache-direct"
    start_server "$work/cache-dep-info" false
    timed_build cold-dep-info RUSTC_WRAPPER="$sccache"
    # Cache writes finish after each compile returns; let the last ones land.
    settle
    timed_build warm-dep-info RUSTC_WRAPPER="$sccache"
    start_server "$work/cache-direct" true
    timed_build cold-direct RUSTC_WRAPPER="$sccache"
    settle
    "$sccache" --zero-stats >/dev/null
    timed_build warm-direct RUSTC_WRAPPER="$sccache"
done
echo "== stats of the last warm direct build (hits and misses by crate type; build scripts'"
echo "   failing feature probes count as compilation failures, never cached)"
"$sccache" --show-stats
