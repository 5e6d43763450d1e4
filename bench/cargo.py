#!/usr/bin/env python3
"""Rust caches compared on a real crate graph: cold and warm `cargo clean && cargo build` of
bench/cargo-deps (21 crates from crates.io: serde with serde_derive, thiserror with
thiserror-impl (two proc-macros), serde_json, regex, memchr, itertools, anyhow...; build
scripts in proc-macro2, serde, serde_core, serde_json, anyhow, thiserror; a lib and a bin of
its own), for each tool in one run, interleaved.

Usage: bench/cargo.py [--ours PATH] [--rounds N] [--warm-builds N] [--keep] [--tools kache,...]
                      [--show-processes]

Tools (each one missing is skipped with a message; each with private cache and runtime dirs):
  plain    cargo without a wrapper;
  ours     this repository's target/release/sccache (built if absent), RUSTC_WRAPPER;
  sccache  /work/peers/sccache/bin/sccache (or SCCACHE_PEER), e.g. upstream 0.19;
  kache    /work/peers/kache/bin/kache (or KACHE_PEER), KACHE_CACHE_DIR private;
  zccache  the `zccache` Python package's binary, ZCCACHE_CACHE_DIR private.

Each round runs, in a new random order, every tool's cold build (its cache emptied and its
server restarted first), then `--warm-builds` passes (3 by default), each in another random
order, of every tool's warm build (the same cache, filled by that cold build): one warm build
each is at the mercy of which tool the machine's noise hits, and the first after a cold build
finds part of its cache's files dropped from the page cache by this VM after the idle spell. Before each timed build the machine must be idle for a
second (up to a minute): a daemon still storing after its own build (kache's, zccache's)
would otherwise slow whichever build comes next; then the toolchain's files and the tool's
own program are read into the page cache (this VM drops idle pages within seconds, and the
first rustc of a build would otherwise pay ~0.3 s to read librustc_driver back, whichever
tool that happens to be). Every tool has a target directory of its own, cleaned by
`cargo clean` before each timed build. CARGO_INCREMENTAL=0 throughout (sccache users' setting;
incremental compiles are not cacheable), and RUSTC is a small C program that logs each of its
starts to a file and execs the real rustc, so the rustc processes of each warm build are
counted whoever starts them (cargo, a wrapper, a daemon). Every tool sees the same RUSTC.

Prints per tool the median cold and warm times, the rustc processes of its last warm build
(all, and compiles: those with --crate-name), then ours against plain (cold) and ours
against the fastest peer (warm).
"""

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
from peers import clean_env, find_tool, read_through, version_of, wait_until_idle  # noqa: E402

LOGGER_SOURCE = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(LOG, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        /* One line a start: its kind, then its arguments (each cut to 60 bytes). */
        char line[4096];
        size_t used = 0;
        const char *kind = "other";
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--crate-name") == 0) kind = "compile";
        used += snprintf(line, sizeof line, "%s", kind);
        for (int i = 1; i < argc && used < sizeof line - 80; i++)
            used += snprintf(line + used, sizeof line - used, " %.60s", argv[i]);
        line[used++] = '\n';
        write(fd, line, used);
        close(fd);
    }
    argv[0] = REAL;
    execv(REAL, argv);
    return 127;
}
"""


class Tool:
    wrapper = None
    last_processes = ()

    def __init__(self, label, work, base_env):
        self.label = label
        self.root = os.path.join(work, label)
        os.makedirs(self.root)
        self.cache = os.path.join(self.root, "cache")
        self.env = dict(base_env)
        self.env["CARGO_TARGET_DIR"] = os.path.join(self.root, "target")
        self.version = ""

    def build_env(self):
        env = dict(self.env)
        if self.wrapper:
            env["RUSTC_WRAPPER"] = self.wrapper
        return env

    def reset(self):
        """Empties the cache (and restarts whatever serves it)."""
        self.stop()
        shutil.rmtree(self.cache, ignore_errors=True)
        self.start()

    def start(self):
        pass

    def stop(self):
        pass

    def settle(self):
        """Waits for writes still under way after a build."""


class Sccache(Tool):
    def __init__(self, label, work, base_env, binary):
        super().__init__(label, work, base_env)
        directory = os.path.join(self.root, "bin")
        os.makedirs(directory)
        self.wrapper = os.path.join(directory, "sccache")
        shutil.copy2(binary, self.wrapper)
        for name in list(self.env):
            if name.startswith("SCCACHE_"):
                del self.env[name]
        runtime = os.path.join(self.root, "runtime")
        os.makedirs(runtime, mode=0o700)
        self.env.update(
            XDG_RUNTIME_DIR=runtime,
            SCCACHE_SERVER_UDS=os.path.join(runtime, "server.sock"),
            SCCACHE_DIR=self.cache,
            SCCACHE_IDLE_TIMEOUT="0",
            SCCACHE_CACHE_SIZE="20G",
        )
        self.version = version_of([self.wrapper], self.env)

    def reset(self):
        """A cold build is a fresh machine's: the digests a server keeps between runs (ours,
        in its private runtime directory) go with the cache."""
        self.stop()
        for path in (os.path.join(self.root, "runtime", "sccache", "digests"),):
            if os.path.exists(path):
                os.remove(path)
        shutil.rmtree(self.cache, ignore_errors=True)
        self.start()

    def start(self):
        subprocess.run([self.wrapper, "--start-server"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([self.wrapper, "--stop-server"], env=self.env, capture_output=True, timeout=60)

    def settle(self):
        time.sleep(2)


class Kache(Tool):
    def __init__(self, label, work, base_env, binary):
        super().__init__(label, work, base_env)
        self.wrapper = binary
        for name in list(self.env):
            if name.startswith("KACHE_"):
                del self.env[name]
        self.env["KACHE_CACHE_DIR"] = self.cache
        self.env["KACHE_RUNTIME_DIR"] = os.path.join(self.root, "runtime")
        self.version = version_of([binary], self.env)

    def stop(self):
        subprocess.run([self.wrapper, "daemon", "stop"], env=self.env, capture_output=True, timeout=60)

    def settle(self):
        time.sleep(2)


class Zccache(Tool):
    def __init__(self, label, work, base_env, binary):
        super().__init__(label, work, base_env)
        self.wrapper = binary
        for name in list(self.env):
            if name.startswith("ZCCACHE_"):
                del self.env[name]
        self.env["ZCCACHE_CACHE_DIR"] = self.cache
        self.version = version_of([binary], self.env)

    def start(self):
        subprocess.run([self.wrapper, "start"], env=self.env, check=True, capture_output=True)

    def stop(self):
        subprocess.run([self.wrapper, "stop"], env=self.env, capture_output=True, timeout=60)

    def settle(self):
        time.sleep(2)


def stop_leftovers(work):
    """Stops any process still running from a binary under `work` (zccache's daemon outlives
    `zccache stop` at times); only what this run started lives there."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            executable = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if executable.startswith(work + os.sep):
            try:
                os.kill(int(pid), signal.SIGTERM)
            except OSError:
                pass


def timed_build(tool, project, log, warm_files=()):
    env = tool.build_env()
    subprocess.run(["cargo", "clean", "--quiet"], cwd=project, env=env, check=True)
    if os.path.exists(log):
        os.remove(log)
    wait_until_idle()
    read_through(list(warm_files) + ([tool.wrapper] if tool.wrapper else []))
    start = time.perf_counter()
    result = subprocess.run(["cargo", "build", "--offline", "--quiet"], cwd=project, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{tool.label}: cargo build failed: {result.stderr.decode()[-2000:]}")
    lines = open(log).read().splitlines() if os.path.exists(log) else []
    tool.last_processes = lines
    return elapsed, len(lines), sum(1 for line in lines if line.startswith("compile"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=os.path.join(REPO_DIR, "target", "release", "sccache"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--warm-builds", type=int, default=3,
                        help="warm builds of each tool per round, each pass in a new order")
    parser.add_argument("--tools", help="comma-separated labels to run (plain and ours always run)")
    parser.add_argument("--show-processes", action="store_true",
                        help="list the rustc starts of each tool's last warm build")
    args = parser.parse_args()
    if not os.path.exists(args.ours):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO_DIR, check=True)

    # A timeout's SIGTERM still stops the servers and daemons started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = tempfile.mkdtemp(prefix="cargo-bench-")
    tools = []
    try:
        project = os.path.join(work, "project")
        shutil.copytree(os.path.join(BENCH_DIR, "cargo-deps"), project)
        subprocess.run(["cargo", "fetch", "--quiet"], cwd=project, check=True)

        sysroot = subprocess.run(
            ["rustc", "--print", "sysroot"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
        real_rustc = os.path.join(sysroot, "bin", "rustc")
        log = os.path.join(work, "rustc.log")
        logger = os.path.join(work, "rustc-bin", "rustc")
        os.makedirs(os.path.dirname(logger))
        source = os.path.join(work, "logger.c")
        with open(source, "w") as handle:
            handle.write(LOGGER_SOURCE)
        subprocess.run(
            ["cc", "-O2", f'-DLOG="{log}"', f'-DREAL="{real_rustc}"', source, "-o", logger], check=True
        )

        base_env = clean_env(("RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER"))
        base_env.update(RUSTC=logger, CARGO_INCREMENTAL="0")
        tools.append(Tool("plain", work, base_env))
        tools.append(Sccache("ours", work, base_env, args.ours))
        candidates = [
            ("sccache", os.environ.get("SCCACHE_PEER", "/work/peers/sccache/bin/sccache"), Sccache),
            ("kache", os.environ.get("KACHE_PEER", "/work/peers/kache/bin/kache"), Kache),
            ("zccache", find_tool("zccache"), Zccache),
        ]
        for label, binary, kind in candidates:
            if args.tools and label not in args.tools.split(","):
                continue
            if binary and os.access(binary, os.X_OK):
                tools.append(kind(label, work, base_env, binary))
            else:
                print(f"skipping {label}: not installed ({binary})", file=sys.stderr)

        packages = open(os.path.join(project, "Cargo.lock")).read().count("\nname = ")
        rustc_version = subprocess.run([real_rustc, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"== {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {rustc_version}, "
              f"{os.cpu_count()} cores, {packages} packages, {args.rounds} rounds")
        for tool in tools:
            print(f"   {tool.label:8} {tool.version}")

        # The toolchain's programs and libraries, read into the page cache before every timed
        # build, as each tool's own program.
        warm_files = [os.path.join(sysroot, "lib"), os.path.join(sysroot, "bin"), logger]
        # Untimed: warms the file system cache for sources and the registry.
        timed_build(tools[0], project, log)
        cold = {tool.label: [] for tool in tools}
        warm = {tool.label: [] for tool in tools}
        processes = {}
        for round_number in range(args.rounds):
            order = list(tools)
            random.shuffle(order)
            for tool in order:
                tool.reset()
                seconds, _, _ = timed_build(tool, project, log, warm_files)
                cold[tool.label].append(seconds)
                print(f"   round {round_number + 1} cold {tool.label:8} {seconds:6.2f} s", flush=True)
            for tool in tools:
                tool.settle()
            for _ in range(args.warm_builds):
                random.shuffle(order)
                for tool in order:
                    seconds, started, compiles = timed_build(tool, project, log, warm_files)
                    warm[tool.label].append(seconds)
                    processes[tool.label] = (started, compiles)
                    print(f"   round {round_number + 1} warm {tool.label:8} {seconds:6.2f} s "
                          f"({started} rustc processes, {compiles} compiles)", flush=True)

        print("\n| tool | cold (median) | warm (median) | rustc processes in a warm build (compiles) |")
        print("| --- | --- | --- | --- |")
        for tool in tools:
            started, compiles = processes[tool.label]
            print(f"| {tool.label} | {statistics.median(cold[tool.label]):.2f} s | "
                  f"{statistics.median(warm[tool.label]):.2f} s | {started} ({compiles}) |")
        if args.show_processes:
            for tool in tools:
                print(f"\n{tool.label}: the rustc starts of its last warm build")
                for line in tool.last_processes:
                    print(f"    {line[:200]}")
        ours_cold = statistics.median(cold["ours"])
        ours_warm = statistics.median(warm["ours"])
        print(f"\ncold: ours / plain = {ours_cold / statistics.median(cold['plain']):.2f}")
        peers = [tool.label for tool in tools if tool.label not in ("plain", "ours")]
        if peers:
            fastest = min(peers, key=lambda label: statistics.median(warm[label]))
            print(f"warm: ours / fastest peer ({fastest}) = "
                  f"{ours_warm / statistics.median(warm[fastest]):.2f}")
    finally:
        for tool in tools:
            try:
                tool.stop()
            except (OSError, subprocess.SubprocessError):
                pass
        stop_leftovers(work)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
