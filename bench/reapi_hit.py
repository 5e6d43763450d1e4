#!/usr/bin/env python3
"""A direct-mode C hit served by a REAPI server over loopback against one served by the local
disk cache, interleaved in one run.

Usage: bench/reapi_hit.py [path/to/sccache] [rounds]   (default: target/release/sccache, 200)

The sccache binary must be built with `--features reapi`. It starts BuildGrid 0.4.4 (`bgd`, on
PATH or in ~/.local/bin; cache-only config, in-memory CAS) on a free loopback port and two
sccache servers with direct mode on, each with its own private cache directory: one on the
local disk, one on the REAPI server. Both are warmed with big.c of `bench/c_bench.py`, then
every round compiles it once through each server in shuffled order. Every compile is checked
to be a direct hit by the stats at the end. Prints the medians, lower quartiles, and the median
of per-round differences (REAPI minus disk).
"""

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c_bench import write_big_source  # noqa: E402

CONFIG = """server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
storages:
  - !lru-storage &cas
    size: 256MB
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 10000
    allow-updates: true
instances:
  - name: ''
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bgd_program():
    for directory in os.environ.get("PATH", "").split(":") + [os.path.expanduser("~/.local/bin")]:
        candidate = os.path.join(directory, "bgd")
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit("bgd not found: pip install buildgrid==0.4.4")


def start_bgd(work):
    port = free_port()
    with open(os.path.join(work, "bgd.yml"), "w") as handle:
        handle.write(CONFIG.format(port=port))
    log = open(os.path.join(work, "bgd.log"), "w")
    process = subprocess.Popen([bgd_program(), "server", "start", "bgd.yml"], cwd=work,
                               stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                sys.exit("bgd exited; see " + log.name)
            time.sleep(0.1)
    process.kill()
    sys.exit("bgd never listened")


def server_env(work, name, extra):
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("SCCACHE_"):
            del env[key]
    env.update({
        "SCCACHE_DIR": os.path.join(work, "cache-" + name),
        "SCCACHE_SERVER_UDS": os.path.join(work, name + ".sock"),
        "SCCACHE_DIRECT": "true",
        "SCCACHE_IDLE_TIMEOUT": "600",
        "SCCACHE_CONF": "/nonexistent",
    })
    env.update(extra)
    return env


def main():
    sccache = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/sccache")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    work = tempfile.mkdtemp(prefix="reapi-bench")
    write_big_source(work)
    bgd, port = start_bgd(work)
    envs = {
        "disk": server_env(work, "disk", {}),
        "reapi": server_env(work, "reapi", {"SCCACHE_REAPI_ENDPOINT": f"grpc://127.0.0.1:{port}"}),
    }
    try:
        for name, env in envs.items():
            subprocess.run([sccache, "--start-server"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            # A miss that stores the result and the manifest, then a first hit.
            for _ in range(2):
                subprocess.run([sccache, "gcc", "-O2", "-c", "big.c", "-o", f"{name}.o"],
                               cwd=work, env=env, check=True)
                time.sleep(1)
            subprocess.run([sccache, "--zero-stats"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        times = {name: [] for name in envs}
        differences = []
        for _ in range(rounds):
            order = list(envs)
            random.shuffle(order)
            measured = {}
            for name in order:
                started = time.perf_counter()
                subprocess.run([sccache, "gcc", "-O2", "-c", "big.c", "-o", f"{name}.o"],
                               cwd=work, env=envs[name], check=True)
                measured[name] = time.perf_counter() - started
                times[name].append(measured[name])
            differences.append(measured["reapi"] - measured["disk"])
        for name, env in envs.items():
            stats = json.loads(subprocess.run([sccache, "--show-stats", "--stats-format=json"],
                                              env=env, check=True, capture_output=True).stdout)
            hits = stats["stats"]["direct_hits"] if "stats" in stats else stats.get("direct_hits")
            print(f"{name}: {hits} direct hits of {rounds}; "
                  f"location {stats.get('cache_location', '?')}")
        with open(os.path.join(work, "disk.o"), "rb") as one, \
                open(os.path.join(work, "reapi.o"), "rb") as two:
            assert one.read() == two.read(), "the objects differ"
        for name in envs:
            values = sorted(times[name])
            print(f"{name}: median {statistics.median(values) * 1000:.2f} ms, "
                  f"lower quartile {values[len(values) // 4] * 1000:.2f} ms")
        differences.sort()
        print(f"REAPI minus disk, median per round: {statistics.median(differences) * 1000:.2f} ms "
              f"(quartiles {differences[len(differences) // 4] * 1000:.2f} .. "
              f"{differences[3 * len(differences) // 4] * 1000:.2f} ms)")
    finally:
        for env in envs.values():
            subprocess.run([sccache, "--stop-server"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        bgd.kill()
        bgd.wait()


if __name__ == "__main__":
    main()
