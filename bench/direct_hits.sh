#!/bin/bash
# Hits with and without direct mode (SCCACHE_DIRECT): 30 hits of one compile through a
# release sccache, median and minimum wall time per hit. Usage: direct_hits.sh true|false FILE CC
# (run it in a directory holding FILE).
B=$(cd "$(dirname "$0")/.." && pwd)/target/release/sccache
export SCCACHE_DIR=$PWD/cache-$1 SCCACHE_SERVER_UDS=$PWD/s-$1.sock SCCACHE_DIRECT=$1 SCCACHE_IDLE_TIMEOUT=60
$B --stop-server >/dev/null 2>&1
rm -rf $SCCACHE_DIR
$B --start-server >/dev/null 2>&1
$B $3 -O2 -c $2 -o out-$1.o; sleep 0.5; $B $3 -O2 -c $2 -o out-$1.o; sleep 0.5
python3 - "$B" "$3" "$2" "$1" <<'PY'
import subprocess,sys,time
b,cc,f,d=sys.argv[1:]
ts=[]
for i in range(30):
    t=time.perf_counter(); subprocess.run([b,cc,"-O2","-c",f,"-o","out-%s.o"%d],check=True); ts.append(time.perf_counter()-t)
ts.sort(); print(f"direct={d} {cc} {f}: median {ts[15]*1000:.2f} ms, min {ts[0]*1000:.2f} ms")
PY
$B --show-stats 2>&1 | grep -iE "direct|hits \(|misses \(" 
$B --stop-server >/dev/null 2>&1
