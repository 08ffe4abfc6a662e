"""Three cluster nodes on one PostgreSQL catalog and one S3 store lose nothing acknowledged when
the store refuses or vanishes for a while during ingest (issue 20 "Tests", docs/cluster.md
"Failure cases"). The nodes reach the store (OpenStack Swift's S3 API) through a proxy that:

- answers every request 503 SlowDown for 5 s (shorter than the WAL-object deadline of 10 s:
  acknowledgements wait, then go through),
- answers 503 SlowDown for 16 s (longer: batches are refused with 503, /readyz says not ready
  once the first WAL object failed, 10 to 13 s in),
- closes every connection for 8 s (the store unreachable).

No batch sent during an outage is acknowledged before the outage ends (acknowledged means in a
WAL object in the store); every answer is 2xx or 503; /readyz says 503 while the store refuses
past the deadline; every node takes writes again afterwards; and after every node flushed (orphan
WAL objects deleted by their node's start-up sweep) every acknowledged line is found exactly once
through every node and through a node started afterwards.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import sys
import time

from cluster_lib import Cluster, Ingester, acked_between
from e2e_lib import check, request


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--flush-interval", "1h", "--node-heartbeat", "500ms", "--node-timeout", "10s"])
    failed = True
    try:
        a, b, c = (cluster.node(n) for n in ("a", "b", "c"))
        ingesters = [Ingester(a, "a", "native").start(), Ingester(b, "b", "loki").start(),
                     Ingester(c, "c", "native").start()]
        time.sleep(3)
        outages = []
        for kind, seconds in (("503", 5), ("503", 16), ("cut", 8)):
            before = sum(len(i.acked) for i in ingesters)
            started = time.time()
            if kind == "503":
                cluster.proxy.slow_down()
            else:
                cluster.proxy.cut()
            ready_during = None
            if seconds > 12:
                # A WAL object fails once its writer's 10 s deadline passed and the attempt
                # running then ended (the S3 client retries one PUT for up to 3 s): about 10 to
                # 13 s after the object began. /readyz is 503 from then until the store is back.
                time.sleep(10)
                answers = []
                while time.time() < started + seconds - 0.5:
                    answers.append(request(b.url + "/readyz", timeout=5)[0])
                    if answers[-1] == 503:
                        break
                    time.sleep(0.25)
                ready_during = answers[-1]
                ready_at = time.time() - started
                time.sleep(max(0.0, started + seconds - time.time()))
            else:
                time.sleep(seconds)
            ended = time.time()
            cluster.proxy.restore()
            time.sleep(3)
            early = acked_between(ingesters, started + 0.3, ended)
            check(not early, "%s for %d s: acknowledged before the store was back: %s" %
                  (kind, seconds, early[:3]))
            # Batches in flight at some time during the outage.
            sent = [x for i in ingesters for x in i.batches if x[0] < ended and x[1] > started]
            refused = [x for x in sent if not x[2] or x[2] >= 300]
            outages.append((kind, seconds, len(sent), len(refused)))
            print("store %s for %d s: %d batches in flight meanwhile, %d refused, the rest "
                  "acknowledged after it came back (%d lines acknowledged since)%s" %
                  (kind, seconds, len(sent), len(refused),
                   sum(len(i.acked) for i in ingesters) - before,
                   "; /readyz during it: %s after %.1f s" % (ready_during, ready_at)
                   if ready_during else ""))
            if seconds > 12:
                check(ready_during == 503, "/readyz after %.1f s of store failures: %s" %
                      (ready_at, ready_during))
                check(refused, "no batch refused while the store answered 503 for %d s" %
                      seconds)
        check(cluster.proxy.answered_503 > 0, "the proxy answered no 503: not in the path?")
        for i in ingesters:
            i.join()
            bad = [f for f in i.failed if f[0] != 503]
            check(not bad, "%s: answers other than 2xx and 503: %s" % (i.name, bad[:3]))
        for n in (a, b, c):
            check(request(n.url + "/readyz")[0] == 200, "node %s not ready after" % n.name)
            probe = Ingester(n, "probe-" + n.name)
            check(200 <= (probe.send_one() or 0) < 300,
                  "node %s does not take writes after the outages: %s" % (n.name, probe.failed))
            ingesters.append(probe)
        acked = [line for i in ingesters for line in i.acked]
        print("acknowledged %d lines; the proxy answered %d requests 503" %
              (len(acked), cluster.proxy.answered_503))

        cluster.check_after_flush([a, b, c], acked)
        failed = False
    finally:
        cluster.cleanup(failed)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
