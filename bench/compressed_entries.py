#!/usr/bin/env python3
"""Compressed entries: what zstd (SCCACHE_CACHE_ZSTD_LEVEL, default 3) saves in a remote cache.

Builds C objects (big.c of bench/c_bench.py at -O2 and at -O2 -g, the test fixture's sources
with -g) and the cargo graph of bench/cargo-deps through one sccache server whose cache is a
chain `disk,redis`: the disk level keeps entries as they always were (uncompressed), the Redis
level as they now travel (compressed). Then, per kind of entry, the bytes of both; and Redis's
`used_memory` (minus an empty Redis's) for the whole warm graph: the Redis of the chain, against
a second Redis loaded with the very same entries uncompressed, which is what Redis held before.

Usage: bench/compressed_entries.py [path/to/sccache]   (default: target/release/sccache, else
target/debug/sccache). Needs redis-server, redis-cli, gcc, cargo (crates fetched once).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c_bench import write_big_source  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(directory):
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if cli(port, "ping") == "PONG":
            return port, process
        time.sleep(0.05)
    raise SystemExit("redis-server did not answer")


def cli(port, *args, stdin=None):
    result = subprocess.run(["redis-cli", "-p", str(port), *args], stdin=stdin,
                            capture_output=True, text=True)
    return result.stdout.strip()


def used_memory(port):
    for line in cli(port, "info", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise SystemExit("no used_memory")


def kind(data):
    """What an entry holds, from the names inside it."""
    if b".rlib" in data:
        return "rlib"
    if b".so" in data and b"proc" in data or b".so\xa4" in data:
        return "proc-macro"
    if b"\xa3obj" in data:
        return "C object"
    return "other (build scripts, rmeta)"


def stats(sccache, env):
    output = subprocess.run([sccache, "--show-stats", "--stats-format", "json"], env=env,
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output)["stats"]


def main():
    sccache = sys.argv[1] if len(sys.argv) > 1 else None
    if sccache is None:
        for profile in ("release", "debug"):
            candidate = os.path.join(ROOT, "target", profile, "sccache")
            if os.path.exists(candidate):
                sccache = candidate
                break
    if sccache is None:
        raise SystemExit("build sccache first")
    sccache = os.path.abspath(sccache)
    work = tempfile.mkdtemp(prefix="sccache-zstd-bench")
    redis_dir = os.path.join(work, "redis")
    os.makedirs(redis_dir)
    chain_port, chain_redis = start_redis(redis_dir)
    plain_port, plain_redis = start_redis(redis_dir)
    empty = used_memory(plain_port)
    env = dict(os.environ)
    for name in ("RUSTC_WRAPPER", "SCCACHE_SERVER_PORT", "SCCACHE_RECACHE", "SCCACHE_BUCKET"):
        env.pop(name, None)
    env.update({
        "SCCACHE_DIR": os.path.join(work, "cache"),
        "SCCACHE_SERVER_UDS": os.path.join(work, "server.sock"),
        "SCCACHE_MULTILEVEL_CHAIN": "disk,redis",
        "SCCACHE_REDIS": f"redis://127.0.0.1:{chain_port}",
        "SCCACHE_CONF": "/nonexistent",
        "SCCACHE_DIRECT": "false",
        "CARGO_TARGET_DIR": os.path.join(work, "target"),
        "CARGO_INCREMENTAL": "0",
    })
    try:
        subprocess.run([sccache, "--start-server"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        sources = os.path.join(work, "c")
        os.makedirs(sources)
        write_big_source(sources)
        for name in ("hello.c", "util.c", "util.h", "warn.c"):
            shutil.copy(os.path.join(ROOT, "tests", "fixtures", "c", name), sources)
        compiles = [["-O2", "big.c"], ["-O2", "-g", "big.c"]] + [
            ["-O2", "-g", name] for name in ("hello.c", "util.c", "warn.c")]
        for flags in compiles:
            subprocess.run([sccache, "gcc", "-c", *flags, "-o", "out.o"], cwd=sources, env=env,
                           check=True, stderr=subprocess.DEVNULL)
        project = os.path.join(work, "project")
        shutil.copytree(os.path.join(ROOT, "bench", "cargo-deps"), project)
        subprocess.run(["cargo", "fetch", "--quiet"], cwd=project, env=env, check=True)
        subprocess.run(["cargo", "build", "--offline", "--quiet"], cwd=project,
                       env=dict(env, RUSTC_WRAPPER=sccache), check=True,
                       stderr=subprocess.DEVNULL)
        # Writes land after the replies: wait until both levels have every one.
        for _ in range(600):
            figures = stats(sccache, env)
            levels = figures["multi_level"]
            if levels[0]["writes"] == levels[1]["writes"] == figures["cache_writes"] > 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"writes never settled: {figures}")
        rows = {}
        biggest = {}
        for directory, _, files in os.walk(env["SCCACHE_DIR"]):
            for name in files:
                if len(name) != 64:
                    continue
                path = os.path.join(directory, name)
                with open(path, "rb") as handle:
                    data = handle.read()
                stored = int(cli(chain_port, "STRLEN", name))
                with open(path, "rb") as handle:
                    cli(plain_port, "-x", "SET", name, stdin=handle)
                largest = biggest.get(kind(data))
                if largest is None or largest[1] < len(data):
                    biggest[kind(data)] = (path, len(data))
                row = rows.setdefault(kind(data), [0, 0, 0])
                row[0] += 1
                row[1] += len(data)
                row[2] += stored
        print(f"zstd level 3; {sum(row[0] for row in rows.values())} entries")
        print(f"{'kind':30} {'entries':>7} {'uncompressed':>13} {'compressed':>11} {'ratio':>6}")
        for name, (entries, plain, compressed) in sorted(rows.items()):
            print(f"{name:30} {entries:7} {plain:13,} {compressed:11,} {compressed / plain:6.3f}")
        before = used_memory(plain_port) - empty
        after = used_memory(chain_port) - empty
        print(f"Redis used_memory over an empty Redis: before {before:,} B, after {after:,} B, "
              f"ratio {after / before:.3f}")
        # What a compressed disk level would cost each hit: zstd's own benchmark (level 3) of
        # the largest entry of each kind, compression and decompression speed.
        if shutil.which("zstd"):
            for name, (path, size) in sorted(biggest.items()):
                result = subprocess.run(["zstd", "-b3", "-i2", path], capture_output=True,
                                        text=True)
                # zstd rewrites its progress line with carriage returns; the last line with
                # two speeds (compression, decompression) is the result.
                lines = (result.stdout + result.stderr).replace("\r", "\n").splitlines()
                speeds = [line for line in lines if line.count("MB/s") == 2]
                result_line = speeds[-1].split(":", 1)[-1].strip() if speeds else "?"
                print(f"zstd -b3, largest {name} entry ({size:,} B): {result_line}")
    finally:
        subprocess.run([sccache, "--stop-server"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for process in (chain_redis, plain_redis):
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
