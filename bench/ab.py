#!/usr/bin/env python3
"""Times two commands alternately in one run: A, B, A, B, … so that a machine that speeds up
or slows down during the run weighs on both alike. Prints each command's median and mean
wall time and the ratio B/A of the medians.

Used to decide whether a fast path stays (docs/performance.md, "Fast paths"):

    python3 bench/ab.py --runs 300 --warmup 20 \\
        --a 'target/release/kubectl-astro deploy --dry-run -f examples/support-agent-request.yaml --catalog examples/catalog' \\
        --b '/tmp/kubectl-astro-without deploy --dry-run -f examples/support-agent-request.yaml --catalog examples/catalog'

Commands run without a shell (split like a shell would), stdout and stderr discarded. A
command that exits non-zero stops the run (a benchmark of a failing command means nothing)
unless --allow-exit lists its code (diff exits 1 when there are changes).
"""

import argparse
import shlex
import statistics
import subprocess
import sys
import time


def run_once(argv, allowed):
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode not in allowed:
        sys.exit(f"{shlex.join(argv)} exited {done.returncode}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="the first command (the reference)")
    parser.add_argument("--b", required=True, help="the second command")
    parser.add_argument("--runs", type=int, default=200, help="runs of each command")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs of each first")
    parser.add_argument("--allow-exit", type=int, action="append", default=[0],
                        help="an exit code that counts as success (repeatable; 0 always)")
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("--runs must be at least 1")
    a, b = shlex.split(args.a), shlex.split(args.b)
    allowed = set(args.allow_exit)
    for _ in range(args.warmup):
        run_once(a, allowed)
        run_once(b, allowed)
    times = {"A": [], "B": []}
    for i in range(args.runs):
        # Alternate which goes first, so neither always follows the other.
        order = [("A", a), ("B", b)] if i % 2 == 0 else [("B", b), ("A", a)]
        for name, argv in order:
            times[name].append(run_once(argv, allowed))
    medians = {}
    for name in ("A", "B"):
        t = times[name]
        medians[name] = statistics.median(t)
        print(f"{name}: median {medians[name] * 1000:.3f} ms, mean {statistics.mean(t) * 1000:.3f} ms, "
              f"min {min(t) * 1000:.3f} ms ({len(t)} runs)")
    print(f"B/A (medians): {medians['B'] / medians['A']:.4f}")


if __name__ == "__main__":
    main()
