#!/usr/bin/env python3
"""C benchmark: per-hit latency on a real-sized C file, and a warm rebuild of a multi-file
project, each against the plain compiler.

Usage: bench/c_bench.py [path/to/sccache]   (default: target/release/sccache)

It generates its sources in a temporary directory: one translation unit of about 3,000 lines
that includes 15 project headers and the usual libc headers, and a 40-file project built with
make -j2. It starts its own sccache server on a free port with a private cache directory and
stops it at the end. Figures are medians over repeated runs.
"""

import json
import re
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

REPEAT = 30


def write_big_source(directory):
    for index in range(15):
        lines = [f"#ifndef HEADER_{index}_H", f"#define HEADER_{index}_H", "#include <stddef.h>"]
        for item in range(40):
            lines.append(f"struct h{index}_s{item} {{ int a; long b; char name[{8 + item}]; }};")
            lines.append(f"int h{index}_f{item}(const struct h{index}_s{item} *value, size_t n);")
        lines.append("#endif")
        with open(os.path.join(directory, f"header{index}.h"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
    lines = ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>"]
    lines += [f'#include "header{index}.h"' for index in range(15)]
    for function in range(300):
        lines += [
            f"int big_function_{function}(int x, const char *text) {{",
            "    int total = 0;",
            "    for (int i = 0; i < x; i++) {",
            f"        total += (int)strlen(text) * {function} + i;",
            "        if (total % 7 == 3) total ^= 0x5a5a;",
            "    }",
            f"    if (total > {function * 1000}) printf(\"%d\\n\", total);",
            "    return total;",
            "}",
            "",
        ]
    with open(os.path.join(directory, "big.c"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return len(lines)


def write_project(directory):
    os.makedirs(directory, exist_ok=True)
    names = []
    for index in range(40):
        name = f"unit{index}"
        names.append(name)
        body = ["#include <stdio.h>", "#include <string.h>", f"int {name}(int x) {{", "    int s = 0;"]
        body += [f"    s += x * {line} + (int)strlen(\"{name}\");" for line in range(60)]
        body += ["    return s;", "}"]
        with open(os.path.join(directory, f"{name}.c"), "w") as handle:
            handle.write("\n".join(body) + "\n")
    objects = " ".join(f"{name}.o" for name in names)
    with open(os.path.join(directory, "Makefile"), "w") as handle:
        handle.write(f"CC ?= gcc\nall: {objects}\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\nclean:\n\trm -f *.o\n")


def timed_group(commands, cwd, env, repeat=REPEAT):
    """Per command, its times. The commands run in turn, in a new random order each round,
    round after round, so that drift in the machine's load hits all of them alike."""
    samples = [[] for _ in commands]
    for _ in range(repeat):
        order = list(range(len(commands)))
        random.shuffle(order)
        for index in order:
            start = time.perf_counter()
            subprocess.run(commands[index], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
            samples[index].append(time.perf_counter() - start)
    return samples


def quartile(samples):
    """The lower quartile: on a shared machine, interference only ever adds time, so this is
    steadier than the median when neighbours are busy."""
    return sorted(samples)[len(samples) // 4]


def overhead(hit, base):
    """The hit's time over `base`'s: difference of medians, of lower quartiles, and the median
    of the differences within a round."""
    return (
        statistics.median(hit) - statistics.median(base),
        quartile(hit) - quartile(base),
        statistics.median([h - b for h, b in zip(hit, base)]),
    )


def timed(command, cwd, env, repeat=REPEAT):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def server_overhead_ms(log_path):
    """Per hit of big.c, from the server's log: (request to answer) - (the preprocessor's run
    with its dispatch), in ms, and whether the early digest was used."""
    units = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}

    def duration(text):
        match = re.match(r"([0-9.]+)(ns|µs|us|ms|s)", text)
        return float(match.group(1)) * units[match.group(2)] if match else None

    overheads, ran, early, hit = [], None, False, False
    try:
        lines = open(log_path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return []
    for line in lines:
        found = re.search(r"preprocessor ran \S+ \((\S+) with the dispatch\)", line)
        if found:
            ran, early, hit = duration(found.group(1)), False, False
        elif '"big.c": key' in line:
            early = "early" in line
        elif "] hit " in line:
            hit = True
        else:
            answered = re.search(r"compile answered (\S+) after its request", line)
            if answered and ran is not None and hit:
                overheads.append((duration(answered.group(1)) - ran, early))
                ran = None
    return overheads


def main():
    sccache = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/sccache")
    work = tempfile.mkdtemp(prefix="sccache-bench")
    env = dict(os.environ)
    env.update(
        # The default transport (a Unix socket), at a private path so that a user's own server
        # is left alone.
        SCCACHE_SERVER_UDS=os.path.join(work, "server.sock"),
        SCCACHE_DIR=os.path.join(work, "cache"),
        SCCACHE_IDLE_TIMEOUT="300",
    )
    for name in ("SCCACHE_REDIS", "SCCACHE_BUCKET", "SCCACHE_SERVER_PORT"):
        env.pop(name, None)
    env.pop("SCCACHE_LOG", None)
    lines = write_big_source(work)
    subprocess.run([sccache, "--start-server"], env=env, check=True)
    try:
        compile_args = ["-O2", "-c", "big.c", "-o", "big.o"]
        plain = timed(["gcc", *compile_args], work, env, repeat=5)
        subprocess.run([sccache, "gcc", *compile_args], cwd=work, env=env, check=True)
        time.sleep(0.5)  # the cache write finishes after the client has its result
        # A hit runs the preprocessor once, writing to a scratch file on /dev/shm when there
        # is one. Compare it, round by round, with the preprocessor alone printing to stdout
        # (discarded) and writing to such a file.
        scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else work
        preprocess, preprocess_file, hit = timed_group(
            [
                ["gcc", "-O2", "-E", "big.c"],
                ["gcc", "-O2", "-E", "big.c", "-o", os.path.join(scratch, "bench-pp.i")],
                [sccache, "gcc", *compile_args],
            ],
            work,
            env,
            repeat=200,
        )
        noop = timed(["true"], work, env)

        project = os.path.join(work, "project")
        write_project(project)
        make = ["make", "-s", "-j2"]
        subprocess.run([*make, "clean"], cwd=project, env=env, check=True)
        start = time.perf_counter()
        subprocess.run([*make, "CC=gcc"], cwd=project, env=env, check=True)
        plain_build = time.perf_counter() - start
        subprocess.run([*make, "clean"], cwd=project, env=env, check=True)
        start = time.perf_counter()
        subprocess.run([*make, f"CC={sccache} gcc"], cwd=project, env=env, check=True)
        cold_build = time.perf_counter() - start
        time.sleep(0.5)
        warm = []
        for _ in range(5):
            subprocess.run([*make, "clean"], cwd=project, env=env, check=True)
            start = time.perf_counter()
            subprocess.run([*make, f"CC={sccache} gcc"], cwd=project, env=env, check=True)
            warm.append(time.perf_counter() - start)
        stats = json.loads(
            subprocess.run(
                [sccache, "--show-stats", "--stats-format", "json"], env=env, check=True, capture_output=True
            ).stdout
        )["stats"]
    finally:
        subprocess.run([sccache, "--stop-server"], env=env, stdout=subprocess.DEVNULL)

    # The server's own timings of some more hits, to split what it adds from the preprocessor's
    # run; a server of their own, since the debug log they need costs time of its own.
    log_path = os.path.join(work, "server.log")
    logged = dict(
        env,
        SCCACHE_LOG="sccache_actors::compile=debug,sccache_actors::c_compile=debug,"
        "sccache_actors::connection=debug",
        SCCACHE_ERROR_LOG=log_path,
    )
    subprocess.run([sccache, "--start-server"], env=logged, check=True)
    try:
        for _ in range(30):
            subprocess.run([sccache, "gcc", *compile_args], cwd=work, env=logged, check=True)
    finally:
        subprocess.run([sccache, "--stop-server"], env=logged, stdout=subprocess.DEVNULL)

    ms = lambda seconds: f"{seconds * 1000:8.2f} ms"
    print(f"big.c: {lines} lines, 15 project headers + libc headers")
    print(f"  process spawn floor (true)     {ms(noop)}")
    print(f"  gcc -E > stdout                {ms(statistics.median(preprocess))}")
    print(f"  gcc -E -o <tmpfs file>         {ms(statistics.median(preprocess_file))}")
    print(f"  plain gcc -O2 -c               {ms(plain)}")
    print(f"  sccache hit                    {ms(statistics.median(hit))}")
    print("  hit minus gcc -E (medians; lower quartiles; median of the differences in a round)")
    for name, base in (("> stdout", preprocess), ("-o file", preprocess_file)):
        medians, quartiles, per_round = overhead(hit, base)
        print(f"    {name:10s}                 {ms(medians)}; {ms(quartiles)}; {ms(per_round)}")
    print("40-file project, make -j2:")
    print(f"  plain gcc                      {ms(plain_build)}")
    print(f"  sccache cold (all misses)      {ms(cold_build)}")
    print(f"  sccache warm (median of 5)     {ms(statistics.median(warm))}")
    server_overheads = server_overhead_ms(log_path)
    if server_overheads:
        early = sum(1 for _, was_early in server_overheads if was_early)
        print("the server's own time per big.c hit, request to answer minus the preprocessor's run")
        print(f"  (from its log, median)         {ms(statistics.median(o for o, _ in server_overheads) / 1000)}")
        print(f"  hits digested early            {early} of {len(server_overheads)}")
        print("  (the rest of a hit is the preprocessor's run and the client's own start: see the")
        print("   process spawn floor above)")
    hits = sum(stats["cache_hits"]["counts"].values())
    misses = sum(stats["cache_misses"]["counts"].values())
    print(f"stats: {hits} hits, {misses} misses, {stats['cache_writes']} writes")


if __name__ == "__main__":
    main()
