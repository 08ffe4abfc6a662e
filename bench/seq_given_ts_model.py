#!/usr/bin/env python3
"""What `seq` would cost stored given the block's `ts` (issue 19 "Disk", session 23, format 25).

  bench_recode --tsv OUT.tsv SEGMENT          # each row: block ts ingest_ts seq service host ...
  [QUICK=1] python3 bench/seq_given_ts_model.py OUT.tsv [STORED_SEQ_BYTES [CHUNKS]]

Rows of a block are in (service, host, ts, seq) order; the decoder of `seq` would know `ts`
(decoded first, as `time-text` reads it). Per block, in bytes (the file's sums printed, and a
row's), for each C of CHUNKS (default 256,1024,8192):
  bucket-radix-C  what encoding 28 (ts-line) stores: one line in ts for the block (least
                  squares), buckets of ts of about C rows each, each its least residual and
                  radix, each row's residual (row order) a digit in mixed-radix groups <= 2^63
  block-line-C    rows in (ts, row) order, one line in ts for the block, chunks of C rows each
                  their least residual and a fixed bit width;  block-radix-C: mixed radix
  (not QUICK:)
  ts-line-C, ts-radix-C, ts-rice-C, ts-pfor-C   a line in ts per chunk of C rows in (ts, row)
                  order: fixed width, mixed radix, Rice (best k), fixed width with exceptions
  set+lehmer-*    the sorted values' gaps Rice-coded, then the permutation from seq order to
                  (ts, row) order as Lehmer digits (Rice per 256/1024, or their entropy)
  gaps-rice       zigzag gaps from the previous row in (ts, row) order, Rice-coded, best k
  line-C, line-rice-C   a line in the rank (not the ts) per chunk of C rows
  entropy-256     the empirical entropy of the line-256 residuals
STORED_SEQ_BYTES: the file's `seq` column bytes (`sawmill segment dump`), printed beside.
docs/performance.md "Session 23: seq given ts (format 25)" has the figures.
"""
import collections
import math
import os
import sys

from seq_ties_model import varint, zigzag  # the same sizes as session 16's model


def rice_bits(values):
    """Fewest bits of Rice codes of non-negative values, best k (0..40), plus 6 bits for k."""
    best = None
    for k in range(0, 41):
        bits = sum((v >> k) + 1 + k for v in values)
        if best is None or bits < best:
            best = bits
        elif bits > best * 1.5:
            break
    return best + 6


def residuals(s, c):
    """(header bytes, residuals per chunk) of chunks of c rows against their line."""
    out, header = [], 0
    prev_first = 0
    for a in range(0, len(s), c):
        chunk = s[a:a + c]
        n = len(chunk)
        # slope: least squares, in 1/256ths of a seq a row
        if n >= 2:
            mx = (n - 1) / 2
            my = sum(chunk) / n
            sxy = sum((i - mx) * (y - my) for i, y in enumerate(chunk))
            sxx = sum((i - mx) ** 2 for i in range(n))
            slope = round(256 * sxy / sxx)
        else:
            slope = 0
        line = [chunk[0] + (i * slope) // 256 for i in range(n)]
        r = [y - l for y, l in zip(chunk, line)]
        lo = min(r)
        r = [x - lo for x in r]
        header += varint(zigzag(chunk[0] - prev_first)) + varint(zigzag(slope)) + \
            varint(zigzag(lo)) + 1
        prev_first = chunk[0]
        out.append(r)
    return header, out


def ts_residuals(t, s, c):
    """(header bytes, residuals per chunk) of chunks of c rows against a line in ts:
    seq = first + ((ts - ts_first) * slope) >> 40, slope per chunk (least squares)."""
    out, header = [], 0
    prev_first, prev_slope = 0, 0
    for a in range(0, len(s), c):
        ys, xs = s[a:a + c], t[a:a + c]
        n = len(ys)
        x0 = xs[0]
        dx = [x - x0 for x in xs]
        mx, my = sum(dx) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in dx)
        slope = round((1 << 40) * sum((x - mx) * (y - my) for x, y in zip(dx, ys)) / sxx) \
            if sxx > 0 else 0
        r = [y - (ys[0] + ((x * slope) >> 40)) for x, y in zip(dx, ys)]
        lo = min(r)
        r = [v - lo for v in r]
        header += varint(zigzag(ys[0] - prev_first)) + varint(zigzag(slope - prev_slope)) + \
            varint(zigzag(lo)) + 1
        prev_first, prev_slope = ys[0], slope
        out.append(r)
    return header, out


def block_line(t, s, c):
    """(header bytes, residuals per chunk) against one line in ts for the block
    (seq = s0 + ((ts - t0) * slope) >> 40, least squares), each chunk of c rows its own least."""
    n = len(s)
    dx = [x - t[0] for x in t]
    mx, my = sum(dx) / n, sum(s) / n
    sxx = sum((x - mx) ** 2 for x in dx)
    slope = round((1 << 40) * sum((x - mx) * (y - my) for x, y in zip(dx, s)) / sxx) \
        if sxx > 0 else 0
    r = [y - (s[0] + ((x * slope) >> 40)) for x, y in zip(dx, s)]
    header = varint(s[0]) + varint(zigzag(slope)) + varint(c)
    out, prev = [], 0
    for a in range(0, n, c):
        x = r[a:a + c]
        lo = min(x)
        header += varint(zigzag(lo - prev)) + varint(max(x) - lo)
        prev = lo
        out.append([v - lo for v in x])
    return header, out


def bucket_bits(t, s, per):
    """Bytes of encoding 28 as built: one line in ts for the block (least squares), the rows cut
    into buckets of ts of width W (about "per" rows each), each bucket its least residual and
    radix, each row's residual (in row order) a digit of its bucket's radix in mixed-radix groups
    of at most 2^63."""
    n = len(s)
    t0 = min(t)
    dx = [x - t0 for x in t]
    mx, my = sum(dx) / n, sum(s) / n
    sxx = sum((x - mx) ** 2 for x in dx)
    slope = round((1 << 40) * sum((x - mx) * (y - my) for x, y in zip(dx, s)) / sxx) \
        if sxx > 0 else 0
    base = round(my - mx * slope / (1 << 40))
    r = [y - (base + ((x * slope) >> 40)) for x, y in zip(dx, s)]
    span = max(dx)
    width = max(1, -(-(span + 1) * per // n))
    buckets = span // width + 1
    lo = [None] * buckets
    hi = [None] * buckets
    b = [x // width for x in dx]
    for bi, v in zip(b, r):
        lo[bi] = v if lo[bi] is None else min(lo[bi], v)
        hi[bi] = v if hi[bi] is None else max(hi[bi], v)
    header = varint(zigzag(t0)) + varint(width) + varint(buckets) + varint(zigzag(base)) + \
        varint(zigzag(slope))
    prev = 0
    for a, z in zip(lo, hi):
        a = prev if a is None else a
        z = a if z is None else z
        header += varint(zigzag(a - prev)) + varint(z - a)
        prev = a
    bits, product = 0, 1
    for bi in b:
        radix = hi[bi] - lo[bi] + 1
        if radix == 1:
            continue
        if product * radix > (1 << 63):
            bits += (product - 1).bit_length()
            product = 1
        product *= radix
    bits += (product - 1).bit_length()
    return header + (bits + 7) // 8


def radix_bits(r):
    """Bits of values in [0, R) as mixed-radix groups of 63 bits (R = max + 1 of the chunk)."""
    radix = max(r) + 1
    if radix <= 1:
        return 0
    per = max(1, int(63 // math.log2(radix)))
    while radix ** per > (1 << 63):
        per -= 1
    groups, rest = divmod(len(r), per)
    bits = groups * (radix ** per - 1).bit_length()
    if rest:
        bits += (radix ** rest - 1).bit_length()
    return bits


def pfor_bits(r):
    """Fewest bits of residuals r (>= 0) as a width w and the rows outside [base, base + 2^w)
    as exceptions (each: its row in the chunk, log2 of the chunk's rows bits, and its residual
    as a zigzag varint from base), base and w chosen by the writer: (bits, exceptions)."""
    n = len(r)
    srt = sorted(r)
    row_bits = max(1, (n - 1).bit_length())
    best = None
    for w in range(0, max(r).bit_length() + 1):
        span = 1 << w
        # the window [srt[i], srt[i] + span) holding the most values
        j, most, at = 0, 0, 0
        for i in range(n):
            while j < n and srt[j] < srt[i] + span:
                j += 1
            if j - i > most:
                most, at = j - i, srt[i]
        out = n - most
        ebits = 0
        if out:
            ebits = sum(row_bits + 8 * varint(zigzag(v - at)) for v in r if not at <= v < at + span)
        bits = n * w + ebits + 8 * varint(out) + 8
        if best is None or bits < best[0]:
            best = (bits, out)
    return best


def lehmer_digits(t, s):
    """Rows in seq order, each as the number of rows not yet listed that come before it in
    (ts, row) order: the permutation from seq order to ts order (a Fenwick tree of the free)."""
    n = len(s)
    # s and t are in (ts, row) order already: rank i is row i of that order
    by_seq = sorted(range(n), key=lambda i: s[i])
    tree = [0] * (n + 1)
    for i in range(1, n + 1):
        tree[i] += 1
        j = i + (i & -i)
        if j <= n:
            tree[j] += tree[i]
    out = []
    for i in by_seq:
        # free ranks below i
        x, c = i, 0
        while x > 0:
            c += tree[x]
            x -= x & -x
        out.append(c)
        x = i + 1
        while x <= n:
            tree[x] -= 1
            x += x & -x
    return out


QUICK = bool(os.environ.get('QUICK'))  # the block-line candidates only


def main():
    blocks = collections.defaultdict(list)
    with open(sys.argv[1]) as f:
        for line in f:
            p = line.split('\t', 4)
            blocks[int(p[0])].append((int(p[1]), int(p[3])))
    stored = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rows = sum(len(b) for b in blocks.values())
    total = collections.Counter()
    chunks = tuple(int(c) for c in (sys.argv[3] if len(sys.argv) > 3 else '256,1024,8192').split(','))
    for b, r in blocks.items():
        order = sorted(range(len(r)), key=lambda i: (r[i][0], i))
        s = [r[i][1] for i in order]
        t = [r[i][0] for i in order]
        for c in chunks:
            header, res = block_line(t, s, c)
            total[f'block-line-{c}'] += header + (sum(len(x) * max(x).bit_length() for x in res) + 7) // 8
            total[f'block-radix-{c}'] += header + (sum(radix_bits(x) for x in res) + 7) // 8
        for per in chunks:
            total[f'bucket-radix-{per}'] += bucket_bits([r[i][0] for i in range(len(r))],
                                                        [r[i][1] for i in range(len(r))], per)
        if QUICK:
            continue
        for c in chunks:
            header, res = ts_residuals(t, s, c)
            total[f'ts-line-{c}'] += header + (sum(len(x) * max(x).bit_length() for x in res) + 7) // 8
            total[f'ts-radix-{c}'] += header + (sum(radix_bits(x) for x in res) + 7) // 8
            total[f'ts-rice-{c}'] += header + (sum(rice_bits(x) for x in res) + 7) // 8
            pf = [pfor_bits(x) for x in res]
            total[f'ts-pfor-{c}'] += header + (sum(b for b, _ in pf) + 7) // 8
            total[f'ts-pfor-{c} exceptions'] += sum(e for _, e in pf)
        srt = sorted(s)
        set_bits = rice_bits([srt[i] - srt[i - 1] - 1 for i in range(1, len(srt))])
        digits = lehmer_digits(t, s)
        for c in (256, 1024):
            dbits = sum(rice_bits(digits[a:a + c]) for a in range(0, len(digits), c))
            total[f'set+lehmer-rice-{c}'] += (set_bits + dbits + 7) // 8 + varint(srt[0])
        counts = collections.Counter(digits)
        total['set+lehmer-entropy'] += (set_bits - sum(v * math.log2(v / len(digits)) for v in counts.values())) / 8
        total['set alone'] += (set_bits + 7) // 8
        gaps = [zigzag(s[i] - s[i - 1]) for i in range(1, len(s))]
        total['gaps-rice'] += (rice_bits(gaps) + 7) // 8 + varint(s[0]) if gaps else varint(s[0])
        for c in chunks:
            header, res = residuals(s, c)
            bits = sum(len(x) * max(x).bit_length() for x in res)
            total[f'line-{c}'] += header + (bits + 7) // 8
            rbits = sum(rice_bits(x) for x in res)
            total[f'line-rice-{c}'] += header + (rbits + 7) // 8
            if c == 256:
                ent = 0.0
                for x in res:
                    counts = collections.Counter(x)
                    ent += -sum(v * math.log2(v / len(x)) for v in counts.values())
                total['entropy-256'] += ent / 8 + header
    print(f'{sys.argv[1]}: {rows} rows in {len(blocks)} blocks')
    if stored:
        print(f'  stored (the file)   {stored:>10,} bytes  {stored / rows:.3f} a row')
    for k, v in total.items():
        print(f'  {k:<19} {int(v):>10,} bytes  {v / rows:.3f} a row')


if __name__ == '__main__':
    main()
