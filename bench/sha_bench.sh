#!/bin/sh
# SHA-256 against SHA-512 (sha2 0.10) on this machine, files of 4 KB to 10 MB read in a
# stream: see bench/sha_bench/src/main.rs. Usage: bench/sha_bench.sh [DIR]
cd "$(dirname "$0")/sha_bench" && exec cargo run --quiet --release --offline -- "$@"
