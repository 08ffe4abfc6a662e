#!/usr/bin/env python3
"""What the ties on one second hold of elastic_apache_access's `seq` permutation, and whether a
writer-only cut of encoding 19 (`permuted-runs`, format version 14) could do better than
`CutRuns` (src/segment/permuted_runs_encoding.cc). docs/performance.md "Session 16: disk".

  python3 bench/seq_ties_model.py [APACHE_LOG]

Rows are sorted by (ts, seq) in blocks of 8,192 rows as the writer sorts one (service, host);
seq is the arrival order: the file's order, then two orders of 8 senders' 1,000-line batches
(each round of 8 batches arriving shuffled, seeds 1 and 2). For each it prints the runs, digit
bytes and header bytes of the greedy cut (CutRuns' rules) and of the cheapest valid cut (a
dynamic programme over every cut whose rows hold an interval of ranks, 2 header bytes a run),
and the bytes the ties on one second would save (sum of log2(g!) over seconds of g rows).
"""
import math
import random
import re
import sys
from collections import Counter
from datetime import datetime

PATH = sys.argv[1] if len(sys.argv) > 1 else \
    "/work/shared/data/real/elastic_apache_access/apache_logs"
BLOCK, LOOKAHEAD, MAX_CONTINUED = 8192, 1024, 512


def lehmer_bits(k):
    """Bits of a run of k rows: its digits in groups of radices whose product stays <= 2^63."""
    bits, radix = 0, k
    while radix >= 2:
        product = 1
        while radix >= 2 and product <= (1 << 63) // radix:
            product *= radix
            radix -= 1
        bits += (product - 1).bit_length()
    return bits


def varint(x):
    n = 1
    while x >= 128:
        x >>= 7
        n += 1
    return n


def zigzag(x):
    return x << 1 if x >= 0 else ((-x) << 1) - 1


def greedy(rank):
    """CutRuns: (rows, lowest rank) of each run."""
    runs, expected, a, n = [], 0, 0, len(rank)
    while a < n:
        low = high = rank[a]
        continued = found = 0
        for j in range(a + 1, min(n, a + LOOKAHEAD)):
            low, high = min(low, rank[j]), max(high, rank[j])
            rows = j - a + 1
            if high - low + 1 == rows:
                if low == expected and rows <= MAX_CONTINUED:
                    continued = j
                    break
                if found == 0:
                    found = j
            if high - low + 1 > LOOKAHEAD:
                break
            if found and rows >= MAX_CONTINUED:
                break
        end = continued or (found if found and rank[a] != expected else a)
        lo = min(rank[a:end + 1])
        runs.append((end + 1 - a, lo))
        expected, a = lo + end + 1 - a, end + 1
    return runs


def cheapest(rank, bits_of):
    n, inf = len(rank), float("inf")
    cost, back = [0] + [inf] * n, [0] * (n + 1)
    for i in range(n):
        low = high = rank[i]
        for j in range(i, min(n, i + LOOKAHEAD)):
            low, high = min(low, rank[j]), max(high, rank[j])
            if high - low + 1 > LOOKAHEAD:
                break
            if high - low == j - i and cost[i] + bits_of[j - i + 1] + 16 < cost[j + 1]:
                cost[j + 1], back[j + 1] = cost[i] + bits_of[j - i + 1] + 16, i
    runs, j = [], n
    while j > 0:
        i = back[j]
        runs.append((j - i, min(rank[i:j])))
        j = i
    return runs[::-1]


def sizes(runs, bits_of):
    digits = sum(bits_of[k] if k < len(bits_of) else lehmer_bits(k) for k, _ in runs)
    header, following = 0, 0
    for k, lo in runs:
        header += varint(k) + varint(zigzag(lo - following))
        following = lo + k
    return digits / 8, header


def main():
    lines = open(PATH, encoding="utf-8", errors="replace").read().splitlines()
    ts = [datetime.strptime(re.search(r"\[(\d+/\w+/\d+:\d+:\d+:\d+) ", l).group(1),
                            "%d/%b/%Y:%H:%M:%S").timestamp() for l in lines]
    bits_of = [lehmer_bits(k) for k in range(LOOKAHEAD + 2)]
    for name, seed in (("file order", None), ("8 senders, seed 1", 1), ("8 senders, seed 2", 2)):
        seq = list(range(len(lines)))
        if seed is not None:
            rng = random.Random(seed)
            batches = list(range((len(lines) + 999) // 1000))
            order = []
            for r in range(0, len(batches), 8):
                round_ = batches[r:r + 8]
                rng.shuffle(round_)
                order += round_
            s = 0
            for b in order:
                for i in range(b * 1000, min(len(lines), (b + 1) * 1000)):
                    seq[i] = s
                    s += 1
        rows = sorted(range(len(lines)), key=lambda i: (ts[i], seq[i]))
        totals = {"greedy": [0, 0, 0], "cheapest": [0, 0, 0]}
        ties = 0.0
        for start in range(0, len(rows), BLOCK):
            block = rows[start:start + BLOCK]
            ranked = {v: r for r, v in enumerate(sorted(seq[i] for i in block))}
            rank = [ranked[seq[i]] for i in block]
            for what, runs in (("greedy", greedy(rank)), ("cheapest", cheapest(rank, bits_of))):
                digits, header = sizes(runs, bits_of)
                t = totals[what]
                t[0], t[1], t[2] = t[0] + len(runs), t[1] + digits, t[2] + header
            ties += sum(math.lgamma(g + 1) / math.log(2)
                        for g in Counter(ts[i] for i in block).values()) / 8
        for what, (runs, digits, header) in totals.items():
            print(f"{name:18} {what:8} {runs:5} runs {digits:9.1f} digit bytes {header:5} "
                  f"header bytes")
        print(f"{name:18} ties on one second: {ties:.1f} bytes")


if __name__ == "__main__":
    main()
