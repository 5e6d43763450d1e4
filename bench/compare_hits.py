#!/usr/bin/env python3
"""Per-hit latency of a C compile for two sccache binaries, measured interleaved in one run.

Usage: bench/compare_hits.py OLD_BINARY NEW_BINARY [--rounds N] [--keep] [--new-env NAME=VALUE]...

`--new-env` adds a setting to the new binary's server and clients only (it may be the same
binary as the old one): e.g. `SCCACHE_MULTILEVEL_CHAIN=disk,redis` with `SCCACHE_REDIS=...`
compares a hit from a disk level in front of Redis with a hit from the disk cache alone.

Each binary is copied into a directory of its own under the name `sccache` (under any other
name it would act as a compiler) and gets its own server, started with that binary, with its
own cache directory and its own private runtime directory (XDG_RUNTIME_DIR, holding the
server's Unix socket), all in one temporary directory that is removed at the end. The sources
are c_bench's big.c (about 3,000 lines, 15 project headers and libc headers) and a 3-line
tiny.c. Each server's cache is warmed with one compile (a miss) of each file; then every round
runs, in a new random order, one hit per binary per file (`sccache gcc -c FILE -o
out_<old|new>_FILE.o`) and, as a reference, the plain preprocessor (`gcc -E FILE -o
/dev/null`), each timed with time.perf_counter around subprocess.run. Mixing all of them within
every round makes drift in the machine's load (other builds on a shared machine) hit every
command alike, so the per-round difference NEW-OLD is the steadiest figure.

Every hit is checked: its object (left in place between hits, as in c_bench and a real
rebuild) must be byte-identical to the one the warming compile produced, and at the end each
server's stats must show exactly one hit per timed compile and no new miss. Both servers are
stopped at the end, also on error.
"""

import argparse
import importlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("big.c", "tiny.c")
TINY_SOURCE = (
    "#include <stddef.h>\n"
    "int tiny(int x) { return x * 3 + 1; }\n"
    "size_t tiny_size(void) { return sizeof(int); }\n"
)
LABELS = ("old", "new")


def load_c_bench():
    """The c_bench module beside this script (for its source generator)."""
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    return importlib.import_module("c_bench")


def write_sources(work):
    """big.c and its headers (c_bench's generator) and tiny.c, in `work`; big.c's line count."""
    lines = load_c_bench().write_big_source(work)
    with open(os.path.join(work, "tiny.c"), "w") as handle:
        handle.write(TINY_SOURCE)
    return lines


def server_env(work, label):
    """The environment for one binary's server and clients: as c_bench sets it up (a Unix
    socket at a private path, a private cache directory, an idle timeout), plus a runtime
    directory of its own, and no other SCCACHE_* setting of the caller's."""
    root = os.path.join(work, label)
    runtime = os.path.join(root, "runtime")
    os.makedirs(runtime, mode=0o700)
    os.chmod(runtime, 0o700)
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCCACHE_")}
    env.update(
        XDG_RUNTIME_DIR=runtime,
        SCCACHE_SERVER_UDS=os.path.join(runtime, "server.sock"),
        SCCACHE_DIR=os.path.join(root, "cache"),
        SCCACHE_IDLE_TIMEOUT="900",
    )
    return env


def install_binary(binary, work, label):
    """A copy of `binary` named `sccache` in a directory of its own: the binary answers to its
    own commands only under that name (under any other it masquerades as a compiler)."""
    directory = os.path.join(work, label, "bin")
    os.makedirs(directory)
    path = os.path.join(directory, "sccache")
    shutil.copy2(binary, path)
    return path


def object_name(label, source):
    return f"out_{label}_{os.path.splitext(source)[0]}.o"


def hit_command(binary, label, source):
    return [binary, "gcc", "-c", source, "-o", object_name(label, source)]


def reference_command(source):
    return ["gcc", "-E", source, "-o", os.devnull]


def stats(binary, env):
    """The server's counters, from `--show-stats --stats-format=json`."""
    result = subprocess.run(
        [binary, "--show-stats", "--stats-format=json"], env=env, check=True, capture_output=True
    )
    return json.loads(result.stdout)["stats"]


def hits_and_misses(counters):
    return (
        sum(counters["cache_hits"]["counts"].values()),
        sum(counters["cache_misses"]["counts"].values()),
    )


def wait_for_writes(binary, env, expected, timeout=30.0):
    """Waits until the server has written `expected` entries (a write finishes after the
    client has its result); its counters then."""
    deadline = time.monotonic() + timeout
    while True:
        counters = stats(binary, env)
        if counters["cache_writes"] >= expected:
            return counters
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{binary}: {counters['cache_writes']} cache writes after {timeout}s, expected {expected}"
            )
        time.sleep(0.1)


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def run_rounds(commands, rounds, work, check):
    """Per command name, its times in seconds, one per round. Each round runs every command
    once, in a new random order; `check(name)` runs after each command, outside its time."""
    samples = {name: [] for name in commands}
    names = list(commands)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            command, env = commands[name]
            subprocess.run(command, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - start)
            check(name)
    return samples


def quartile(samples):
    """The lower quartile, as c_bench takes it: on a shared machine interference only adds
    time, so it is steadier than the median when neighbours are busy."""
    return sorted(samples)[len(samples) // 4]


def median_interval(samples, z=1.96):
    """A distribution-free ~95% confidence interval for the median (order statistics)."""
    ordered = sorted(samples)
    n = len(ordered)
    k = max(0, math.floor(n / 2 - z * math.sqrt(n) / 2))
    return ordered[k], ordered[min(n - 1, n - 1 - k)]


def ms(seconds):
    return f"{seconds * 1000:8.2f} ms"


def report(source, samples):
    """Prints the figures for one source file."""
    old, new = samples[("old", source)], samples[("new", source)]
    reference = samples[("gcc -E", source)]
    print(f"{source}{'':31s}median  lower quartile")
    for name, times in (("gcc -E (reference)", reference), ("OLD hit", old), ("NEW hit", new)):
        print(f"  {name:28s} {ms(statistics.median(times))} {ms(quartile(times))}")
    print("  median of per-round differences")
    for name, times in (("OLD hit - gcc -E", old), ("NEW hit - gcc -E", new)):
        print(f"  {name:28s} {ms(statistics.median([hit - base for hit, base in zip(times, reference)]))}")
    differences = [b - a for a, b in zip(old, new)]
    low, high = median_interval(differences)
    faster = sum(1 for difference in differences if difference < 0)
    interval = f"~95% CI [{ms(low).strip()}, {ms(high).strip()}]"
    print(f"  {'NEW - OLD':28s} {ms(statistics.median(differences))}   {interval};"
          f" NEW faster in {faster}/{len(differences)} rounds")
    print(f"  ratio of medians NEW/OLD     {statistics.median(new) / statistics.median(old):8.4f}"
          f"     (of lower quartiles: {quartile(new) / quartile(old):.4f})")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the baseline sccache binary")
    parser.add_argument("new", help="the sccache binary to compare with it")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the new binary's server only (repeatable)")
    args = parser.parse_args(argv)
    if any("=" not in setting for setting in args.new_env):
        parser.error("--new-env takes NAME=VALUE")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    binaries = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    for label, binary in binaries.items():
        if not os.access(binary, os.X_OK):
            sys.exit(f"{label} binary {binary} is not an executable file")
    work = tempfile.mkdtemp(prefix="sccache-compare")
    started = []
    try:
        lines = write_sources(work)
        envs = {label: server_env(work, label) for label in LABELS}
        envs["new"].update(setting.split("=", 1) for setting in args.new_env)
        copies = {label: install_binary(binaries[label], work, label) for label in LABELS}
        for label in LABELS:
            started.append(label)
            subprocess.run(
                [copies[label], "--start-server"], env=envs[label], check=True, stdout=subprocess.DEVNULL
            )

        # Warm each cache with one compile (a miss) of each file; its object is the reference.
        expected = {}
        before = {}
        for label in LABELS:
            for source in SOURCES:
                command = hit_command(copies[label], label, source)
                subprocess.run(command, cwd=work, env=envs[label], check=True)
                expected[(label, source)] = read_bytes(os.path.join(work, object_name(label, source)))
            before[label] = wait_for_writes(copies[label], envs[label], expected=len(SOURCES))
            hits, misses = hits_and_misses(before[label])
            if (hits, misses) != (0, len(SOURCES)):
                raise RuntimeError(
                    f"{label}: warming gave {hits} hits and {misses} misses, expected 0 and {len(SOURCES)}"
                )

        commands = {}
        for source in SOURCES:
            for label in LABELS:
                commands[(label, source)] = (hit_command(copies[label], label, source), envs[label])
            commands[("gcc -E", source)] = (reference_command(source), envs["old"])

        def check(name):
            if name in expected and read_bytes(os.path.join(work, object_name(*name))) != expected[name]:
                raise RuntimeError(f"{name[0]} hit on {name[1]}: the object differs from the first compile's")

        samples = run_rounds(commands, args.rounds, work, check)

        for label in LABELS:
            after = stats(copies[label], envs[label])
            hits, misses = hits_and_misses(after)
            hits0, misses0 = hits_and_misses(before[label])
            if hits - hits0 != args.rounds * len(SOURCES) or misses != misses0:
                raise RuntimeError(
                    f"{label}: {hits - hits0} hits and {misses - misses0} misses during the rounds, "
                    f"expected {args.rounds * len(SOURCES)} and 0: {json.dumps(after)}"
                )
    finally:
        for label in reversed(started):
            try:
                subprocess.run(
                    [copies[label], "--stop-server"], env=envs[label], stdout=subprocess.DEVNULL, timeout=60
                )
            except (OSError, subprocess.SubprocessError) as error:
                print(f"stopping the {label} server failed: {error}", file=sys.stderr)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"old: {binaries['old']}")
    print(f"new: {binaries['new']}")
    print(f"{args.rounds} rounds; big.c {lines} lines; every hit checked (object bytes, server stats)")
    for source in SOURCES:
        report(source, samples)


if __name__ == "__main__":
    main()
