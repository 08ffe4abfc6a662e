"""Three cluster nodes on one PostgreSQL catalog and one S3 store answer like one server
(issue 20 "Tests", docs/cluster.md): the same lines go to three nodes (`sawmill server --catalog
postgresql://... --store s3://...`) and to one plain server (SQLite, local disk), through the
doors real clients use — `sawmill ingest` (the CLI: zstd NDJSON batches with Idempotency-Keys),
Loki push (JSON) and Elasticsearch `_bulk` — each node receiving some of every door; then every
query is asked of every node and compared with the one server's answer: the same hits in the
same order, the same counts and aggregation rows, never partial.

Node a runs with `--flush-threads 2` (two memtables flushed at once), the others with the
default 1.

1. While every line is in the nodes' memtables (flush interval 1 h): the query fans out to the
   two other nodes' memtables.
2. After every node flushed (segments in the store, WAL objects deleted): asked of the three
   ingesting nodes (each one's segment view holds the others' flushed segments) and of a node
   started after the flushes.
3. After more lines went to all three (segments and memtables mixed): the same, through all four
   (segments from the store, memtables fanned out).
4. The audit log: a search served by each of the four nodes is recorded once, in one chain that
   verifies through every node, and no node logged that it could not record an entry.

In phases 1 and 3, `sawmill search -C 3` (the context around each hit) through every node prints
what it prints against the one server.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

from cluster_lib import Cluster, wait_for
from e2e_lib import Server, check, request, wait_registries

BASE_TS = 1796500000  # 2026-12-05T..Z, seconds; one line per second, never equal
SERVICES = ("payments", "search", "auth", "billing")
LEVELS = ("INFO", "WARN", "ERROR")
WORDS = ("timeout", "ok", "card declined", "retry")


def record(i, node):
    return {"ts": BASE_TS + i, "service": SERVICES[i % 4], "host": "h%d" % (i % 7),
            "level": LEVELS[i % 3],
            "message": "line %d via %s %s" % (i, node, WORDS[(i // 3) % 4])}


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def send_cli(binary, server, records, workdir):
    """`sawmill ingest` of an NDJSON file (the CLI client)."""
    path = os.path.join(workdir, "cli-%d-%d.ndjson" % (records[0]["ts"], server.port))
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps({"timestamp": iso(r["ts"]), "service": r["service"],
                                "host": r["host"], "level": r["level"],
                                "message": r["message"]}) + "\n")
    out = subprocess.run([binary, "ingest", "--server", server.url, "--quiet",
                          "--batch-lines", "150", path], capture_output=True, text=True,
                         timeout=120)
    check(out.returncode == 0, "sawmill ingest to %s: %s" % (server.url, out.stderr))


def send_loki(server, records):
    """Loki push, JSON: one stream per label set, entries with their nanosecond timestamps."""
    streams = {}
    for r in records:
        key = (r["service"], r["host"], r["level"])
        streams.setdefault(key, []).append([str(r["ts"] * 10**9), r["message"]])
    body = {"streams": [{"stream": {"service": s, "host": h, "level": lv}, "values": v}
                        for (s, h, lv), v in sorted(streams.items())]}
    status, _, answer = request(server.url + "/loki/api/v1/push", method="POST",
                                body=json.dumps(body).encode(),
                                headers={"Content-Type": "application/json"})
    check(status == 204, "Loki push to %s: %d %s" % (server.url, status, answer))


def send_bulk(server, records):
    """Elasticsearch _bulk: an action line and a document per record."""
    body = "".join(json.dumps({"index": {"_index": "logs"}}) + "\n" +
                   json.dumps({"@timestamp": iso(r["ts"]), "service.name": r["service"],
                               "host.name": r["host"], "log.level": r["level"],
                               "message": r["message"]}) + "\n" for r in records)
    status, _, answer = request(server.url + "/_bulk", method="POST", body=body.encode(),
                                headers={"Content-Type": "application/x-ndjson"})
    check(status == 200, "_bulk to %s: %d %s" % (server.url, status, answer))
    check(not json.loads(answer)["errors"], "_bulk to %s: errors: %s" % (server.url, answer[:300]))


QUERIES = [
    ("*", {"limit": "100"}),
    ("timeout", {"limit": "37"}),
    ("service=payments declined", {"limit": "500"}),
    ("level>=WARN", {"limit": "1"}),
    ("host=h3 level=ERROR", {"limit": "1000"}),
    ("* | count", {}),
    ("retry | count", {}),
    ("* | count by service, level", {}),
    ("* | top 3 host", {}),
    ("level=ERROR | uniq service", {}),
    ("* | count by bucket(10m)", {}),
    ("* | count by bucket(1h), level", {}),
    ("service=auth | count by host", {}),
    ("* | fields service, host, message | head 9", {}),
]


def search(server, q, **params):
    params.setdefault("all_time", "1")
    params["q"] = q
    params["cache"] = "0"
    status, _, body = request(server.url + "/api/v1/search?" + urllib.parse.urlencode(params),
                              timeout=120)
    answer = json.loads(body)
    check(status == 200, "search %r on %s: %d %s" % (q, server.url, status, answer))
    return answer


def comparable(answer):
    if answer.get("rows"):
        return ("rows", answer["rows"])
    return ("hits", [(h["ts"], h["message"], h["service"], h["host"], h["level"])
                     for h in answer["hits"]])


def compare(nodes, reference, phase, total):
    """Every query on every node == on the reference; returns how many answers were compared."""
    started = time.time()
    want = {}
    for q, params in QUERIES:
        want[q] = comparable(search(reference, q, **dict(params)))
    compared = 0
    for node in nodes:
        count = search(node, "* | count")
        check(not count["partial"] and count["rows"][0]["count"] == total,
              "%s: node %s counts %s, expected %d" % (phase, node.name,
                                                      json.dumps(count)[:600], total))
        for q, params in QUERIES:
            got = search(node, q, **dict(params))
            check(not got["partial"], "%s: %r partial on node %s: %s" %
                  (phase, q, node.name, got.get("warnings")))
            check(comparable(got) == want[q],
                  "%s: %r: node %s and one server disagree:\n  node %s\n  one  %s" %
                  (phase, q, node.name, str(comparable(got))[:700], str(want[q])[:700]))
            compared += 1
    print("%s: %d queries on %s answer as on one server (%d lines; %.1f s)" %
          (phase, len(QUERIES), ", ".join(n.name for n in nodes), total,
           time.time() - started))
    return compared


CONTEXT_QUERIES = ("card declined", "service=auth timeout", "host=h3 level=ERROR")


def context_of(binary, server, q):
    """`sawmill search -C 3` of the 4 newest hits of q: its stdout, and its stderr checked."""
    out = subprocess.run([binary, "search", "--server", server.url, "--all-time", "-n", "4",
                          "-C", "3", "--color", "never", q], capture_output=True, text=True,
                         timeout=120)
    check(out.returncode == 0 and out.stdout.count("\n> ") + out.stdout.startswith("> ") == 4,
          "search -C 3 %r on %s: exit %d\n%s\n%s" % (q, server.url, out.returncode,
                                                   out.stdout[-2000:], out.stderr[-2000:]))
    check("warning" not in out.stderr and "partial" not in out.stderr,
          "search -C 3 %r on %s warned: %s" % (q, server.url, out.stderr[-2000:]))
    return out.stdout


def compare_context(binary, nodes, reference, phase):
    """`sawmill search -C` through every node prints what it prints against one server: the
    same lines around each hit, in the same order (docs/cluster.md "Context across nodes"; with
    the build before, the lines were those sent to the asked node, and a hit in another node's
    memtables stopped it with "no record with id N")."""
    on_one, on_nodes = 0.0, 0.0
    for q in CONTEXT_QUERIES:
        started = time.time()
        want = context_of(binary, reference, q)
        on_one += time.time() - started
        for node in nodes:
            started = time.time()
            got = context_of(binary, node, q)
            on_nodes += time.time() - started
            check(got == want, "%s: search -C 3 %r: node %s and one server disagree:\n"
                  "---- node %s\n%s---- one server\n%s" % (phase, q, node.name, node.name,
                                                             got, want))
    # Wall time of the commands (a search and 4 contexts each), for the record, not asserted.
    print("%s: search -C 3 of %d queries through %s prints as on one server (%.2f s a command "
          "through a node, %.2f s on one server)" %
          (phase, len(CONTEXT_QUERIES), ", ".join(n.name for n in nodes),
           on_nodes / (len(CONTEXT_QUERIES) * len(nodes)), on_one / len(CONTEXT_QUERIES)))


def ingest_round(binary, nodes, reference, start, per_door, workdir):
    """Each node gets per_door lines through each of the three doors (a different slice each);
    the reference gets the same requests. Returns the next line number."""
    i = start
    for k, node in enumerate(nodes):
        for d, door in enumerate(("cli", "loki", "bulk")):
            records = [record(n, node.name + "-" + door) for n in range(i, i + per_door)]
            i += per_door
            for target in (node, reference):
                if door == "cli":
                    send_cli(binary, target, records, workdir)
                elif door == "loki":
                    send_loki(target, records)
                else:
                    send_bulk(target, records)
    return i


def audit_entries(server):
    """Every entry of the audit log, as the node's GET /api/v1/audit pages it."""
    entries, after = [], 0
    while True:
        status, _, body = request(server.url + "/api/v1/audit?limit=10000&after=%d" % after)
        check(status == 200, "audit list on %s: %d %s" % (server.url, status, body[:300]))
        page = json.loads(body)
        entries += page["entries"]
        if "next_after" not in page:
            return entries
        after = page["next_after"]


def check_audit(cluster, nodes):
    """Nodes sharing one catalog write one audit log (docs/security.md "Audit log"): a search
    served by each node is in it, once, the chain verifies through every node, and no node
    failed to record an entry (before, every node but the first to write logged "could not
    record ... audit entry N exists" and lost its entries)."""
    marks = {}
    for n in nodes:
        marks[n.name] = "auditprobe%s%d" % (n.name, os.getpid())
        search(n, marks[n.name], limit="1")

    def recorded():
        queries = [e["query"] for e in audit_entries(nodes[0])]
        return all(queries.count(m) == 1 for m in marks.values())

    wait_for("each node's probe search to be in the audit log once", recorded, 30,
             lambda: str([e["query"] for e in audit_entries(nodes[0])][-10:]))
    entries = audit_entries(nodes[-1])
    seqs = [e["seq"] for e in entries]
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))),
          "audit seqs have gaps or repeats: %s" % seqs[:50])
    for n in nodes:
        status, _, body = request(n.url + "/api/v1/audit/verify")
        verified = json.loads(body)
        # Audit reads are audited too: the chain only grows while this runs.
        check(status == 200 and verified["ok"] and verified["entries"] >= len(entries),
              "audit verify on node %s: %d %s (list has %d entries)" %
              (n.name, status, body[:500], len(entries)))
    for s in cluster.servers:
        log = s.read_log(tail=1 << 30)
        check("could not record" not in log,
              "node %s failed to record audit entries: %s" %
              (s.name, [l for l in log.splitlines() if "could not record" in l][:3]))
    print("audit log: %d entries from %d nodes in one chain, verified through each; probe "
          "searches of %s each recorded once" % (len(entries), len(nodes),
                                                 ", ".join(sorted(marks))))


def main(binary, shared, store_dir):
    workdir = tempfile.mkdtemp(prefix="sawmill_e2e_three_")
    cluster = Cluster(binary, shared, store_dir, node_args=[
        "--flush-interval", "1h", "--node-heartbeat", "300ms", "--node-timeout", "3s",
        "--query-timeout", "30s"])
    reference = Server(binary, extra_args=["--flush-interval", "1h"])
    failed = True
    try:
        reference.start()
        # Node a flushes two memtables at once (docs/cluster.md "Exactly once across nodes"),
        # b and c one, as the server ships.
        nodes = [cluster.node("a", extra_args=["--flush-threads", "2"])]
        nodes += [cluster.node(name) for name in ("b", "c")]

        def live_nodes(server):
            status, _, body = request(server.url + "/api/v1/admin/nodes")
            return json.loads(body).get("live") if status == 200 else None

        for n in nodes:
            wait_for("node %s to see 3 live nodes" % n.name, lambda: live_nodes(n) == 3, 30)
        wait_registries(nodes, 3)  # the list of peers each fans out to: read at a heartbeat

        # 1. Everything in memtables: answers fan out.
        total = ingest_round(binary, nodes, reference, 0, 120, workdir)
        compare(nodes, reference, "memtables", total)
        compare_context(binary, nodes, reference, "memtables")

        # 2. Everything flushed into the shared store.
        cluster.flush_all(nodes)
        reference.flush()
        segments = cluster.pg.psql("SELECT count(*), coalesce(sum(rows), 0) FROM segments")
        check(segments.split("|")[1] == str(total),
              "after the flush the catalog's segments hold %s rows, expected %d" %
              (segments, total))
        d = cluster.node("d")
        wait_for("node d to see 4 live nodes", lambda: live_nodes(d) == 4, 30)
        wait_registries([d], 4)
        compare(nodes + [d], reference, "flushed", total)

        # 3. More lines on every node: segments and memtables mixed.
        total = ingest_round(binary, nodes, reference, total, 40, workdir)
        compare(nodes + [d], reference, "segments and memtables", total)
        compare_context(binary, nodes + [d], reference, "segments and memtables")

        # 4. One audit log for the cluster, with every node's searches in it.
        check_audit(cluster, nodes + [d])
        failed = False
    finally:
        cluster.cleanup(failed)
        if failed:
            sys.stderr.write("---- reference log:\n%s\n" % reference.read_log())
        reference.cleanup()
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
