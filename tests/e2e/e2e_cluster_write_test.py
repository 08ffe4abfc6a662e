"""The write path of cluster nodes (issue 20, docs/cluster.md "Write path"): `sawmill server
--catalog postgresql://... --store s3://bucket/prefix` on a private PostgreSQL (initdb in a
temporary directory, restarted during the test) and the real S3 API of OpenStack Swift (the ctest
fixture s3_store), reached through a TCP proxy of the test's own that can be cut.

- --store without a PostgreSQL catalog is refused, saying why;
- an acknowledged batch is in a WAL object in the store, registered in wal_objects;
- two nodes ingest; node a is killed with SIGKILL mid-ingest; node b takes its unflushed WAL
  objects over (after node_timeout), replays and flushes them;
- the store unreachable for a while: acknowledgements wait or fail with 503;
- PostgreSQL restarted during ingest: nodes retry; nothing acknowledged was not registered;
- node b killed with SIGKILL mid-ingest and restarted: it replays its WAL objects;
- then every acknowledged line (of both nodes, through all of the above) is found exactly once,
  and the flushed WAL objects are gone from catalog and store.
- the acknowledgement latency (p50, p99) of one node, printed.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import shutil
import subprocess
import sys
import tempfile
import time

from cluster_lib import BUCKET, Cluster, Ingester, check_each_once, percentile, wait_for
from e2e_lib import check, metric_value


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir,
                      node_args=["--node-timeout", "4s", "--flush-interval", "3s"])
    pg, proxy, prefix = cluster.pg, cluster.proxy, cluster.prefix
    failed = True
    try:
        # 1. --store needs a PostgreSQL catalog.
        data = tempfile.mkdtemp(prefix="sawmill_cluster_refused_")
        out = subprocess.run([binary, "server", "--data", data, "--http", "127.0.0.1:0",
                              "--store", "s3://%s/%s" % (BUCKET, prefix)], capture_output=True,
                             text=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)
        check(out.returncode != 0 and "catalog must be PostgreSQL" in out.stderr,
              "--store without --catalog postgresql:// was not refused clearly: %d %s" %
              (out.returncode, out.stderr))

        a = cluster.node("a")
        b = cluster.node("b")

        # 2. Acknowledged: in a WAL object in the store and registered.
        first = Ingester(a, "first")
        check(first.send_one() == 200, "ingest on node a: %s" % first.failed)
        rows = pg.psql("SELECT name, node, owner, state FROM wal_objects ORDER BY first_seq")
        check(rows != "", "no WAL object registered after an acknowledgement")
        names = [r.split("|")[0] for r in rows.splitlines()]
        listed = set(cluster.store_names("wal/a/"))
        for r in rows.splitlines():
            name, n, owner, state = r.split("|")
            check(n == "a" and owner == "a" and state == "unflushed", "row %s" % r)
            check(prefix + "/" + name in listed, "%s is registered but not in the store" % name)
        print("acknowledged: %d WAL objects registered and in the store (%s)" %
              (len(names), names[0]))

        # 3. Both nodes ingest; a is killed mid-ingest; b takes its WAL objects over.
        ia, ib = Ingester(a, "a").start(), Ingester(b, "b").start()
        time.sleep(4)
        a.kill9()
        ia.join()
        killed_at = time.time()
        left = cluster.unflushed_wal_objects("a")
        print("node a killed: %d lines acknowledged, %d unflushed WAL objects left" %
              (len(ia.acked), left))
        check(left > 0, "node a left no unflushed WAL object to take over (flushed everything?)")
        wait_for("node b to take node a's WAL objects over",
                 lambda: cluster.unflushed_wal_objects("a") == 0, 60)
        # Claimed in one transaction, then read and replayed one by one.
        wait_for("node b to replay the %d objects it claimed" % left,
                 lambda: (metric_value(b.metrics(), "sawmill_wal_objects_taken_over_total")
                          or 0) >= left, 30)
        taken = metric_value(b.metrics(), "sawmill_wal_objects_taken_over_total")
        print("node b took over %d WAL objects %.1f s after the kill" %
              (taken, time.time() - killed_at))

        # 4. The store unreachable for a while (8 s, then 14 s: past the 10 s persist
        # deadline): acknowledgements wait or fail with 503.
        for outage in (8, 14):
            proxy.cut()
            time.sleep(outage)
            proxy.restore()
            time.sleep(3)
        ib.join()
        bad = [f for f in ib.failed if f[0] != 503]
        check(not bad, "answers other than 200 and 503 while the store was cut: %s" % bad[:3])
        print("store cut twice: %d batches acknowledged, %d refused with 503" %
              (len(ib.acked) // ib.batch_lines, len(ib.failed)))
        check(b.ingest("clusterw probe after the outage\n", params={"service": "cw"})[0] == 200,
              "node b does not take writes after the store came back")
        ib.acked.append("clusterw probe after the outage")

        # 5. PostgreSQL restarted during ingest.
        ipg = Ingester(b, "pg").start()
        time.sleep(1.5)
        pg.stop()
        time.sleep(3)
        pg.start()
        time.sleep(3)
        ipg.join()
        bad = [f for f in ipg.failed if f[0] != 503]
        check(not bad, "answers other than 200 and 503 across the PostgreSQL restart: %s" % bad[:3])
        print("PostgreSQL restarted: %d batches acknowledged, %d refused" %
              (len(ipg.acked) // ipg.batch_lines, len(ipg.failed)))

        # 6. b killed mid-ingest and restarted: it replays what it answers for.
        ik = Ingester(b, "k").start()
        time.sleep(2)
        b.kill9()
        ik.join()
        b = cluster.restart(b)

        # 7. Every acknowledged line exactly once.
        acked = first.acked + ia.acked + ib.acked + ipg.acked + ik.acked
        seen = check_each_once(b, acked, "node b after its restart")
        print("every acknowledged line found once: %d lines (%d found)" % (len(acked), len(seen)))

        # 8. Flushed: b's WAL objects leave catalog and store.
        b.flush()
        wait_for("node b's WAL objects to be deleted after the flush",
                 lambda: pg.psql("SELECT count(*) FROM wal_objects WHERE owner = 'b'") == "0" and
                 not cluster.store_names("wal/b/"), 30)
        segs = pg.psql("SELECT count(*), coalesce(sum(rows), 0) FROM segments "
                       "WHERE store = 'cold'")
        print("after the flush: no WAL object of b left; segments in the store: %s" % segs)

        # 9. Acknowledgement latency of one node, one batch at a time.
        lat = Ingester(b, "lat", batch_lines=100)
        for _ in range(60):
            check(lat.send_one() == 200, "latency batch: %s" % lat.failed)
        ms = [x * 1000 for x in lat.latencies]
        print("ack latency (100-line batches, wal_object_interval 200ms, one client): "
              "p50 %.0f ms, p99 %.0f ms" % (percentile(ms, 50), percentile(ms, 99)))
        failed = False
    finally:
        cluster.cleanup(failed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
