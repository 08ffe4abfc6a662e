"""Shared start/stop code of the cluster end-to-end tests (docs/cluster.md): a private PostgreSQL
that a test can restart (../shared/scripts/pg-local.sh), the ctest fixture's S3 API (OpenStack
Swift, s3_store) reached through a TCP proxy the test can cut or turn into a store answering
503 SlowDown, cluster nodes (`sawmill server --catalog postgresql://... --store s3://...`) on
loopback, and ingesting clients that remember which lines were acknowledged.

Used by e2e_cluster_write_test.py and e2e_cluster_three_*_test.py."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from e2e_cold_search_test import s3
from e2e_cold_store_test import create_bucket, fixture_env
from e2e_lib import Server, check, free_port, psql, request

BUCKET = "sawmill-e2e"
SECRET = "e2e-cluster-secret-0123456789"


class Proxy:
    """A TCP forwarder to the S3 endpoint that the test can cut (every connection closed, new
    ones closed at once), turn into a store answering every request with 503 SlowDown (as S3
    does when it throttles), and restore: the store 'down' or 'refusing' as the node sees it."""

    SLOW_DOWN = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                 b"<Message>Please reduce your request rate.</Message></Error>")

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.mode = "pass"  # "pass", "cut" or "503"
        self.answered_503 = 0
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "cut":
                client.close()
                continue
            if self.mode == "503":
                threading.Thread(target=self.refuse, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self.lock:
                # cut() or slow_down() may have come while this connection was being made
                # (after the mode was read above): it must not outlive them.
                if self.mode != "pass":
                    client.close()
                    upstream.close()
                    continue
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def refuse(self, client):
        """Reads one request (head, and the body unless the client waits for 100-continue) and
        answers 503 SlowDown, closing the connection."""
        try:
            client.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            lower = head.lower()
            length = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
            if length and b"100-continue" not in lower:
                want = int(length.group(1))
                while len(body) < want:
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            client.sendall(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" %
                           (len(self.SLOW_DOWN), self.SLOW_DOWN))
            with self.lock:
                self.answered_503 += 1
        except OSError:
            pass
        finally:
            client.close()

    def pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close_all(self):
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []

    def cut(self):
        with self.lock:
            self.mode = "cut"
        self.close_all()

    def slow_down(self):
        """Every request from now on (open connections are closed) is answered 503 SlowDown."""
        with self.lock:
            self.mode = "503"
        self.close_all()

    def restore(self):
        with self.lock:
            self.mode = "pass"

    def close(self):
        self.cut()
        self.sock.close()


class Postgres:
    """A private PostgreSQL through ../shared/scripts/pg-local.sh, restartable."""

    def __init__(self, shared):
        self.script = os.path.join(shared, "scripts", "pg-local.sh")
        self.dir = tempfile.mkdtemp(prefix="sawmill_cluster_pg_")
        self.port = free_port()
        self.url = "postgresql://sawmill@127.0.0.1:%d/sawmill" % self.port

    def start(self):
        out = subprocess.run(["bash", self.script, "start", self.dir, str(self.port)],
                             capture_output=True, text=True, timeout=180)
        check(out.returncode == 0, "PostgreSQL did not start: %s" % out.stderr)
        return self

    def stop(self):
        subprocess.run(["bash", self.script, "stop", self.dir], capture_output=True, timeout=120)

    def psql(self, sql):
        return psql(self.url, sql)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """Cluster nodes sharing one PostgreSQL catalog (a private one, restartable) and one S3
    store (the fixture's Swift under a prefix of this test's own, through a Proxy). Nodes are
    e2e_lib.Server objects; cleanup() prints every node's log tail when the test failed."""

    def __init__(self, binary, shared, store_dir, node_args=()):
        self.binary = binary
        self.env = fixture_env(shared, store_dir)
        create_bucket(self.env, BUCKET)
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("AWS_")})
        self.proxy = Proxy(int(self.env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]))
        self.prefix = "cluster-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)
        self.pg = Postgres(shared).start()
        self.node_args = list(node_args)
        self.servers = []

    def node_command_args(self, name):
        return ["--catalog", self.pg.url, "--store", "s3://%s/%s" % (BUCKET, self.prefix),
                "--cold-store-endpoint", self.proxy.endpoint, "--node-id", name,
                "--cluster-secret", SECRET] + self.node_args

    def node(self, name, data_dir=None, port=None, extra_args=()):
        """Starts node "name" (a restart when data_dir and port are an earlier node's)."""
        s = Server(self.binary, data_dir=data_dir, port=port,
                   extra_args=self.node_command_args(name) + list(extra_args))
        s.name = name
        self.servers.append(s)
        return s.start()

    def restart(self, server):
        return self.node(server.name, data_dir=server.data_dir, port=server.port)

    def store_names(self, under):
        return store_names(self.env, self.prefix + "/" + under)

    def unflushed_wal_objects(self, owner=None):
        where = "" if owner is None else " AND owner = '%s'" % owner
        return int(self.pg.psql("SELECT count(*) FROM wal_objects WHERE state = 'unflushed'" +
                                where))

    def flush_all(self, nodes, timeout=90):
        """Flushes every node given, then waits until the catalog names no WAL object (every
        acknowledged line is then in a registered segment). Returns the WAL objects still in the
        store: orphans (written, then not registered: a PUT whose answer was lost), which each
        node's start-up sweep deletes."""
        for n in nodes:
            n.flush()
        wait_for("every WAL object flushed and its row removed",
                 lambda: self.pg.psql("SELECT count(*) FROM wal_objects") == "0", timeout,
                 lambda: "rows %r" % self.pg.psql("SELECT name, owner, state FROM wal_objects")[
                     :600])
        # Deleted after their rows are removed: give the deletes a moment.
        deadline = time.time() + 10
        while self.store_names("wal/") and time.time() < deadline:
            time.sleep(0.5)
        return self.store_names("wal/")

    def restart_to_sweep(self, nodes, orphans):
        """Restarts (SIGTERM, start) each node that has orphan WAL objects in "orphans" and checks
        its start-up sweep deleted them; returns the nodes, restarted ones replaced."""
        out = []
        for n in nodes:
            mine = [o for o in orphans if o.startswith("%s/wal/%s/" % (self.prefix, n.name))]
            if mine:
                check(n.stop() == 0, "node %s did not stop cleanly" % n.name)
                n = self.restart(n)
                left = self.store_names("wal/%s/" % n.name)
                check(not left, "node %s kept orphan WAL objects over a restart: %s" %
                      (n.name, left[:3]))
                print("node %s restarted: its start-up sweep deleted %d orphan WAL objects" %
                      (n.name, len(mine)))
            out.append(n)
        return out

    def check_after_flush(self, nodes, acked):
        """Flushes every node in "nodes" (flush_all; orphan WAL objects deleted by their node's
        start-up sweep, restart_to_sweep), then checks that every line in "acked" is found
        exactly once through each node (their segment views hold each other's flushed segments)
        and through a node "d" started afterwards. Returns the nodes, restarted ones replaced."""
        orphans = self.flush_all(nodes)
        print("flushed: no WAL object left in the catalog; %d orphans in the store" % len(orphans))
        nodes = self.restart_to_sweep(nodes, orphans)
        for n in nodes + [self.node("d")]:
            check_each_once(n, acked, "node %s after the flush" % n.name)
        print("every acknowledged line found exactly once through %s: %d lines" %
              (", ".join(n.name for n in nodes) + " and d", len(acked)))
        return nodes

    def dump_logs(self):
        for s in self.servers:
            sys.stderr.write("---- node %s (%s) log:\n%s\n" % (getattr(s, "name", "?"),
                                                               s.data_dir, s.read_log()))

    def cleanup(self, failed=False):
        if failed:
            self.dump_logs()
        for s in self.servers:
            s.cleanup()
        self.pg.cleanup()
        self.proxy.close()


class Ingester:
    """Sends batches of numbered lines to one node from a thread, through one of the doors real
    clients use ("native": POST /api/v1/ingest, NDJSON; "loki": POST /loki/api/v1/push, JSON);
    remembers which lines were acknowledged (2xx), when each batch was sent and answered, and how
    every other answer looked."""

    def __init__(self, server, name, door="native", batch_lines=40, pause=0.02):
        self.server, self.name, self.door = server, name, door
        self.batch_lines, self.pause = batch_lines, pause
        self.acked, self.failed, self.latencies, self.batches = [], [], [], []
        self.batch = 0
        self.stop_flag = False
        self.thread = None

    def body(self, lines):
        now = time.time_ns()
        if self.door == "loki":
            return "/loki/api/v1/push", json.dumps({"streams": [{
                "stream": {"service": "cw", "host": self.name},
                "values": [[str(now + i), line] for i, line in enumerate(lines)]}]}).encode()
        return ("/api/v1/ingest?service=cw",
                "".join(json.dumps({"message": line, "host": self.name}) + "\n"
                        for line in lines).encode())

    def send_one(self):
        lines = ["clusterw %s b%d i%d" % (self.name, self.batch, i)
                 for i in range(self.batch_lines)]
        self.batch += 1
        path, body = self.body(lines)
        start = time.time()
        try:
            status, _, answer = request(self.server.url + path, method="POST", body=body,
                                        headers={"Content-Type": "application/json"}, timeout=60)
        except OSError as e:
            status, answer = None, str(e).encode()
        end = time.time()
        self.batches.append((start, end, status))
        if status is not None and 200 <= status < 300:
            self.acked += lines
            self.latencies.append(end - start)
        else:
            self.failed.append((status, answer[:200]))
        return status

    def run(self):
        while not self.stop_flag:
            self.send_one()
            time.sleep(self.pause)

    def start(self):
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def join(self):
        self.stop_flag = True
        self.thread.join(120)
        return self


def acked_between(ingesters, start, end):
    """(name, sent, answered) of the batches of "ingesters" sent after "start" and acknowledged
    before "end"."""
    return [(i.name, round(s, 2), round(e, 2)) for i in ingesters for (s, e, status) in i.batches
            if status is not None and 200 <= status < 300 and s > start and e < end]


def store_names(env, prefix):
    """The keys under "prefix" in the bucket (one ListObjectsV2 page)."""
    answer = s3(env, "GET", BUCKET, {"list-type": "2", "prefix": prefix})
    return re.findall(r"<Key>([^<]+)</Key>", answer)


def export_counts(server, q="clusterw"):
    """How many times each message matching "q" is in "server"'s answer (all time, through
    GET /api/v1/export, which fans out like a search)."""
    params = urllib.parse.urlencode({"q": q, "all_time": "1"})
    out = {}
    with urllib.request.urlopen(server.url + "/api/v1/export?" + params, timeout=300) as resp:
        check(resp.status == 200, "export: %d" % resp.status)
        for raw in resp.read().split(b"\n"):
            if raw.strip():
                item = json.loads(raw)
                check("message" in item, "export of %s ended with %s" % (server.url, item))
                m = item["message"]
                out[m] = out.get(m, 0) + 1
    return out


def check_each_once(server, acked, what):
    """Every line in "acked" is in the server's answer exactly once, and no line twice."""
    seen = export_counts(server)
    missing = [m for m in acked if seen.get(m, 0) == 0]
    twice = [m for m, n in seen.items() if n > 1]
    check(not missing, "%s: %d of %d acknowledged lines missing, e.g. %s" %
          (what, len(missing), len(acked), missing[:3]))
    check(not twice, "%s: %d lines found more than once, e.g. %s" % (what, len(twice), twice[:3]))
    return seen


def wait_for(what, condition, timeout, detail=None):
    """Polls "condition" every 0.5 s; fails after "timeout" s, with detail() when given."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    check(False, "timed out waiting for %s%s" % (what, ": " + detail() if detail else ""))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]
