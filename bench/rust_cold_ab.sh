#!/bin/bash
# Two or more builds of this cache against plain cargo on bench/cargo-deps, interleaved: per
# round and tool, in random order, a cold build as on a fresh machine (new server, empty cache,
# no digests remembered from an earlier server), then for the caches a warm build 2 s later.
# Prints each build's wall time and, for the caches, the server's CPU ticks over the cold build.
#
# Usage: bench/rust_cold_ab.sh ROUNDS NAME=PATH/TO/sccache...
#   e.g. bench/rust_cold_ab.sh 3 before=/tmp/old/sccache after=target/release/sccache
set -eu
rounds=$1; shift
work=$(mktemp -d /tmp/rust-cold-ab.XXXXXX)
trap 'for t in "${tools[@]}"; do stop "$t"; done; rm -rf "$work"' EXIT
declare -A bin
tools=()
for spec in "$@"; do
  name=${spec%%=*}; bin[$name]=$(realpath "${spec#*=}"); tools+=("$name")
done
here=$(cd "$(dirname "$0")" && pwd)
env_of() {
  echo "XDG_RUNTIME_DIR=$work/$1/rt SCCACHE_SERVER_UDS=$work/$1/rt/s.sock SCCACHE_DIR=$work/$1/cache" \
       "SCCACHE_IDLE_TIMEOUT=0 CARGO_INCREMENTAL=0 RUSTC_WRAPPER=${bin[$1]}"
}
stop() { env $(env_of "$1") "${bin[$1]}" --stop-server >/dev/null 2>&1 || true; }
for name in plain "${tools[@]}"; do
  mkdir -p "$work/$name/rt"; chmod 700 "$work/$name/rt"; cp -r "$here/cargo-deps" "$work/$name/proj"
done
(cd "$work/plain/proj" && cargo fetch -q)
for round in $(seq "$rounds"); do
  for name in $(printf '%s\n' plain "${tools[@]}" | shuf); do
    cd "$work/$name/proj"; cargo clean -q
    if [ "$name" = plain ]; then
      sleep 1; t0=$(date +%s.%N); CARGO_INCREMENTAL=0 cargo build -q --offline 2>/dev/null; t1=$(date +%s.%N)
      echo "round $round plain cold $(echo "$t1 - $t0" | bc)"; continue
    fi
    stop "$name"; rm -rf "$work/$name/cache" "$work/$name/rt/sccache"
    env $(env_of "$name") "${bin[$name]}" --start-server >/dev/null; sleep 1
    pid=$(pgrep -n -f "^${bin[$name]}")
    c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    t0=$(date +%s.%N); env $(env_of "$name") cargo build -q --offline 2>/dev/null; t1=$(date +%s.%N)
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    sleep 2; cargo clean -q
    t2=$(date +%s.%N); env $(env_of "$name") cargo build -q --offline 2>/dev/null; t3=$(date +%s.%N)
    echo "round $round $name cold $(echo "$t1 - $t0" | bc) server_ticks $((c1 - c0)) warm $(echo "$t3 - $t2" | bc)"
  done
done
