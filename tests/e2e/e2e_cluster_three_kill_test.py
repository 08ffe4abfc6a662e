"""Three cluster nodes on one PostgreSQL catalog and one S3 store lose nothing acknowledged when a
node is killed or PostgreSQL restarts while all three ingest (issue 20 "Tests",
docs/cluster.md "Failure cases"):

- node c is killed with SIGKILL mid-ingest, with unflushed WAL objects; the other two take them
  over (each claim by one node: SELECT ... FOR UPDATE SKIP LOCKED) after node_timeout;
- PostgreSQL is stopped for 4 s and started again while a and b ingest: the nodes retry, and no
  batch sent while it was down is acknowledged before it is back (acknowledged means
  registered);
- c restarts on its data directory and ingests again;
- then every node flushes (no WAL object left in the catalog; orphan WAL objects, written but
  never registered, deleted by their node's start-up sweep) and every acknowledged line (2xx,
  from native NDJSON and Loki push clients) is found exactly once through every node and through
  a node started afterwards.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import sys
import time

from cluster_lib import Cluster, Ingester, acked_between, wait_for
from e2e_lib import check, metric_value


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--flush-interval", "1h", "--node-heartbeat", "500ms", "--node-timeout", "6s"])
    failed = True
    try:
        a, b, c = (cluster.node(n) for n in ("a", "b", "c"))
        ia = Ingester(a, "a", "native").start()
        ib = Ingester(b, "b", "loki").start()
        ic = Ingester(c, "c", "native").start()
        time.sleep(4)

        # 1. SIGKILL c mid-ingest.
        c.kill9()
        killed_at = time.time()
        ic.join()
        left = cluster.unflushed_wal_objects("c")
        print("node c killed: %d lines acknowledged, %d unflushed WAL objects left" %
              (len(ic.acked), left))
        check(len(ic.acked) > 0 and left > 0,
              "node c left nothing to take over (%d lines acknowledged, %d objects)" %
              (len(ic.acked), left))
        bad = [f for f in ic.failed if f[0] is not None]
        check(not bad, "node c answered other than 2xx before it was killed: %s" % bad[:3])
        wait_for("nodes a and b to take c's WAL objects over",
                 lambda: cluster.unflushed_wal_objects("c") == 0, 60)

        def taken_over():
            return sum(metric_value(n.metrics(), "sawmill_wal_objects_taken_over_total")
                       for n in (a, b))
        wait_for("a and b to replay the %d objects claimed" % left, lambda: taken_over() >= left,
                 30)
        check(taken_over() == left, "a and b took over %d objects, c left %d" %
              (taken_over(), left))
        print("a and b took over %d WAL objects of c %.1f s after the kill (a %d, b %d)" %
              (left, time.time() - killed_at,
               metric_value(a.metrics(), "sawmill_wal_objects_taken_over_total"),
               metric_value(b.metrics(), "sawmill_wal_objects_taken_over_total")))

        # 2. PostgreSQL restarted while a and b ingest.
        time.sleep(1.5)
        cluster.pg.stop()
        down_at = time.time()
        time.sleep(4)
        up_at = time.time()
        cluster.pg.start()
        back_at = time.time()
        time.sleep(4)
        early = acked_between((ia, ib), down_at + 0.5, up_at)
        check(not early, "acknowledged while PostgreSQL was down (not registered): %s" % early[:3])
        during = [x for i in (ia, ib) for x in i.batches if x[0] < back_at and x[1] > down_at]
        print("PostgreSQL down %.1f s: %d batches in flight meanwhile, %d acknowledged after it "
              "came back, %d refused" % (up_at - down_at, len(during),
                                    sum(1 for x in during if x[2] and 200 <= x[2] < 300),
                                    sum(1 for x in during if not x[2] or x[2] >= 300)))

        # 3. c comes back on its data directory and ingests again.
        c = cluster.restart(c)
        ic2 = Ingester(c, "c2", "loki").start()
        time.sleep(3)
        for i in (ia, ib, ic2):
            i.join()
        for i in (ia, ib, ic2):
            bad = [f for f in i.failed if f[0] not in (503,)]
            check(not bad, "%s: answers other than 2xx and 503: %s" % (i.name, bad[:3]))
        acked = ia.acked + ib.acked + ic.acked + ic2.acked
        print("acknowledged: a %d, b %d, c %d then %d lines; refused batches: %d" %
              (len(ia.acked), len(ib.acked), len(ic.acked), len(ic2.acked),
               sum(len(i.failed) for i in (ia, ib, ic2))))

        # 4. Every acknowledged line exactly once after every flush: through each node and
        # through a node started afterwards.
        cluster.check_after_flush([a, b, c], acked)
        failed = False
    finally:
        cluster.cleanup(failed)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
