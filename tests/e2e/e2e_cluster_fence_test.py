"""The fenced flush of cluster nodes (issue 20, docs/cluster.md "Fenced flush"): a node that
stalls past node_timeout (SIGSTOP) has its unflushed WAL objects taken over by another node; when
it wakes (SIGCONT) it still holds their lines in its memtables, and its next flush must not put
them in a segment a second time. Two nodes on a private PostgreSQL and the real S3 API of
OpenStack Swift (the ctest fixture s3_store), started through cluster_lib.Cluster.

- nodes a and b ingest; a is stopped with SIGSTOP while it holds lines in memtables;
- b takes a's WAL objects over after node_timeout (4 s) and flushes them;
- a is continued with SIGCONT and keeps ingesting; queries through b meanwhile find none of a's
  lines twice (a does not answer for the rows it lost); its flushes are fenced: the rows of
  taken-over objects are dropped (and a segment holding them deleted), logged and counted;
- then every acknowledged line is found exactly once through a, through b and through a node
  started afresh (cluster_lib's check_after_flush);
- meanwhile the sweep of orphan segment objects (docs/cluster.md "Orphan segment objects")
  deletes a segment object no catalog row names once the grace has passed, never before, and
  never an object the catalog names.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import signal
import sys
import time

from cluster_lib import BUCKET, Cluster, Ingester, wait_for
from e2e_cold_search_test import s3
from e2e_lib import check, metric_value

GRACE = 10  # segment_orphan_grace, s


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--node-timeout", "4s", "--node-heartbeat", "1s",
        "--segment-sweep-interval", "2s", "--segment-orphan-grace", "%ds" % GRACE,
        # The grace must be at least query_timeout + segment_refresh_interval (1 s by default:
        # compaction inputs wait that long).
        "--query-timeout", "%ds" % (GRACE - 2)])
    failed = True
    stopped = None
    try:
        # An orphan: a segment object no catalog row will ever name (a flush whose node died
        # before the registration), left before the nodes start.
        orphan = cluster.prefix + "/segments/t-gone/999999999.seg"
        s3(cluster.env, "PUT", BUCKET + "/" + orphan, {}, b"not a segment anyone registered")
        # a flushes only when told to (and when fenced): its memtables still hold the lines b
        # takes over when it wakes, until the flush below (not at once by its flush interval).
        a = cluster.node("a", extra_args=["--flush-interval", "600s"])
        b = cluster.node("b", extra_args=["--flush-interval", "3s"])
        started = time.time()
        ia, ib = Ingester(a, "a").start(), Ingester(b, "b").start()
        time.sleep(2.5)
        check(orphan in cluster.store_names("segments/"),
              "the orphan was deleted %.1f s after the nodes started, before its grace (%d s)" %
              (time.time() - started, GRACE))

        # a stalls with lines in its memtables and unflushed WAL objects.
        a.proc.send_signal(signal.SIGSTOP)
        stopped = a
        stopped_at = time.time()
        left = cluster.unflushed_wal_objects("a")
        print("node a stopped with %d unflushed WAL objects" % left)
        check(left > 0, "node a had no unflushed WAL object when it stopped")
        wait_for("node b to take node a's WAL objects over",
                 lambda: cluster.unflushed_wal_objects("a") == 0, 60)
        wait_for("node b to replay what it claimed",
                 lambda: (metric_value(b.metrics(), "sawmill_wal_objects_taken_over_total")
                          or 0) >= left, 30)
        b.flush()
        print("node b took %d WAL objects over %.1f s after the stop" %
              (metric_value(b.metrics(), "sawmill_wal_objects_taken_over_total"),
               time.time() - stopped_at))

        # a wakes up: its in-flight batch and new ones are its own again; the lines of the
        # objects b took are not a's to flush any more.
        a.proc.send_signal(signal.SIGCONT)
        stopped = None
        # Until a's flush drops them, a's memtables still hold the lines b took over, and b's
        # segments hold them too: a query through b must not count them twice (docs/cluster.md
        # "Fenced answers": a answers no memtable search until then; the answer is partial).
        asked, partial = 0, 0
        until = time.time() + 3
        while time.time() < until:
            status, answer = b.search("host=a", limit="10000")
            check(status == 200, "search through b after a woke: %d %s" % (status, answer))
            seen = {}
            for hit in answer["hits"]:
                seen[hit["message"]] = seen.get(hit["message"], 0) + 1
            twice = [m for m, n in seen.items() if n > 1]
            check(not twice, "a query through b %.1f s after a woke found %d of a's lines twice, "
                  "e.g. %s" % (time.time() - until + 3, len(twice), twice[:3]))
            asked += 1
            partial += 1 if answer.get("partial") else 0
            time.sleep(0.2)
        print("after a woke: %d queries through b, %d partial, none with a line twice" %
              (asked, partial))
        a.flush()  # a fenced flush drops what is not a's and succeeds
        time.sleep(2)
        ia.join()
        ib.join()
        bad = [f for f in ia.failed + ib.failed if f[0] not in (503, None)]
        check(not bad, "answers other than 200, 503 or a timeout: %s" % bad[:3])
        metrics_a, log_a = a.metrics(), a.read_log(tail=200000)

        # Everything flushed: every acknowledged line once through a, b and a fresh node.
        acked = ia.acked + ib.acked
        cluster.check_after_flush([a, b], acked)
        print("every acknowledged line found once: %d lines (a %d, b %d)" %
              (len(acked), len(ia.acked), len(ib.acked)))

        # The orphan is swept (by whichever node held the sweep's lease), and every object the
        # catalog names is still there.
        wait_for("the orphan segment object to be swept",
                 lambda: orphan not in cluster.store_names("segments/"), 60)
        logs = "".join(x.read_log(tail=200000) for x in cluster.servers)
        check("segment sweep: deleted" in logs and "999999999.seg" in logs,
              "no node logged the sweep of the orphan")
        listed = set(cluster.store_names("segments/"))
        paths = cluster.pg.psql("SELECT path FROM segments").split()
        check(paths, "no segment registered")
        gone = [p for p in paths if cluster.prefix + "/segments/" + p not in listed]
        check(not gone, "segment objects the catalog names are gone: %s" % gone[:3])
        print("orphan segment object swept after its grace; the %d named ones are all there" %
              len(paths))

        # What a did about it: logged and counted.
        fenced = metric_value(metrics_a, "sawmill_flush_fenced_total") or 0
        dropped = metric_value(metrics_a, "sawmill_flush_fenced_rows_total") or 0
        lost = metric_value(metrics_a, "sawmill_wal_objects_fenced_total") or 0
        print("node a after it woke: %d segment(s) fenced, %d rows dropped, %d WAL objects lost" %
              (fenced, dropped, lost))
        # A segment is refused (fenced) only when the flush is the first to learn of the
        # takeover; a's heartbeat gap makes it check its objects first (docs/cluster.md "Fenced
        # answers"), and then the flush leaves the lost rows out before it registers.
        check(dropped > 0 and lost >= 1,
              "node a's flush did not drop the rows it lost (segments %d, rows %d, objects %d)" %
              (fenced, dropped, lost))
        check("were taken over by another node" in log_a,
              "node a's log does not say its WAL objects were taken over")
        failed = False
    finally:
        if stopped is not None:
            stopped.proc.send_signal(signal.SIGCONT)
        cluster.cleanup(failed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
