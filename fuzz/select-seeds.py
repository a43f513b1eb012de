#!/usr/bin/env python3
"""Pick at most LIMIT seeds from a fuzz corpus that keep the most coverage.

`cargo fuzz cmin` keeps every input that adds a libFuzzer *feature* (edge hit-count buckets
included), which leaves thousands of files here. This script measures each input's *edges* on
its own (one `-merge=1 -use_counters=0` run per file, in a fresh process), then does a greedy set
cover: it takes, again and again, the input that adds the most edges not yet covered (ties: the
smaller input), until LIMIT inputs are taken or nothing adds an edge. It prints the chosen file
names, one a line, and the coverage reached on stderr.

    cargo fuzz build --sanitizer none
    python3 fuzz/select-seeds.py fuzz/target/x86_64-unknown-linux-gnu/release/spec \\
        fuzz/corpus/spec 60 > picks
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile


def edges(binary, path):
    """The edges (libFuzzer PC-table indices) one input covers, measured in a fresh process."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(f"{d}/in")
        os.mkdir(f"{d}/out")
        shutil.copy(path, f"{d}/in/input")
        subprocess.run(
            [binary, "-merge=1", "-use_counters=0", f"-merge_control_file={d}/control",
             f"{d}/out", f"{d}/in"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        covered = set()
        with open(f"{d}/control") as control:
            for line in control:
                if line.startswith("COV "):
                    covered.update(int(x) for x in line.split()[2:])
        return covered


def main():
    binary, corpus, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = sorted(os.listdir(corpus))
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        sets = dict(zip(names, pool.map(lambda n: edges(binary, f"{corpus}/{n}"), names)))
    size = {n: os.path.getsize(f"{corpus}/{n}") for n in names}
    total = set().union(*sets.values()) if sets else set()
    covered, chosen = set(), []
    while len(chosen) < limit:
        best = max(names, key=lambda n: (len(sets[n] - covered), -size[n]), default=None)
        if best is None or not sets[best] - covered:
            break
        chosen.append(best)
        covered |= sets[best]
    print(f"{len(chosen)} of {len(names)} inputs cover {len(covered)} of {len(total)} edges",
          file=sys.stderr)
    for name in chosen:
        print(name)


if __name__ == "__main__":
    main()
