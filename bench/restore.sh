#!/usr/bin/env bash
# Restore of one large output (16 MB, an rlib's size) from the disk cache: a whole-blob entry
# read, checked and written (how entries were restored before content files, and how Redis and
# S3 entries still are) against the disk cache's content file cloned or kernel-copied; see
# actors/examples/restore_bench.rs. Interleaved, on each file system given (default: the one
# holding /tmp, and /dev/shm).
#
# Usage: bench/restore.sh [DIR...] [-- ROUNDS]
# A DIR on XFS or Btrfs measures the clone (reflink); ext4 and tmpfs have none, so there the
# content file is copied by the kernel (copy_file_range). To try XFS as root:
#   truncate -s 1G /tmp/xfs.img && mkfs.xfs -m reflink=1 /tmp/xfs.img &&
#   mkdir -p /tmp/xfs && mount -o loop /tmp/xfs.img /tmp/xfs && bench/restore.sh /tmp/xfs
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dirs=()
rounds=20
while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then rounds=$2; break; fi
    dirs+=("$1")
    shift
done
[ ${#dirs[@]} -gt 0 ] || dirs=(/tmp /dev/shm)
(cd "$root" && cargo build --release --quiet -p sccache-actors --example restore_bench)
for dir in "${dirs[@]}"; do
    echo "== $dir ($(df -T "$dir" | awk 'NR==2 {print $2}'))"
    "$root/target/release/examples/restore_bench" "$dir" "$rounds"
done
