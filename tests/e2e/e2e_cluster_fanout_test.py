"""Query fan-out and live tail between real server processes (docs/cluster.md "Read path"): a search on one
node also asks every other live node of its catalog's nodes table for its memtables' part over
POST /internal/v1/memtable-search (authenticated by the cluster secret) and merges the parts
newest first, counts added, top and uniq merged; a node that does not answer in time, or cannot
be reached, makes the answer partial with a warning naming it. A live-tail session on one node
receives the lines ingested on every node (the peers' /internal/v1/tail-feed streams), and is
told when a node's feed breaks.

Differential: lines spread over three servers (the coordinator's own in segments and memtables,
the others' in their memtables) answer every query as one server holding all of them does.

How the nodes find each other here: servers sharing one PostgreSQL catalog need cluster mode
(--store s3://..., the write path, not on main yet: a second server on a catalog of local files
refuses to start). So the coordinator has a PostgreSQL catalog of its own and the test writes
the other servers' rows into its nodes table, as their own heartbeats would in a shared catalog;
everything else (the registry's live list, the fan-out, the internal route, the merge) is the
real path. argv[2]: the ctest fixture pg_server's directory."""

import json
import os
import socket
import sys
import threading
import time
import urllib.parse

from e2e_lib import (Server, WebSocket, check, create_database, drop_database, metric_value, psql,
                     request, wait_registries)

SECRET = "e2e-cluster-secret-0123456789"
BASE_TS = 1796500000  # 2026-12-05T...Z, seconds


def lines(start, count, node):
    """NDJSON lines with distinct timestamps (so that newest-first order is the same on every
    server whatever their ingest times), services, hosts and levels."""
    out = []
    for i in range(start, start + count):
        ts = BASE_TS + i  # one second apart, never equal
        out.append(json.dumps({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % (i % 1000),
            "service": ("payments", "search", "auth", "billing")[i % 4],
            "host": "h%d" % (i % 7),
            "level": ("INFO", "WARN", "ERROR")[i % 3],
            "msg": "line %d from %s %s" % (i, node, ("timeout", "ok", "card declined")[i % 3]),
        }))
    return "\n".join(out) + "\n"


def search(server, q, **params):
    params.setdefault("all_time", "1")
    params.setdefault("time_field", "ts")
    params["q"] = q
    status, _, body = request(server.url + "/api/v1/search?" + urllib.parse.urlencode(params),
                              timeout=120)
    answer = json.loads(body)
    check(status == 200, "search %r: %d %s" % (q, status, answer))
    return answer


def context(server, hit_id, before=2, after=2):
    """GET /api/v1/context: (status, answer)."""
    status, _, body = request(server.url + "/api/v1/context?id=%s&before=%d&after=%d" %
                              (hit_id, before, after), timeout=120)
    return status, json.loads(body)


def ingest(server, body):
    status, _, answer = server.ingest(body)
    check(status == 200, "ingest: %d %s" % (status, answer))


QUERIES = [
    ("*", {"limit": "100"}),
    ("error", {"limit": "37"}),
    ("service=payments timeout", {"limit": "500"}),
    ("level>=WARN", {"limit": "1"}),
    ("* | count", {}),
    ("card declined | count", {}),
    ("* | count by service, level", {}),
    ("* | top 3 host", {}),
    ("level=ERROR | uniq service", {}),
    ("* | count by bucket(10m)", {}),
    ("* | bytes by service", {}),
    ("* | fields service, host, message | head 9", {}),
]


def comparable(answer):
    if answer.get("rows") is not None and answer.get("rows"):
        return ("rows", answer["rows"])
    return ("hits", [(h["message"], h["service"], h["host"], h["level"]) for h in answer["hits"]])


def stalled_listener():
    """A TCP port that accepts connections and never answers: a node that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return sock, held


def main(binary, pg_dir):
    with open(os.path.join(pg_dir, "url")) as f:
        admin_url = f.read().strip()
    database = "e2e_fanout_%d" % os.getpid()
    url = create_database(admin_url, database)
    # Memtables stay memtables unless flushed by the test.
    common = ["--cluster-secret", SECRET, "--flush-interval", "1h", "--node-heartbeat", "300ms",
              "--node-timeout", "3s"]
    coordinator = Server(binary, extra_args=common + ["--catalog", url, "--query-timeout", "4s"])
    peers = [Server(binary, extra_args=common) for _ in range(2)]
    reference = Server(binary, extra_args=["--flush-interval", "1h"])
    stalled = None
    try:
        for s in [coordinator, reference] + peers:
            s.start()
        # The coordinator's lines: some flushed into segments, some in its memtables.
        ingest(coordinator, lines(0, 400, "c"))
        coordinator.flush()
        ingest(coordinator, lines(400, 200, "c"))
        ingest(peers[0], lines(600, 300, "p1"))
        ingest(peers[1], lines(900, 250, "p2"))
        for start, count, node in ((0, 400, "c"), (400, 200, "c"), (600, 300, "p1"),
                                   (900, 250, "p2")):
            ingest(reference, lines(start, count, node))
        before = search(coordinator, "* | count")
        check(before["rows"][0]["count"] == 600, "alone, the coordinator holds 600: %s" % before)

        # The peers join the coordinator's nodes table (heartbeats far in the future: live).
        for i, peer in enumerate(peers):
            psql(url, "INSERT INTO nodes (id, url, started_ns, heartbeat_ns) VALUES "
                      "('peer%d', '%s', 1, 9000000000000000000)" % (i, peer.url))
        deadline = time.time() + 10
        while time.time() < deadline:
            status, _, body = request(coordinator.url + "/api/v1/admin/nodes")
            if json.loads(body)["live"] == 3:
                break
            time.sleep(0.2)
        check(json.loads(body)["live"] == 3, "the coordinator does not see 3 live nodes: %s" % body)
        # Its registry's list of peers is the one read at its last heartbeat.
        wait_registries([coordinator], 3)

        counted = search(coordinator, "* | count")
        check(counted["rows"][0]["count"] == 1150,
              "count over three nodes: %s" % json.dumps(counted)[:800])
        for q, params in QUERIES:
            got = search(coordinator, q, **params)
            want = search(reference, q, **params)
            check(not got["partial"], "%r partial: %s" % (q, got.get("warnings")))
            check(comparable(got) == comparable(want),
                  "%r: three nodes and one disagree:\n  cluster %s\n  one     %s" %
                  (q, str(comparable(got))[:600], str(comparable(want))[:600]))
        print("differential: %d queries answer on three nodes as on one" % len(QUERIES))
        total = search(coordinator, "* | count")["rows"][0]["count"]
        check(total == 1150, "count over three nodes: %d, expected 1150" % total)

        # The internal route refuses requests without the cluster secret.
        body = json.dumps({"tenant": "default", "q": "*", "from_ns": 0, "to_ns": 1,
                           "all_time": True, "time_field": "ts", "limit": 1,
                           "timeout_ms": 1000}).encode()
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-search", "POST", body)
        check(status == 401 and b"X-Sawmill-Cluster-Secret" in answer,
              "no secret: %d %s" % (status, answer))
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-search", "POST", body,
                                    headers={"X-Sawmill-Cluster-Secret": "wrong-secret-0123456789"})
        check(status == 401 and b"wrong cluster secret" in answer,
              "wrong secret: %d %s" % (status, answer))
        status, _, answer = request(reference.url + "/internal/v1/memtable-search", "POST", body,
                                    headers={"X-Sawmill-Cluster-Secret": SECRET})
        check(status == 409 and b"no cluster_secret" in answer,
              "a node without a secret: %d %s" % (status, answer))
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-search", "POST", body,
                                    headers={"X-Sawmill-Cluster-Secret": SECRET})
        check(status == 200, "right secret: %d %s" % (status, answer))
        # The context's part (docs/cluster.md "Context across nodes"): the same secret rules,
        # and the 1,000-line cap on the asked node too.
        body = json.dumps({"tenant": "default", "id": 1, "before": 2, "after": 2,
                           "timeout_ms": 1000}).encode()
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-context", "POST", body)
        check(status == 401 and b"X-Sawmill-Cluster-Secret" in answer,
              "context part without a secret: %d %s" % (status, answer))
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-context", "POST", body,
                                    headers={"X-Sawmill-Cluster-Secret": SECRET})
        check(status == 200, "context part, right secret: %d %s" % (status, answer))
        over = json.dumps({"tenant": "default", "id": 1, "before": 1001, "after": 2,
                           "timeout_ms": 1000}).encode()
        status, _, answer = request(peers[0].url + "/internal/v1/memtable-context", "POST", over,
                                    headers={"X-Sawmill-Cluster-Secret": SECRET})
        check(status == 400 and b"at most 1000" in answer,
              "context part over the cap: %d %s" % (status, answer))
        print("internal routes: no secret 401, wrong secret 401, node without one 409; "
              "memtable-context alike, over 1,000 lines 400")

        # Live tail across nodes: a session on the coordinator sees lines ingested on all three.
        ws = WebSocket(coordinator.port, "/api/v1/tail?q=" + urllib.parse.quote("tailword"))
        check(ws.status == 101, "tail: %d" % ws.status)
        # The feeds connect once a session exists (checked every 250 ms): wait until each peer
        # has opened one (counted when the route's handler returns, after FeedSource::Open), so
        # the lines acknowledged from then on are published to it. A fixed 2 s proved nothing.
        deadline = time.time() + 60
        while True:
            opened = [metric_value(p.metrics(), "sawmill_http_requests_total",
                                   route="/internal/v1/tail-feed", code="200") for p in peers]
            if min(opened) >= 1 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(min(opened) >= 1, "the peers' tail feeds were never opened: %s" % opened)
        want = set()
        for n, server in (("c", coordinator), ("p1", peers[0]), ("p2", peers[1])):
            for i in range(5):
                text = "tailword %s %d" % (n, i)
                ingest(server, json.dumps({"service": "tail", "msg": text}) + "\n")
                want.add(text)
        got = set()
        notices = []
        deadline = time.time() + 20
        while got != want and time.time() < deadline:
            try:
                message = ws.recv(timeout=max(0.1, deadline - time.time()))
            except socket.timeout:
                break
            if message is None:
                break
            item = json.loads(message)
            if "notice" in item:
                notices.append(item["notice"])
            elif "message" in item:
                got.add(item["message"])
        check(got == want, "tail on the coordinator got %d of %d lines; missing %s; notices %s" %
              (len(got & want), len(want), sorted(want - got)[:5], notices))
        print("live tail: a session on one node got all %d lines ingested on three" % len(want))

        # A node that hangs: the answer is partial, names it, and comes by the query timeout.
        stalled, held = stalled_listener()
        psql(url, "INSERT INTO nodes (id, url, started_ns, heartbeat_ns) VALUES "
                  "('hung', 'http://127.0.0.1:%d', 1, 9000000000000000000)" %
                  stalled.getsockname()[1])
        wait_registries([coordinator], 4)  # the coordinator's next heartbeat reads the table
        started = time.time()
        got = search(coordinator, "* | count")
        elapsed = time.time() - started
        check(got["partial"], "a hung node did not make the answer partial: %s" % got)
        check(any("hung" in w and "did not answer" in w for w in got["warnings"]),
              "no warning names the hung node: %s" % got["warnings"])
        check(got["rows"][0]["count"] == 1150 + 15,
              "the answering nodes' lines (and the 15 tail lines) still count: %s" % got)
        check(elapsed < 12, "the partial answer took %.1f s (query timeout 4 s)" % elapsed)
        print("hung node: partial after %.1f s, warning: %s" % (elapsed, got["warnings"][0][:160]))
        # Context through the coordinator while a node hangs: the lines found, partial, the node
        # named; an id found nowhere is 503 (it may be the hung node's), not 404.
        mine = [h for h in search(coordinator, "service=tail", limit="100")["hits"]
                if h["message"].startswith("tailword c ")][0]  # in the coordinator's memtables
        started = time.time()
        status, got = context(coordinator, mine["id"])
        elapsed = time.time() - started
        check(status == 200 and got["hit"]["message"] == mine["message"] and got["partial"] and
              any("hung" in w and "did not answer" in w for w in got["warnings"]),
              "context while a node hangs: %d %s" % (status, got))
        check(elapsed < 12, "the partial context took %.1f s (query timeout 4 s)" % elapsed)
        status, got = context(coordinator, 999999999999)
        check(status == 503 and "no record with id 999999999999 on the nodes that answered" in
              got.get("error", "") and "hung" in got.get("error", ""),
              "context of an id found nowhere while a node hangs: %d %s" % (status, got))
        print("hung node: context partial after %.1f s; an id found nowhere 503" % elapsed)
        psql(url, "DELETE FROM nodes WHERE id = 'hung'")

        # A node that is gone (killed, still in the table): partial, named, at once; the open
        # tail session is told that lines may be missing from it.
        peers[1].kill9()
        notice = None
        deadline = time.time() + 20
        while notice is None and time.time() < deadline:
            try:
                message = ws.recv(timeout=max(0.1, deadline - time.time()))
            except socket.timeout:
                break
            if message is None:
                break
            item = json.loads(message)
            if "notice" in item and "peer1" in item["notice"]:
                notice = item["notice"]
        check(notice is not None and "may be missing" in notice,
              "the tail session was not told about the killed node's feed")
        print("tail notice: %s" % notice[:160])
        ws.close()
        time.sleep(1.0)
        got = search(coordinator, "* | count")
        check(got["partial"] and any("peer1" in w for w in got["warnings"]),
              "a killed node did not make the answer partial: %s" % got)
        # Without the killed node's 250 + 5 lines.
        check(got["rows"][0]["count"] == 1165 - 255, "count without the killed node: %s" % got)
        print("killed node: partial, warning: %s" % got["warnings"][0][:160])
        status, got = context(coordinator, mine["id"])
        check(status == 200 and got["partial"] and any("peer1" in w for w in got["warnings"]),
              "context with a killed node: %d %s" % (status, got))
        status, got = context(coordinator, 999999999999)
        check(status == 503 and "peer1" in got.get("error", ""),
              "context of an id found nowhere with a killed node: %d %s" % (status, got))
        print("killed node: context partial, naming it")
        metrics = coordinator.metrics()
        check("sawmill_fanout_failures_total" in metrics, "no fan-out failure metric")
    finally:
        if stalled is not None:
            stalled.close()
        for s in [coordinator, reference] + peers:
            s.cleanup()
        drop_database(admin_url, database)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
