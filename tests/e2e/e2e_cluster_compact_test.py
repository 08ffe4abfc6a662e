"""Compaction and tier moves of shared segments on cluster nodes (issue 20, docs/cluster.md
"Compaction and tier moves on cluster nodes"): three `sawmill server --catalog postgresql://...
--store s3://bucket/prefix` processes on a private PostgreSQL and the real S3 API of OpenStack
Swift (the ctest fixture s3_store), started through cluster_lib.Cluster.

1. Nodes a, b and c start, b and c with compaction off (so that a is the one whose round
   claims the partition). Each node ingests and flushes five times: five small segments of each
   node in the shared store, registered. Every node answers the count and the newest 100 hits
   alike, and every line exactly once.
2. Node a's compaction round (background) claims the partition's lease (compaction/<slot>),
   writes its merged output to the store and pauses before its swap (the test hook
   SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS); the test kills it there (SIGKILL): its output is in the
   store, named by no catalog row, and the lease is still a's. b and c restart with compaction
   on; after the lease's ttl, b or c takes the partition's lease and merges every node's
   segments (the segment count drops from 15 to 3). Queries on b and c all through it count
   every line exactly once and answer the same newest 100 hits; no object the catalog names is
   ever missing from the store.
3. a is restarted; all three answer as before (counts, newest 100, each line once); the retired
   inputs' objects and a's unregistered output are deleted by the orphan sweep after the grace,
   and the outputs the catalog names are still there.
4. More lines, flushed; `sawmill admin tiers move --older-than 0s --to warm` on b re-encodes
   every hot segment as a warm one in the shared store (queries meanwhile exact), answers stay
   the same on every node, the sources' objects go after the grace; `--to cold` answers a clear
   error (a cluster has no cold tier).

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import os
import re
import subprocess
import sys
import threading
import time

from cluster_lib import Cluster, Ingester, check_each_once, wait_for
from e2e_lib import check, wait_registries

GRACE = 20  # segment_orphan_grace, s
QUERY_TIMEOUT = 15  # s: segments are merged once this old; an export page must end within it
ROUNDS = 5  # flushes per node in step 1: five segments each


def newest(server):
    """The messages of the newest 100 hits of "clusterw" on "server" (a partial answer is
    allowed: a node killed a moment ago held nothing unflushed)."""
    status, answer = server.search("clusterw", limit="100")
    check(status == 200, "search on %s: %d %s" % (server.url, status, answer))
    return [h["message"] for h in answer["hits"]]


def count(server):
    status, answer = server.search("clusterw | count")
    check(status == 200, "count on %s: %d %s" % (server.url, status, answer))
    rows = answer["rows"]
    return rows[0]["count"] if rows else 0


def named_paths(cluster):
    """The object names every catalog row gives (relative to segments/)."""
    return set(cluster.pg.psql("SELECT path FROM segments").split())


def stored_paths(cluster):
    prefix = cluster.prefix + "/segments/"
    return {n[len(prefix):] for n in cluster.store_names("segments/")}


def check_named_stored(cluster, what):
    """Every object the catalog names is in the store (read the catalog first: an object
    retired in between is kept for the grace, far longer than this takes)."""
    named = named_paths(cluster)
    stored = stored_paths(cluster)
    missing = sorted(named - stored)
    check(not missing, "%s: objects the catalog names are missing from the store: %s" %
          (what, missing[:5]))
    return named, stored


def segments_by_tier(cluster):
    rows = cluster.pg.psql("SELECT tier, count(*) FROM segments GROUP BY tier ORDER BY tier")
    return {r.split("|")[0]: int(r.split("|")[1]) for r in rows.splitlines() if r}


class Watch:
    """Queries "nodes" in threads until stopped: every count must be "total" and every newest-100
    answer "hits"; and every object the catalog names must be in the store."""

    def __init__(self, cluster, nodes, total, hits):
        self.cluster, self.nodes, self.total, self.hits = cluster, nodes, total, hits
        self.problems, self.queries, self.store_checks = [], 0, 0
        self.stop_flag = False
        self.threads = [threading.Thread(target=self.query, args=(n,), daemon=True)
                        for n in nodes]
        self.threads.append(threading.Thread(target=self.objects, daemon=True))
        for t in self.threads:
            t.start()

    def query(self, n):
        while not self.stop_flag:
            try:
                got = count(n)
                if got != self.total:
                    self.problems.append("%s counted %d, not %d" % (n.name, got, self.total))
                hits = newest(n)
                if hits != self.hits:
                    self.problems.append("%s answered other newest hits (%d, first %s)" %
                                         (n.name, len(hits), hits[:1]))
                self.queries += 1
            except Exception as e:  # noqa: BLE001 - reported by stop()
                self.problems.append("%s: %s" % (n.name, e))
            time.sleep(0.1)

    def objects(self):
        while not self.stop_flag:
            try:
                check_named_stored(self.cluster, "while compacting")
                self.store_checks += 1
            except Exception as e:  # noqa: BLE001 - reported by stop()
                self.problems.append(str(e))
            time.sleep(0.5)

    def stop(self, what):
        self.stop_flag = True
        for t in self.threads:
            t.join(120)
        check(not self.problems, "%s: %d bad answers, e.g. %s" %
              (what, len(self.problems), self.problems[:3]))
        check(self.queries >= 10, "%s: only %d queries checked" % (what, self.queries))
        print("%s: %d queries on %s answered every line once and the same newest 100; %d checks "
              "found every object the catalog names in the store" %
              (what, self.queries, ",".join(n.name for n in self.nodes), self.store_checks))


def check_all_alike(nodes, acked, hits, what):
    for n in nodes:
        check_each_once(n, acked, "%s, node %s" % (what, n.name))
        got = count(n)
        check(got == len(acked), "%s: %s counted %d, %d sent" % (what, n.name, got, len(acked)))
        check(newest(n) == hits, "%s: %s answers other newest 100 hits" % (what, n.name))


def ingest_and_flush(nodes, ingesters, rounds):
    for _ in range(rounds):
        for i in ingesters:
            for _ in range(2):
                check(i.send_one() == 200, "ingest on %s failed: %s" % (i.name, i.failed[-1:]))
        for n in nodes:
            n.flush()


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--node-heartbeat", "500ms", "--node-timeout", "5s", "--flush-interval", "10m",
        "--segment-refresh-interval", "1s", "--query-timeout", "%ds" % QUERY_TIMEOUT,
        "--tier-interval", "0s", "--segment-sweep-interval", "2s",
        "--segment-orphan-grace", "%ds" % GRACE])
    failed = True
    try:
        # 1. a with the pause before its swap; b and c do not compact yet, so a's round is the
        # one that claims the partition.
        os.environ["SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS"] = "600000"
        a = cluster.node("a")
        del os.environ["SAWMILL_TEST_PAUSE_BEFORE_SWAP_MS"]
        lease = lambda: cluster.pg.psql(
            "SELECT name, holder FROM leases WHERE name LIKE 'compaction/%' AND holder <> ''")
        b = cluster.node("b", extra_args=["--compaction", "off"])
        c = cluster.node("c", extra_args=["--compaction", "off"])
        nodes = [a, b, c]
        wait_registries(nodes, 3)  # every registry lists the others
        ingesters = [Ingester(n, n.name) for n in nodes]
        ingest_and_flush(nodes, ingesters, ROUNDS)
        acked = [m for i in ingesters for m in i.acked]
        before = segments_by_tier(cluster)
        check(before == {"hot": 3 * ROUNDS}, "segments after the flushes: %s" % before)
        hits = newest(b)
        check(len(hits) == 100, "newest hits: %d" % len(hits))
        check_all_alike(nodes, acked, hits, "before compaction")
        inputs = named_paths(cluster)
        print("%d lines in %d hot segments (%d per node); every node answers them alike" %
              (len(acked), before["hot"], ROUNDS))

        # 2. a merges and stops before its swap, holding the partition's lease; killed there;
        # b or c finishes the job once the lease expired.
        pause = re.compile(r"test hook: compaction output (\d+) written")
        wait_for("node a's compaction paused before its swap",
                 lambda: pause.search(a.read_log(100000)), 60, lambda: a.read_log(1500))
        output = pause.search(a.read_log(100000)).group(1)
        orphan = [p for p in stored_paths(cluster) if p.endswith("/%s.seg" % output)]
        check(len(orphan) == 1, "a's output %s is not in the store: %s" %
              (output, sorted(stored_paths(cluster))[:20]))
        check(not cluster.pg.psql("SELECT id FROM segments WHERE id = %s" % output),
              "a's output %s is registered before its swap" % output)
        held = lease().split("|")
        check(len(held) == 2 and held[1].startswith("a#"),
              "the partition's lease while a is paused: %r" % lease())
        a.kill9()
        killed = time.time()
        print("node a killed in its compaction round holding %s: output %s in the store, "
              "unregistered" % (held[0], orphan[0]))
        b.stop()
        c.stop()
        b, c = cluster.restart(b), cluster.restart(c)  # compaction on (the default)
        time.sleep(1.5)  # every registry lists the others
        watch = Watch(cluster, [b, c], len(acked), hits)
        flushed_left = lambda: int(cluster.pg.psql(
            "SELECT count(*) FROM segments s JOIN segment_origins o ON o.segment_id = s.id"))
        wait_for("another node to compact every node's segments", lambda: flushed_left() == 0,
                 150, lambda: "%s; lease %r" % (segments_by_tier(cluster), lease()))
        took = time.time() - killed
        watch.stop("during compaction after the kill")
        after = segments_by_tier(cluster)
        check(after == {"hot": 3}, "segments after compaction: %s (want 3)" % after)
        by = [n.name for n in (b, c) if "compaction: %d segments of" % ROUNDS in n.read_log(200000)]
        check(by, "neither b nor c logged a compaction")
        print("node %s took the lease and compacted 15 segments into 3, %.1f s after the kill" %
              (by[0], took))

        # 3. a back; answers alike; inputs and a's output swept after the grace, never a named one.
        a = cluster.restart(a)
        nodes = [a, b, c]
        wait_registries(nodes, 3)
        check_all_alike(nodes, acked, hits, "after compaction")
        named, _ = check_named_stored(cluster, "after compaction")
        retired = inputs - named
        check(len(retired) == 3 * ROUNDS, "retired inputs: %d" % len(retired))
        gone = lambda: not ((retired | set(orphan)) & stored_paths(cluster))
        wait_for("the retired inputs and a's unregistered output deleted by the sweep", gone,
                 GRACE + 60, lambda: "left %s" % sorted((retired | set(orphan)) &
                                                        stored_paths(cluster))[:5])
        check_named_stored(cluster, "after the sweep")
        check_all_alike(nodes, acked, hits, "after the sweep")
        print("the %d retired inputs and a's unregistered output were deleted by the sweep; "
              "every named object is there; every node answers as before" % len(retired))

        # 4. Warm: more lines, flushed, then moved on b; cold refused.
        for i in ingesters:
            i.server = {"a": a, "b": b, "c": c}[i.name]
        ingest_and_flush(nodes, ingesters, 1)
        acked = [m for i in ingesters for m in i.acked]
        hits = newest(b)
        check_all_alike(nodes, acked, hits, "before the warm move")
        hot = named_paths(cluster)
        time.sleep(QUERY_TIMEOUT + 1)  # the segments are older than query_timeout on b
        watch = Watch(cluster, nodes, len(acked), hits)
        move = subprocess.run([binary, "admin", "tiers", "move", "--server", b.url,
                               "--older-than", "0s", "--to", "warm"],
                              capture_output=True, text=True, timeout=300)
        time.sleep(2)  # queries after the move too
        watch.stop("during the warm move")
        check(move.returncode == 0, "tiers move --to warm: %d %s %s" %
              (move.returncode, move.stdout, move.stderr))
        tiers = segments_by_tier(cluster)
        check(tiers == {"warm": 6}, "segments after the warm move: %s (want 6 warm)" % tiers)
        check_all_alike(nodes, acked, hits, "after the warm move")
        cold = subprocess.run([binary, "admin", "tiers", "move", "--server", b.url,
                               "--older-than", "0s", "--to", "cold"],
                              capture_output=True, text=True, timeout=60)
        check(cold.returncode != 0 and "no cold tier" in cold.stdout + cold.stderr,
              "tiers move --to cold on a cluster node: %d %s %s" %
              (cold.returncode, cold.stdout, cold.stderr))
        named, _ = check_named_stored(cluster, "after the warm move")
        sources = hot - named
        check(len(sources) == 6, "warm move sources retired: %d" % len(sources))
        wait_for("the warm move's sources deleted by the sweep",
                 lambda: not (sources & stored_paths(cluster)), GRACE + 60)
        check_named_stored(cluster, "after the warm move's sweep")
        check_all_alike(nodes, acked, hits, "after the warm move's sweep")
        print("tiers move --to warm on b: 6 hot segments -> 6 warm in the shared store, answers "
              "unchanged, sources swept; --to cold refused: %s" %
              (cold.stdout + cold.stderr).strip()[:160])
        failed = False
    finally:
        cluster.cleanup(failed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
