"""Idempotency-Keys across cluster nodes (issue 20, docs/cluster.md "Idempotency-Keys across
nodes", docs/api.md "Idempotency-Key"): nodes on one private PostgreSQL catalog and the fixture's
S3 API (tests/e2e/cluster_lib.py). A client that retries a batch under its key against another
node (a load balancer sent the retry elsewhere) gets the first answer, and the lines are stored
once:

1. a batch with a key to node a, then the same key and body to node b: 200 with the same counts
   and Idempotent-Replayed, one copy of the lines through either node; the same key with another
   body, to either node: 422 (the existing conflict error), nothing stored;
2. the race: the same key and body sent to a and b at the same moment, for 12 keys: both answers
   are the first answer, each batch is stored once;
3. after every node flushed (WAL objects deleted, keys in the catalog) a retry to b and to a node
   c started afterwards still gets the first answer; nothing is stored again.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import json
import sys
import threading

from cluster_lib import Cluster, wait_for
from e2e_lib import check, metric_value, request, wait_registries

LINES = 7


def body_of(tag, lines=LINES):
    return "".join("cidem%s line %d\n" % (tag, i) for i in range(lines))


def send(node, body, key):
    return node.ingest(body.encode(), params={"service": "cidem"},
                       headers={"Idempotency-Key": key, "Content-Type": "text/plain"})


def main(binary, shared, store_dir):
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--flush-interval", "1h", "--node-heartbeat", "300ms", "--node-timeout", "3s",
        "--query-timeout", "30s"])
    failed = True
    try:
        a, b = cluster.node("a"), cluster.node("b")

        def live_nodes(server):
            status, _, body = request(server.url + "/api/v1/admin/nodes")
            return json.loads(body).get("live") if status == 200 else None

        for n in (a, b):
            wait_for("node %s to see 2 live nodes" % n.name, lambda: live_nodes(n) == 2, 30)
        wait_registries([a, b], 2)  # the peers each fans out to: read at its next heartbeat

        # 1. Node a stores the batch; the retry to node b gets a's answer.
        status, _, first = send(a, body_of("one"), "agent-7-1")
        check(status == 200, "first send to a: %d %s" % (status, first))
        check(json.loads(first)["accepted"] == LINES, "first answer: %s" % first)
        status, headers, again = send(b, body_of("one"), "agent-7-1")
        check(status == 200, "retry to b: %d %s" % (status, again))
        check(again == first, "retry answer on b %s differs from a's %s" % (again, first))
        check(headers.get("Idempotent-Replayed") == "true",
              "no Idempotent-Replayed header on b's answer: %s" % headers)
        for n in (a, b):
            got = n.count("cidemone", whole=True)
            check(got == LINES, "node %s counts %d lines of the batch, expected %d (stored "
                  "twice?)" % (n.name, got, LINES))
        print("retry to another node: the first answer %s, the lines stored once" %
              first.decode())
        for n in (b, a):
            status, _, error = send(n, body_of("two", 3), "agent-7-1")
            check(status == 422, "another body under a used key on %s: %d %s" %
                  (n.name, status, error))
            message = json.loads(error)["error"]
            check("Idempotency-Key 'agent-7-1' was already used for a different batch" in message,
                  "unclear 422 on %s: %s" % (n.name, message))
        check(a.count("cidemtwo", whole=True) == 0, "the other body was stored")
        print("another body under the key: 422 on both nodes, nothing stored")

        # 2. The same key to both nodes at the same moment.
        keys = ["race-%d" % i for i in range(12)]
        answers = {}

        def sender(node, key):
            answers[(node.name, key)] = send(node, body_of(key.replace("-", "")), key)

        for key in keys:
            threads = [threading.Thread(target=sender, args=(n, key)) for n in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        replayed = 0
        for key in keys:
            sa, ha, ba = answers[("a", key)]
            sb, hb, bb = answers[("b", key)]
            check(sa == 200 and sb == 200, "race %s: a %d %s, b %d %s" % (key, sa, ba, sb, bb))
            check(ba == bb, "race %s: a answered %s, b %s" % (key, ba, bb))
            replayed += (ha.get("Idempotent-Replayed") == "true") + \
                (hb.get("Idempotent-Replayed") == "true")
            got = b.count("cidem" + key.replace("-", ""), whole=True)
            check(got == LINES, "race %s: %d lines stored, expected %d" % (key, got, LINES))
        check(replayed == len(keys), "%d replayed answers for %d keys (one per key expected)" %
              (replayed, len(keys)))
        claimed = sum(metric_value(n.metrics(), "sawmill_idempotency_claims_total",
                                   outcome="claimed") for n in (a, b))
        check(claimed == len(keys) + 1, "%d claims taken, expected %d" % (claimed, len(keys) + 1))
        print("the same key to both nodes at once, %d times: one copy each, both answers the "
              "first" % len(keys))

        # 3. After the flush (keys in the catalog, WAL objects gone), and on a node started later.
        cluster.flush_all([a, b])
        c = cluster.node("c")
        wait_for("node c to see 3 live nodes", lambda: live_nodes(c) == 3, 30)
        for n in (b, c):
            status, headers, later = send(n, body_of("one"), "agent-7-1")
            check(status == 200 and later == first and
                  headers.get("Idempotent-Replayed") == "true",
                  "retry after the flush on %s: %d %s %s" % (n.name, status, later, headers))
        for n in (a, b, c):
            got = n.count("cidemone", whole=True)
            check(got == LINES, "after the flush node %s counts %d, expected %d" %
                  (n.name, got, LINES))
        print("after the flush: retries to b and to a new node c get the first answer")
        failed = False
    finally:
        cluster.cleanup(failed)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
