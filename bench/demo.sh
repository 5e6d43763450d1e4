#!/usr/bin/env bash
# Builds sccache and shows it working on a real compile: a miss, then a hit, then the stats.
# Uses a private cache directory and port, and stops its server at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
sccache="$PWD/target/release/sccache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SCCACHE_DIR="$work/cache"
export SCCACHE_SERVER_UDS="$work/server.sock"
unset SCCACHE_SERVER_PORT
cp tests/fixtures/c/hello.c tests/fixtures/c/util.h "$work/"
cd "$work"

echo "== first compile (a miss): sccache gcc -c hello.c -o hello.o"
time "$sccache" gcc -c hello.c -o hello.o
sleep 0.3
rm hello.o
echo "== second compile (a hit)"
time "$sccache" gcc -c hello.c -o hello.o
gcc -c hello.c -o plain.o
cmp hello.o plain.o && echo "== the object from the hit is byte-identical to a plain compile"
echo "== stats"
"$sccache" --show-stats
"$sccache" --stop-server >/dev/null
