"""Helpers for the end-to-end tests: start the real `sawmill server` on a free loopback port
with a temporary data directory, talk HTTP to it with the standard library, and a minimal
WebSocket client (RFC 6455, enough for live tail) because Debian's python3 has none built in."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Tests that are not about disk pressure must not depend on how full the machine's disk is.
# Sawmill counts a volume used as 1 - f_bavail / f_blocks (reserved blocks count as used), and
# past the default warm watermark (80 %) its disk watch re-encodes segments warm under a running
# test (e2e_reconcile failed so in session 20 on a machine ~80 % full; CI machines may be fuller).
# Every Server passes these watermarks unless its test gives --disk-watermarks itself or
# disk_watermarks=None (the server's defaults). TmpfsServer (the disk pressure tests, which fill
# a small volume of their own) builds its own command line and keeps the defaults.
QUIET_DISK_WATERMARKS = "99%,99.5%,99.9%"


class Server:
    """A `sawmill server` process. Use as a context manager; stop() sends SIGTERM."""

    def __init__(self, binary, data_dir=None, extra_args=(), port=None,
                 disk_watermarks=QUIET_DISK_WATERMARKS):
        self.binary = binary
        self.disk_watermarks = disk_watermarks
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sawmill_e2e_")
        self.extra_args = list(extra_args)
        # A port of free_port()'s is only free when picked: another test running beside this
        # one may take it before the server binds it; start() then picks another.
        self.own_port = port is None
        self.port = port or free_port()
        self.proc = None
        self.log = None
        self.log_path = os.path.join(self.data_dir + ".log")
        # HTTPS (--tls-cert): set scheme to "https" and ssl_context to a client context.
        self.scheme = "http"
        self.ssl_context = None
        # More arguments for subprocess.Popen (the drill's server: preexec_fn).
        self.popen_kwargs = {}

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def command(self):
        watermarks = []
        if self.disk_watermarks and "--disk-watermarks" not in self.extra_args:
            watermarks = ["--disk-watermarks", self.disk_watermarks]
        return [self.binary, "server", "--data", self.data_dir, "--http",
                "127.0.0.1:%d" % self.port] + watermarks + self.extra_args

    def start(self, timeout=60):
        for attempt in range(3):
            if self.log is not None:
                self.log.close()
            self.log = open(self.log_path, "ab")
            logged = self.log.tell()
            self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                         **self.popen_kwargs)
            if not self.wait_ready(timeout, logged):
                return self
            # The port was taken between free_port() and the server's bind (see __init__).
            if not self.own_port or attempt == 2:
                break
            self.port = free_port()
        raise RuntimeError("server exited with %d; log:\n%s" % (self.proc.returncode,
                                                                self.read_log()))

    def wait_ready(self, timeout, logged):
        """Waits until this process logged that it listens on its port and then /readyz answers
        200 (returns False); True when the server exited because its HTTP port was taken; raises
        for any other exit, or when not ready within "timeout" s. A 200 alone is not enough: the
        port may be another server's (a sawmill of a test running beside, handed the same port
        by its free_port()), which answers /readyz while ours fails to bind and exits."""
        taken = "cannot listen on 127.0.0.1:%d: Address already in use" % self.port
        # server_app.cc: "listening on http://127.0.0.1:P/ (data in ...)", once its port is bound.
        listening = re.compile(r"\blistening on https?://127\.0\.0\.1:%d/ " % self.port)
        ours = False
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if taken in self.log_since(logged):
                    return True
                raise RuntimeError("server exited with %d; log:\n%s" % (self.proc.returncode,
                                                                        self.read_log()))
            ours = ours or listening.search(self.log_since(logged)) is not None
            if ours:
                try:
                    status, _, _ = request(self.url + "/readyz", timeout=2,
                                           context=self.ssl_context)
                    if status == 200:
                        return False
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("server not ready within %d s; log:\n%s" % (timeout, self.read_log()))

    def log_since(self, offset):
        """The server's log from byte "offset" on (what this start wrote)."""
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def read_log(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout=60):
        """SIGTERM, wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not stop within %d s after SIGTERM" % timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("server log:\n" + self.read_log() + "\n")
        self.cleanup()

    # Convenience calls.
    def ingest(self, body, params=None, headers=None, timeout=120):
        if isinstance(body, str):
            body = body.encode()
        target = self.url + "/api/v1/ingest"
        if params:
            target += "?" + urllib.parse.urlencode(params)
        return request(target, method="POST", body=body, headers=headers or {}, timeout=timeout)

    def search(self, q, **params):
        params = dict(params)
        params["q"] = q
        params.setdefault("all_time", "1")
        status, _, body = request(self.url + "/api/v1/search?" + urllib.parse.urlencode(params),
                                  timeout=300)
        return status, json.loads(body)

    def count(self, q, whole=False):
        """The count of "q"; with "whole", a partial answer (a peer or a segment not read) is an
        error too."""
        status, answer = self.search(q + " | count")
        if status != 200:
            raise RuntimeError("count %r on %s: %d %s" % (q, self.url, status, answer))
        if whole and answer.get("partial"):
            raise RuntimeError("count %r on %s: partial answer: %s" %
                               (q, self.url, answer.get("warnings")))
        rows = answer["rows"]
        return rows[0]["count"] if rows else 0

    def flush(self):
        status, _, body = request(self.url + "/api/v1/admin/flush", method="POST", body=b"",
                                  timeout=300)
        if status != 200:
            raise RuntimeError("flush: %d %s" % (status, body))

    def metrics(self):
        _, _, body = request(self.url + "/metrics")
        return body.decode()


class TmpfsServer(Server):
    """A `sawmill server` whose data directory ("VOLUME/data") is on a tmpfs of "size" bytes of
    its own: a user and mount namespace (`unshare -r -m`, no root needed), a small volume a test
    can fill (a ballast file in `volume`, as another program filling the disk would). Where the
    kernel does not allow unprivileged user namespaces, start() prints SKIP and exits 77, which
    CTest reports as skipped (not passed). Use as a context manager; the tmpfs goes with the
    server's namespace."""

    def __init__(self, binary, size, extra_args=(), prefix="sawmill_e2e_tmpfs_"):
        self.base = tempfile.mkdtemp(prefix=prefix)
        super().__init__(binary, data_dir=self.base, extra_args=[str(a) for a in extra_args])
        self.size = size
        self.mnt = os.path.join(self.base, "mnt")
        os.mkdir(self.mnt)
        self.log_path = os.path.join(self.base, "server.log")

    @property
    def volume(self):
        """The tmpfs as the server sees it (its mount namespace), through /proc."""
        return "/proc/%d/root%s" % (self.proc.pid, self.mnt)

    def command(self):
        return ["unshare", "-r", "-m", "sh", "-c",
                'mount -t tmpfs -o size=%d tmpfs "$1" && mkdir "$1/data" && mnt="$1" bin="$2" '
                'port="$3" && shift 3 && exec "$bin" server --data "$mnt/data" '
                '--http "127.0.0.1:$port" "$@"' % self.size,
                "sh", self.mnt, self.binary, str(self.port)] + self.extra_args

    def start(self, timeout=60):
        probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c",
                                'mount -t tmpfs -o size=1m tmpfs "$1"', "sh", self.mnt],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            print("SKIP: cannot mount a tmpfs in a user namespace here: %s" %
                  probe.stderr.strip())
            shutil.rmtree(self.base, ignore_errors=True)
            sys.exit(77)
        super().start(timeout)
        check(os.path.isdir(os.path.join(self.volume, "data", "wal")),
              "cannot see the server's data directory in " + self.volume)
        return self

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self.base, ignore_errors=True)


def ingest_tier_corpus(binary, s, shared, trace_ids=False):
    """What the tier tests move between tiers: 2,000 generated JSON lines of March 2024 (far older
    than any warm_after or cold_after; services payments/search/auth, four levels, user ids,
    statuses, every ninth a "timeout"; with "trace_ids", a trace_id t00000... each) and the real
    loghub Linux dataset through `sawmill ingest` (service loghub_Linux), then a flush."""
    levels = ["DEBUG", "INFO", "WARN", "ERROR"]
    services = ["payments", "search", "auth"]
    for batch in range(4):
        lines = []
        for i in range(500):
            n = batch * 500 + i
            line = {"ts": "2024-03-%02dT10:%02d:%02dZ" % (1 + batch, i // 60 % 60, i % 60),
                    "service": services[n % 3], "host": "h%d" % (n % 4), "level": levels[n % 4]}
            if trace_ids:
                line["trace_id"] = "t%05d" % n
            line.update({"user_id": "u%d" % (n % 11), "status": 200 + (n % 7) * 50,
                         "msg": "request %d %s after %d ms" % (
                             n, "timeout" if n % 9 == 0 else "ok", n % 300)})
            lines.append(json.dumps(line))
        status, _, text = s.ingest("\n".join(lines) + "\n")
        check(status == 200, "ingest: %d %s" % (status, text))
    linux = os.path.join(shared, "data", "real", "loghub_2k", "Linux")
    files = [os.path.join(linux, f) for f in sorted(os.listdir(linux))
             if not f.startswith("LICENSE")]
    result = subprocess.run([binary, "ingest", "--server", s.url, "--service", "loghub_Linux",
                             "--quiet"] + files, capture_output=True, text=True, timeout=300)
    check(result.returncode == 0, "sawmill ingest: %s" % result.stderr)
    s.flush()


def search_answers(s, queries, **params):
    """Each query's answer in a form to compare across tier moves and restarts: the sorted rows
    of a pipeline with a stage, else the sorted (id, message) of the hits."""
    out = {}
    for q in queries:
        status, answer = s.search(q, limit="10000", **params)
        check(status == 200, "search %r: %d %r" % (q, status, answer))
        if "|" in q and answer.get("rows") is not None:
            out[q] = sorted(json.dumps(r, sort_keys=True) for r in answer["rows"])
        else:
            out[q] = sorted((h["id"], h["message"]) for h in answer["hits"])
    return out


def tier_table(s):
    """GET /api/v1/admin/tiers: the row of each tier over every tenant, by tier name."""
    status, _, body = request(s.url + "/api/v1/admin/tiers")
    check(status == 200, "GET /api/v1/admin/tiers: %d %s" % (status, body))
    return {t["tier"]: t for t in json.loads(body)["tiers"] if not t.get("tenant")}


def request(url, method="GET", body=None, headers=None, timeout=60, context=None):
    """Returns (status, headers, body bytes); HTTP errors are answers, not exceptions. "context":
    an ssl.SSLContext for https:// URLs."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def metric_value(metrics_text, name, **labels):
    """Sum of the samples of "name" whose labels include "labels"."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest and rest[0] not in "{ ":
            continue
        if all('%s="%s"' % (k, v) in rest for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class WebSocket:
    """A minimal RFC 6455 client: text messages, ping/pong, close."""

    def __init__(self, port, path, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (path, port, key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake: %r" % buf)
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode()
        self.status = int(status_line.split()[1])
        if self.status != 101:
            # The rest is an HTTP error answer with a JSON body.
            self.error_body = self.buf
            self.sock.close()
        self.close_code = None

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, payload=b""):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self, timeout=10):
        """The next text message as str; None when the server closed (see close_code). Raises
        socket.timeout when none arrived within "timeout" seconds (pings do not extend it)."""
        deadline = time.time() + timeout
        self.sock.settimeout(timeout)
        message = b""
        while True:
            if time.time() > deadline:
                raise socket.timeout("no message within %.1f s" % timeout)
            b0, b1 = self._read(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            if b1 & 0x80:
                mask = self._read(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(n)))
            else:
                payload = self._read(n)
            if opcode == 0x9:  # ping
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:  # close
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    self._send(0x8, payload[:2])
                except OSError:
                    pass
                return None
            message += payload
            if b0 & 0x80:
                return message.decode("utf-8")

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def count_lines(path):
    """Records the native endpoint makes of a file: one per line that is not blank (each
    physical line is one record; multi-line events are not joined). CRLF counts as one end."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip(b" \t\r\n\v\f"):
                n += 1
    return n


def psql(url, sql, timeout=120):
    """What one SQL statement answers through psql (unaligned, tuples only), stripped; raises
    when psql fails."""
    out = subprocess.run(["psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("psql %r: %s" % (sql, out.stderr))
    return out.stdout.strip()


def create_database(admin_url, name):
    """A new, empty database "name" on the PostgreSQL server of admin_url (one left by an earlier
    run dropped first); returns its URL."""
    psql(admin_url, "DROP DATABASE IF EXISTS %s" % name)
    psql(admin_url, "CREATE DATABASE %s" % name)
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(admin_url)._replace(path="/" + name))


def drop_database(admin_url, name):
    psql(admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def wait_registries(servers, live, timeout=60):
    """Waits until the node registry of every server in "servers" counts "live" live nodes (its
    gauge sawmill_cluster_live_nodes): the heartbeat that sets the gauge replaces, in the same
    step, the list of peers that queries fan out to and live tail feeds from. The catalog's
    nodes table (GET /api/v1/admin/nodes) may list a peer a heartbeat earlier; a fixed sleep
    for that heartbeat proved nothing on a loaded machine."""
    deadline = time.time() + timeout
    for s in servers:
        seen = None
        while True:
            seen = metric_value(s.metrics(), "sawmill_cluster_live_nodes")
            if seen == live or time.time() > deadline:
                break
            time.sleep(0.1)
        check(seen == live, "%s's registry counts %s live nodes after %d s, not %d" %
              (s.url, seen, timeout, live))
