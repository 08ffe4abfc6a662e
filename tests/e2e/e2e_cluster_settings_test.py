"""Cluster-wide settings (docs/cluster.md "Cluster-wide settings"): node_heartbeat, node_timeout,
query_timeout and idempotency_window are held once in the cluster's catalog. Cluster nodes
(`sawmill server --catalog postgresql://... --store s3://...`) on a private PostgreSQL and the
ctest fixture's S3 API:

- the first node records its values; a node given another node_timeout is refused (exit 1, both
  values, the catalog and how to change it named); a node not given one takes the cluster's (its
  log says so);
- `sawmill admin settings --catalog URL` shows the values and the live nodes;
  `sawmill admin settings set` refuses, while nodes run, a node_timeout change whose old and new
  values side by side could count lines twice, and any query_timeout change; it takes a small
  step and an idempotency window;
- with every node stopped any change is taken, and each node takes it at its next start; a node
  still given the old value is refused;
- a server on its own (SQLite catalog) restarted with another node_timeout runs with it.

argv: sawmill binary, the shared directory, the s3_store fixture's directory."""

import os
import re
import subprocess
import sys
import tempfile

from cluster_lib import Cluster
from e2e_lib import Server, check, create_database, drop_database


def admin(binary, url, *args):
    return subprocess.run([binary, "admin", "settings", "--catalog", url] + list(args),
                          capture_output=True, text=True, timeout=60)


def refused(cluster, name, extra_args, wants):
    """Starts node "name" with "extra_args" and checks it exits 1 saying each of "wants"."""
    s = Server(cluster.binary, extra_args=cluster.node_command_args(name) + list(extra_args))
    try:
        result = subprocess.run(s.command(), capture_output=True, text=True, timeout=60)
    finally:
        s.cleanup()
    check(result.returncode == 1, "node %s with %s was not refused: exit %d, %s" %
          (name, extra_args, result.returncode, result.stderr[-2000:]))
    for want in wants:
        check(want in result.stderr, "the refusal does not say %r: %s" % (want, result.stderr))
    print("node %s with %s refused: %s" % (name, " ".join(extra_args), result.stderr.strip()[:300]))


def single_server(binary):
    """A server on its own (SQLite catalog) shares these settings with nobody: a restart with
    another node_timeout takes it, and `admin settings` refuses its catalog."""
    server = Server(binary, extra_args=["--node-timeout", "5s"]).start()
    try:
        def node_timeout_shown():
            out = subprocess.run([binary, "admin", "nodes", "--server", server.url],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 0, "admin nodes: %s" % out.stderr)
            return re.search(r"node_timeout (\d+) ms", out.stdout).group(1)
        check(node_timeout_shown() == "5000", "the single server does not run with 5s")
        check(server.stop() == 0, "exit code")
        server = Server(binary, data_dir=server.data_dir, port=server.port,
                        extra_args=["--node-timeout", "7s"]).start()
        check(node_timeout_shown() == "7000", "the restarted single server does not run with 7s")
        out = admin(binary, server.data_dir + "/catalog.db")
        check(out.returncode == 2 and "takes these settings from its configuration" in out.stderr,
              "admin settings on a SQLite catalog: %d %s" % (out.returncode, out.stderr))
        check(server.stop() == 0, "exit code")
    finally:
        server.cleanup()
    print("single server: restarted with node_timeout 7s instead of 5s, it runs with 7s")


def server_on_its_own_pg(binary, cluster):
    """A server on its own with a PostgreSQL catalog (no --store) never reads the cluster-wide
    settings: `admin settings` says so and refuses `set`, instead of showing defaults as if
    they were its values."""
    url = create_database(cluster.pg.url, "solo")
    server = Server(binary, extra_args=["--catalog", url, "--node-timeout", "7s"]).start()
    try:
        for args in ((), ("set", "node_timeout", "20s")):
            out = admin(binary, url, *args)
            check(out.returncode == 1 and "held by a server on its own" in out.stderr and
                  "never reads them from the catalog" in out.stderr,
                  "admin settings %s on a server on its own: %d %s %s" %
                  (" ".join(args), out.returncode, out.stdout, out.stderr))
        check(server.stop() == 0, "exit code")
    finally:
        server.cleanup()
    shown = admin(binary, url)
    check(shown.returncode == 0 and "node_timeout" in shown.stdout,
          "admin settings once the server stopped: %d %s" % (shown.returncode, shown.stderr))
    drop_database(cluster.pg.url, "solo")
    print("a server on its own on PostgreSQL: admin settings and set refused while it runs")


def chained_change(binary, url):
    """Nodes a and b still run node_timeout 6s after 6s -> 8s (heartbeat 300ms): 8s -> 12s is
    refused beside them, naming what they run (beside 8s alone it would be safe), while `admin
    settings` shows each."""
    out = admin(binary, url, "set", "node_timeout", "12s")
    check(out.returncode == 1 and "2 nodes are live (a, b)" in out.stderr and
          "a runs node_timeout 6s (8s recorded)" in out.stderr,
          "node_timeout 8s -> 12s beside nodes of 6s: %d %s %s" %
          (out.returncode, out.stdout, out.stderr))
    shown = admin(binary, url)
    for node in ("a", "b"):
        want = ("%s runs node_timeout 6s (8s recorded): it started before the change" % node)
        check(want in shown.stdout, "admin settings does not say %r:\n%s" % (want, shown.stdout))
    print("8s -> 12s refused while a and b still run 6s:", out.stderr.strip()[-300:])


def checked_with_the_nodes_config(binary, url):
    """With every node stopped: query_timeout 90m is refused with the default
    segment_orphan_grace (1h), naming it and --config, and taken when the nodes' configuration
    file (segment_orphan_grace 3h) is given."""
    out = admin(binary, url, "set", "query_timeout", "90m")
    check(out.returncode == 1 and "segment_orphan_grace" in out.stderr and
          "--config FILE" in out.stderr,
          "query_timeout 90m with the default grace: %d %s" % (out.returncode, out.stderr))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("segment_orphan_grace: 3h\n")
    try:
        out = admin(binary, url, "set", "query_timeout", "90m", "--config", f.name)
        check(out.returncode == 0 and "query_timeout: " in out.stdout,
              "query_timeout 90m with the nodes' grace of 3h: %d %s" % (out.returncode, out.stderr))
    finally:
        os.unlink(f.name)
    back = admin(binary, url, "set", "query_timeout", "1m")  # the nodes here run the default grace
    check(back.returncode == 0, "query_timeout back to 1m: %s" % back.stderr)
    print("query_timeout 90m: refused with the default segment_orphan_grace, taken with "
          "--config naming 3h")


def main(binary, shared, store_dir):
    single_server(binary)
    cluster = Cluster(binary, shared, store_dir, node_args=["--node-heartbeat", "300ms"])
    url = cluster.pg.url
    failed = True
    try:
        server_on_its_own_pg(binary, cluster)
        a = cluster.node("a", extra_args=["--node-timeout", "6s"])
        refused(cluster, "b", ["--node-timeout", "20s"],
                ["node_timeout = 20s in this node's configuration, but the cluster's is 6s",
                 "catalog " + url, "--node-timeout",
                 "sawmill admin settings set NAME VALUE --catalog " + url])
        b = cluster.node("b")  # node_timeout not given: the cluster's
        check("cluster-wide setting: node_timeout = 6s from the catalog" in b.read_log(),
              "node b's log does not say it took node_timeout from the catalog:\n" +
              b.read_log())

        shown = admin(binary, url)
        check(shown.returncode == 0, "admin settings: %s" % shown.stderr)
        for want in (r"node_timeout +6s\n", r"node_heartbeat +300ms\n", r"query_timeout +1m\n",
                     r"live nodes: 2 \(a, b\)"):
            check(re.search(want, shown.stdout), "admin settings does not show %r:\n%s" %
                  (want, shown.stdout))
        print(shown.stdout)

        up = admin(binary, url, "set", "node_timeout", "20s")
        check(up.returncode == 1 and "2 nodes are live (a, b)" in up.stderr,
              "node_timeout 6s -> 20s with live nodes was not refused: %d %s %s" %
              (up.returncode, up.stdout, up.stderr))
        query = admin(binary, url, "set", "query_timeout", "2m")
        check(query.returncode == 1 and "Stop every node" in query.stderr,
              "query_timeout changed while nodes run: %d %s" % (query.returncode, query.stderr))
        step = admin(binary, url, "set", "node_timeout", "8s")
        check(step.returncode == 0 and "node_timeout: 6s -> 8s" in step.stdout,
              "node_timeout 6s -> 8s with live nodes: %d %s %s" %
              (step.returncode, step.stdout, step.stderr))
        chained_change(binary, url)
        window = admin(binary, url, "set", "idempotency_window", "1h")
        check(window.returncode == 0, "idempotency_window: %s" % window.stderr)
        bad = admin(binary, url, "set", "node_heartbeat", "9s")
        check(bad.returncode == 1 and "longer than node_heartbeat" in bad.stderr,
              "node_heartbeat above node_timeout was taken: %s" % bad.stderr)
        print("while a and b run: 6s -> 20s and a query_timeout change refused; 6s -> 8s and "
              "the idempotency window taken")

        # Every node stopped (a clean stop removes its row): any change is taken.
        check(a.stop() == 0 and b.stop() == 0, "the nodes did not stop cleanly")
        checked_with_the_nodes_config(binary, url)
        for name, value in (("node_timeout", "20s"), ("query_timeout", "2m")):
            changed = admin(binary, url, "set", name, value)
            check(changed.returncode == 0, "%s %s with no node live: %s" %
                  (name, value, changed.stderr))
        b = cluster.restart(b)
        log = b.read_log()
        for want in ("node_timeout = 20s from the catalog", "query_timeout = 2m from the catalog",
                     "idempotency_window = 1h from the catalog"):
            check(want in log, "restarted node b's log does not say %r:\n%s" % (want, log))
        refused(cluster, "a", ["--node-timeout", "6s"],
                ["node_timeout = 6s in this node's configuration, but the cluster's is 20s"])
        a = cluster.node("a", data_dir=a.data_dir, port=a.port)  # its flag removed
        shown = admin(binary, url)
        check(re.search(r"node_timeout +20s\n", shown.stdout) and "live nodes: 2" in shown.stdout,
              "after the restarts:\n%s" % shown.stdout)
        print("with every node stopped: node_timeout 20s and query_timeout 2m taken; b took "
              "them at its restart, a given 6s was refused and started without it")
        failed = False
    finally:
        cluster.cleanup(failed)
    print("PASS")


if __name__ == "__main__":
    main(*sys.argv[1:4])
