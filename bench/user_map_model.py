#!/usr/bin/env python3
"""Bytes of user ids kept as a user -> blocks map beside the column, against the column alone
(docs/performance.md "Session 23: user ids, the next lever"):

    bench/user_map_model.py TSV

TSV is `bench_recode --tsv OUT SEGMENT`'s dump (block, ts, ingest_ts, seq, service, host,
trace_id, user_id a row). Prints bytes a row of: the user column's entropy inside each block;
per-block postings (each block's users as a delta-Rice list, a gamma count and Rice-coded
positions a user); the map of each user to its blocks (Rice-coded gaps and a gamma count a
user) and the segment's sorted user ids (delta, Rice). A model: no code of the store uses it."""
import sys, math, collections
path=sys.argv[1]
blocks=collections.defaultdict(list)
for line in open(path):
    f=line.rstrip('\n').split('\t')
    b=int(f[0]); u=f[7] if len(f)>7 else ''
    blocks[b].append(u)
def rice_bits(gaps):
    # best k rice over gaps (>=0)
    if not gaps: return 0
    m=sum(gaps)/len(gaps)
    best=None
    for k in range(0,20):
        bits=sum((g>>k)+1+k for g in gaps)
        if best is None or bits<best: best=bits
    return best
def gamma(c): return 2*int(math.log2(c))+1
tot_rows=0; col_entropy=0; post_bits=0; dict_bits=0; cnt_bits=0
user_blocks=collections.defaultdict(set)
B=len(blocks)
for b,us in sorted(blocks.items()):
    n=len(us); tot_rows+=n
    c=collections.Counter(us)
    col_entropy+=sum(-k*math.log2(k/n) for k in c.values())
    # dictionary: sorted numeric ids delta
    ids=sorted(int(u[1:]) if u else -1 for u in c)
    gaps=[ids[0]+1]+[ids[i]-ids[i-1]-1 for i in range(1,len(ids))]
    dict_bits+=rice_bits(gaps)
    pos=collections.defaultdict(list)
    for i,u in enumerate(us): pos[u].append(i)
    for u,p in pos.items():
        user_blocks[u].add(b)
        cnt_bits+=gamma(len(p))
        if len(p)==1: post_bits+=math.ceil(math.log2(n)); continue
        k=max(0,int(math.log2(n/len(p))))
        g=[p[0]]+[p[i]-p[i-1]-1 for i in range(1,len(p))]
        post_bits+=sum((x>>k)+1+k for x in g)
# segment map user->blocks
map_bits=0
for u,bs in user_blocks.items():
    bs=sorted(bs); k=max(0,int(math.log2(B/len(bs))))
    g=[bs[0]]+[bs[i]-bs[i-1]-1 for i in range(1,len(bs))]
    map_bits+=sum((x>>k)+1+k for x in g)+gamma(len(bs))
# segment dict of users
ids=sorted(int(u[1:]) for u in user_blocks if u)
seg_dict=rice_bits([ids[0]]+[ids[i]-ids[i-1]-1 for i in range(1,len(ids))])
r=tot_rows
print(f"rows {r} blocks {B} distinct users {len(user_blocks)}")
print(f"column entropy (per block, no table) {col_entropy/8/r:.3f} B/row")
print(f"per-block dict {dict_bits/8/r:.3f}  counts {cnt_bits/8/r:.3f}  positions {post_bits/8/r:.3f}  => block postings {(dict_bits+cnt_bits+post_bits)/8/r:.3f} B/row")
print(f"segment user->blocks map {map_bits/8/r:.3f} + segment dict {seg_dict/8/r:.3f} B/row")
print(f"total postings form {(dict_bits+cnt_bits+post_bits+map_bits+seg_dict)/8/r:.3f} B/row")
