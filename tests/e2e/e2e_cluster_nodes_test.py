"""The node registry through the real server (docs/cluster.md "Nodes"): a server registers
itself in its catalog at start (SQLite, and a real PostgreSQL: argv[2] is the ctest fixture
pg_server's directory), heartbeats, keeps its id across restarts with a new incarnation, shows
in `sawmill admin nodes` and GET /api/v1/admin/nodes, leaves the table on a clean shutdown and
stays (dead after node_timeout) after SIGKILL.

Several servers sharing one PostgreSQL catalog need cluster mode (--store s3://...); this test
covers what one server per catalog shows."""

import json
import os
import sqlite3
import subprocess
import sys
import time

from e2e_lib import (Server, check, create_database, drop_database, metric_value, psql,
                     request)


def nodes(server):
    status, _, body = request(server.url + "/api/v1/admin/nodes")
    check(status == 200, "GET /api/v1/admin/nodes: %d %s" % (status, body))
    return json.loads(body)


def cli_nodes(binary, server):
    out = subprocess.run([binary, "admin", "nodes", "--server", server.url],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "sawmill admin nodes: %d %s" % (out.returncode, out.stderr))
    return out.stdout


def exercise(binary, extra_args, rows_after_stop, leases_after_stop):
    """Runs one server through start, restart, kill -9 and a clean stop; rows_after_stop(dir)
    reads the nodes table with the server stopped."""
    fast = ["--node-heartbeat", "200ms", "--node-timeout", "1s", "--retention-interval", "500ms"]
    server = Server(binary, extra_args=extra_args + fast).start()
    data_dir = server.data_dir
    try:
        first = nodes(server)
        check(len(first["nodes"]) == 1 and first["live"] == 1,
              "one server, one live node: %s" % first)
        me = first["nodes"][0]
        check(me["self"] and me["live"], "the node is not itself or not live: %s" % me)
        check(me["url"] == server.url, "advertised %s, the server is at %s" % (me["url"],
                                                                                server.url))
        node_id = me["id"]
        with open(os.path.join(server.data_dir, "node_id")) as f:
            check(f.read().strip() == node_id, "DATA/node_id does not hold the registered id")
        # Beats every 200 ms: the next shows within seconds even on a loaded machine (one look
        # after a fixed 0.8 s could come before it).
        deadline = time.time() + 10
        while True:
            later = nodes(server)["nodes"][0]
            if later["heartbeat"] > me["heartbeat"] or time.time() > deadline:
                break
            time.sleep(0.1)
        check(later["heartbeat"] > me["heartbeat"], "no heartbeat in 10 s at 200 ms: %s then %s"
              % (me["heartbeat"], later["heartbeat"]))
        # The one node holds the background jobs' leases (retention is claimed every 500 ms;
        # compaction and tier moves claim a partition's lease only when they have work there).
        deadline = time.time() + 20
        held = 0
        while time.time() < deadline and held < 1:
            held = metric_value(server.metrics(), "sawmill_job_lease_held", job="retention")
            time.sleep(0.2)
        check(held == 1, "the only node does not hold the retention lease")
        text = cli_nodes(binary, server)
        check(node_id in text and "live" in text and server.url in text,
              "sawmill admin nodes does not show the node:\n%s" % text)
        print(text.strip())

        # SIGKILL: the row stays (no clean removal); a restart is the same id, a new incarnation.
        server.kill9()
        check(len(rows_after_stop(data_dir)) == 1, "the killed node's row is gone")
        server = Server(binary, data_dir=server.data_dir, port=server.port,
                        extra_args=extra_args + fast).start()
        again = nodes(server)
        check(len(again["nodes"]) == 1, "a restart added a row: %s" % again)
        check(again["nodes"][0]["id"] == node_id, "the id changed across a restart")
        check(again["nodes"][0]["incarnation"] > me["incarnation"],
              "the incarnation did not grow: %s then %s" % (me["incarnation"],
                                                            again["nodes"][0]["incarnation"]))
        # A clean stop removes the row.
        check(server.stop() == 0, "the server did not stop cleanly:\n%s" % server.read_log())
        left = rows_after_stop(data_dir)
        check(left == [], "rows left after a clean shutdown: %s" % left)
        leases = leases_after_stop(data_dir)
        check(leases and all(holder == "" for holder in leases),
              "job leases still held after a clean shutdown: %s" % leases)
        print("restart: same id %s, new incarnation; clean stop: row removed" % node_id)
    finally:
        server.own_dir = True
        server.cleanup()


def main(binary, pg_dir):
    # SQLite: the embedded single node registers itself too.
    def sqlite_rows(data_dir):
        db = sqlite3.connect(os.path.join(data_dir, "catalog.db"))
        try:
            return db.execute("SELECT id, started_ns FROM nodes").fetchall()
        finally:
            db.close()

    def sqlite_leases(data_dir):
        db = sqlite3.connect(os.path.join(data_dir, "catalog.db"))
        try:
            return [r[0] for r in db.execute("SELECT holder FROM leases")]
        finally:
            db.close()

    exercise(binary, [], sqlite_rows, sqlite_leases)
    print("SQLite catalog: OK")

    with open(os.path.join(pg_dir, "url")) as f:
        admin_url = f.read().strip()
    database = "e2e_nodes_%d" % os.getpid()
    url = create_database(admin_url, database)
    try:
        def pg_rows(_):
            out = psql(url, "SELECT id, started_ns FROM nodes")
            return [line for line in out.splitlines() if line]

        def pg_leases(_):
            # Bracketed: psql prints an empty holder as an empty line, and no rows as nothing.
            out = psql(url, "SELECT '[' || holder || ']' FROM leases")
            return [line[1:-1] for line in out.splitlines()]

        exercise(binary, ["--catalog", url], pg_rows, pg_leases)
        print("PostgreSQL catalog: OK")
    finally:
        drop_database(admin_url, database)

    # Bad settings are refused at start with the key named.
    for args, word in ((["--node-timeout", "1s", "--node-heartbeat", "2s"], "node_timeout"),
                       (["--cluster-secret", "short"], "cluster_secret"),
                       (["--advertise-url", "node1:9640"], "advertise_url")):
        bad = Server(binary, extra_args=args)
        try:
            bad.start(timeout=30)
            check(False, "started with %s" % args)
        except RuntimeError as e:
            check(word in str(e), "refusal of %s does not name %s:\n%s" % (args, word, e))
        finally:
            bad.cleanup()
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
