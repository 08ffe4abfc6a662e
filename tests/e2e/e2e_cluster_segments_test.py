"""The read path of cluster nodes (issue 20, docs/cluster.md "The segment view" and "Exactly once
across nodes"): three `sawmill server --catalog postgresql://... --store s3://bucket/prefix`
processes on a private PostgreSQL and the real S3 API of OpenStack Swift (the ctest fixture
s3_store), flushing every second while they ingest:

- while every node ingests and flushes, every count on every node lies between the lines
  acknowledged before it started and those sent by its end (a line a peer flushed between its
  memtable answer and this node's plan is neither missed nor counted twice; a batch is searchable
  once stored, before its answer reaches the client, so one still awaiting its answer may be
  counted), and no answer is partial;
- every node has flushed segments while the others counted (the catalog names all three): the
  ingest lasts 12 s and then until each node has registered two segments (a flush writes the
  segment to the store and reads it back: under load that takes seconds, so a fixed window
  proved nothing about the flushes; 120 s at most), and each node reads the others' from the
  store;
- once the writers stop, every node exports every acknowledged line exactly once.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import sys
import threading
import time

from cluster_lib import Cluster, Ingester, check_each_once, wait_for
from e2e_lib import check, metric_value, wait_registries

# The catalog's sessions that are in a transaction or waiting, with what blocks them (shown when
# the flushes do not come).
SESSIONS = ("SELECT application_name, state, wait_event_type, wait_event, "
            "pg_blocking_pids(pid), left(query, 80) FROM pg_stat_activity "
            "WHERE datname IS NOT NULL AND pid <> pg_backend_pid() "
            "AND (xact_start IS NOT NULL OR wait_event_type = 'Lock')")


def flushed_by(cluster):
    """{node: segments it registered} from the catalog."""
    origins = cluster.pg.psql("SELECT node, count(*) FROM segment_origins GROUP BY node "
                              "ORDER BY node")
    return dict(r.split("|") for r in origins.splitlines())


def flush_metrics(nodes):
    out = {}
    for n in nodes:
        m = n.metrics()
        out[n.name] = tuple(metric_value(m, k) for k in (
            "sawmill_flushes_total", "sawmill_flush_errors_total", "sawmill_flush_seconds_sum"))
    return out


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--node-heartbeat", "300ms", "--node-timeout", "5s", "--flush-interval", "1s",
        "--segment-refresh-interval", "1s"])
    failed = True
    try:
        nodes = [cluster.node(name) for name in ("a", "b", "c")]
        wait_registries(nodes, 3)  # every node's registry lists the others

        # 1. Ingest on every node, flushes every second, counts on every node meanwhile.
        ingesters = [Ingester(n, n_name).start() for n, n_name in zip(nodes, "abc")]
        acked = lambda: sum(len(i.acked) for i in ingesters)
        sent = lambda: sum(i.batch * i.batch_lines for i in ingesters)
        checks, problems = [0], []

        def query(n):
            while not stop[0]:
                low = acked()
                try:
                    got = n.count("clusterw", whole=True)
                except Exception as e:  # noqa: BLE001 - reported below
                    problems.append("%s: %s" % (n.url, e))
                    return
                high = sent()
                if got < low:
                    problems.append("%s counted %d, %d were acknowledged before: lines missing" %
                                    (n.url, got, low))
                if got > high:
                    problems.append("%s counted %d, only %d sent by its end: lines counted "
                                    "twice" % (n.url, got, high))
                checks[0] += 1

        stop = [False]
        readers = [threading.Thread(target=query, args=(n,), daemon=True) for n in nodes]
        for r in readers:
            r.start()
        start = time.time()
        time.sleep(12)
        wait_for("two segments registered by every node while all ingest and count",
                 lambda: all(int(flushed_by(cluster).get(name, 0)) >= 2 for name in "abc"), 108,
                 lambda: "%s; flushes %s; sessions %s" % (
                     flushed_by(cluster), flush_metrics(nodes), cluster.pg.psql(SESSIONS)))
        ingest_s = time.time() - start
        for i in ingesters:
            i.join()
        stop[0] = True
        for r in readers:
            r.join(120)
        check(not problems, "%d bad answers, e.g. %s" % (len(problems), problems[:3]))
        refused = [f for i in ingesters for f in i.failed]
        check(not refused, "ingest failed: %s" % refused[:3])
        check(checks[0] >= 10, "only %d counts checked" % checks[0])
        print("while ingesting and flushing for %.1f s: %d counts on 3 nodes, each between the "
              "lines acknowledged before and sent by its end (%d lines acknowledged)" %
              (ingest_s, checks[0], acked()))

        # 2. Every node flushed segments, and reads the others' from the store.
        flushed = flushed_by(cluster)
        check(sorted(flushed) == ["a", "b", "c"], "segments flushed by nodes: %s" % flushed)
        for n in nodes:
            refreshed = metric_value(n.metrics(), "sawmill_segment_refreshes_total") or 0
            check(refreshed > 0, "%s never refreshed its segment view" % n.url)
        print("segments flushed per node: %s" % flushed)

        # 3. Quiet: every node exports every acknowledged line exactly once.
        messages = [m for i in ingesters for m in i.acked]
        for n in nodes:
            seen = check_each_once(n, messages, "node %s" % n.name)
            check(len(seen) == len(messages), "%s: %d lines, %d acknowledged" %
                  (n.url, len(seen), len(messages)))
        print("every node exports the %d acknowledged lines exactly once" % len(messages))
        failed = False
    finally:
        cluster.cleanup(failed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
