"""Syslog over TLS (RFC 5425, `--syslog-tls`) under load, against the real binary: every frame
sent is stored exactly once.

Each round sends, at once, from many connections:
- Python's ssl, in four ways per connection: one TLS record per frame and an abrupt close (no
  close_notify; the way Python's `with` closes), every frame in one write followed at once by
  close_notify (the peer's close arriving in the same read as the last frames), frames cut at
  random byte boundaries across writes (a frame split across TLS records, octet counting and LF
  framing mixed), and records of several frames with a half-second pause before the close;
- `openssl s_client` processes, each piping its frames and closing;
- rsyslog forwarding a file with its TLS stream driver (rsyslog-openssl, `ossl`);
then reads every stored line back (GET /api/v1/export) and checks that each frame's id is there
once and nothing else is.

Bad input, each round: a plain-text sender on the TLS port (closed, counted as plain_text, not
stored), a client that never shakes hands (closed after tls_handshake_timeout, counted), and an
octet-counted frame longer than the largest message (the frames before it stored, the connection
closed, counted in sawmill_syslog_dropped_total{reason="frame_too_long"} and logged); the server
serves on afterwards.

Usage: e2e_syslog_tls_test.py BINARY [ROUNDS] (default 2). Run it in a loop to stress it.
"""

import collections
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from e2e_lib import Server, check, free_port, metric_value, request

BINARY = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2

PYTHON_CONNECTIONS = 48  # per round
PYTHON_FRAMES = 60       # per connection
SCLIENT_PROCESSES = 4
SCLIENT_FRAMES = 100
RSYSLOG_LINES = 300
MAX_MESSAGE = 64 * 1024  # the syslog listener's max_message_bytes


def make_certificates(root):
    """A CA and a certificate for localhost / 127.0.0.1 that it signed."""
    def openssl(*args):
        proc = subprocess.run(["openssl"] + list(args), cwd=root, capture_output=True, text=True,
                              timeout=60)
        check(proc.returncode == 0, "openssl %s: %s" % (" ".join(args), proc.stderr))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
            "/CN=Sawmill syslog TLS test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=localhost")
    with open(os.path.join(root, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    return [os.path.join(root, n) for n in ("ca.crt", "server.crt", "server.key")]


def frame_text(frame_id):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return "<134>1 %s stresshost stress 7 - - frame id=%s end" % (stamp, frame_id)


def octet_counted(text):
    data = text.encode()
    return b"%d %s" % (len(data), data)


def tls_connect(context, port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return context.wrap_socket(raw, server_hostname="localhost")


def python_sender(context, port, round_no, conn, sent, errors):
    try:
        ids = ["%d.py.%d.%d" % (round_no, conn, f) for f in range(PYTHON_FRAMES)]
        mode = conn % 4
        rng = random.Random(round_no * 1000 + conn)
        tls = tls_connect(context, port)
        if mode == 0:
            # One record per frame, then an abrupt close (no close_notify).
            for i in ids:
                tls.sendall(octet_counted(frame_text(i)))
            tls.close()
        elif mode == 1:
            # Everything in one write, close_notify right behind it.
            tls.sendall(b"".join(octet_counted(frame_text(i)) for i in ids))
            tls = tls.unwrap()
            tls.close()
        elif mode == 2:
            # Octet counting and LF framing mixed, cut at random byte boundaries.
            data = b"".join(octet_counted(frame_text(i)) if n % 2 else
                            frame_text(i).encode() + b"\n" for n, i in enumerate(ids))
            pos = 0
            while pos < len(data):
                step = rng.randint(1, 300)
                tls.sendall(data[pos:pos + step])
                pos += step
            tls.close()
        else:
            # Records of several frames, a pause, then close_notify.
            for k in range(0, len(ids), 7):
                tls.sendall(b"".join(octet_counted(frame_text(i)) for i in ids[k:k + 7]))
            time.sleep(0.5)
            tls = tls.unwrap()
            tls.close()
        sent.extend(ids)
    except Exception as e:  # reported by the main thread
        errors.append("python connection %d: %r" % (conn, e))


def sclient_sender(ca_crt, port, round_no, proc_no, sent, errors):
    ids = ["%d.sc.%d.%d" % (round_no, proc_no, f) for f in range(SCLIENT_FRAMES)]
    data = b"".join(octet_counted(frame_text(i)) for i in ids)
    proc = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile",
                           ca_crt, "-verify_return_error", "-verify_hostname", "localhost",
                           "-quiet", "-no_ign_eof"], input=data, capture_output=True, timeout=60)
    if proc.returncode != 0:
        errors.append("openssl s_client %d: %s" % (proc_no, proc.stderr.decode()[-500:]))
    else:
        sent.extend(ids)


class Rsyslog:
    """rsyslogd forwarding a file to the syslog TLS port (omfwd, ossl stream driver)."""

    def __init__(self, root, ca_crt, port):
        self.dir = os.path.join(root, "rsyslog")
        os.makedirs(self.dir)
        self.source = os.path.join(self.dir, "app.log")
        open(self.source, "w").close()
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s" DefaultNetstreamDriverCAFile="%s")\n'
                    'module(load="imfile" mode="inotify")\n'
                    'input(type="imfile" File="%s" Tag="stress" Severity="info" '
                    'Facility="local0" Ruleset="tls")\n'
                    'ruleset(name="tls") { action(type="omfwd" target="127.0.0.1" port="%d" '
                    'protocol="tcp" StreamDriver="ossl" StreamDriverMode="1" '
                    'StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost" '
                    'TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format") }\n'
                    % (self.dir, ca_crt, self.source, port))
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i",
                                      os.path.join(self.dir, "rsyslog.pid")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)  # imfile watches the file from here on

    def send(self, ids):
        with open(self.source, "a") as f:
            f.write("".join("frame id=%s end\n" % i for i in ids))

    def output(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.communicate(timeout=10)[0].decode("utf-8", "replace")[-2000:]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate()[0].decode("utf-8", "replace")[-2000:]


def stored_ids(server, context):
    """Every frame id stored (with repeats), read through the export."""
    status, _, body = request(server.url + "/api/v1/export?" + urllib.parse.urlencode(
        {"q": "frame", "all_time": "1", "order": "oldest"}), context=context, timeout=300)
    check(status == 200, "export: %d %s" % (status, body[:300]))
    ids = []
    for line in body.decode().splitlines():
        found = re.search(r"id=(\S+) end", json.loads(line).get("message", ""))
        if found:
            ids.append(found.group(1))
    return ids


def stored_count(server, context):
    status, _, body = request(server.url + "/api/v1/search?" + urllib.parse.urlencode(
        {"q": "frame | count", "all_time": "1", "cache": "0"}), context=context, timeout=120)
    check(status == 200, "count: %d %s" % (status, body[:300]))
    rows = json.loads(body).get("rows", [])
    return rows[0]["count"] if rows else 0


def metric(server, context, name, **labels):
    _, _, body = request(server.url + "/metrics", context=context)
    return metric_value(body.decode(), name, **labels)


def closed_by_server(sock, seconds):
    """True when the peer closes "sock" (EOF or reset) within "seconds"."""
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError, ssl.SSLEOFError):
        return True
    except socket.timeout:
        return False


def bad_input(server, context, port, round_no, expected):
    # A plain-text sender on the TLS port: closed at once, counted, nothing stored.
    before = metric(server, context, "sawmill_tls_handshake_failures_total", listener="syslog",
                    reason="plain_text")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(frame_text("%d.plain" % round_no).encode() + b"\n")
        check(closed_by_server(plain, 10), "a plain-text sender was not closed")
    check(metric(server, context, "sawmill_tls_handshake_failures_total", listener="syslog",
                 reason="plain_text") == before + 1, "the plain-text sender was not counted")

    # A client that never shakes hands: closed after tls_handshake_timeout (1 s).
    before = metric(server, context, "sawmill_tls_handshake_failures_total", listener="syslog",
                    reason="timeout")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        started = time.time()
        check(closed_by_server(silent, 15) and time.time() - started < 10,
              "a silent client was held %.1f s" % (time.time() - started))
    deadline = time.time() + 10
    while (metric(server, context, "sawmill_tls_handshake_failures_total", listener="syslog",
                  reason="timeout") == before and time.time() < deadline):
        time.sleep(0.1)
    check(metric(server, context, "sawmill_tls_handshake_failures_total", listener="syslog",
                 reason="timeout") == before + 1, "the handshake timeout was not counted")

    # A frame longer than the largest message: the frames before it are stored, then the
    # connection is closed; counted and logged.
    before = metric(server, context, "sawmill_syslog_dropped_total", reason="frame_too_long")
    ids = ["%d.big.%d" % (round_no, i) for i in range(3)]
    tls = tls_connect(context, port)
    tls.sendall(b"".join(octet_counted(frame_text(i)) for i in ids))
    try:
        tls.sendall(b"%d " % (MAX_MESSAGE + 1) + b"x" * 1000)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server may have closed already: what is checked is that it did
    check(closed_by_server(tls, 10), "a connection with a too long frame was not closed")
    tls.close()
    expected.extend(ids)
    check(metric(server, context, "sawmill_syslog_dropped_total", reason="frame_too_long") ==
          before + 1, "the too long frame was not counted")
    check("announced a frame of %d bytes" % (MAX_MESSAGE + 1) in server.read_log() or round_no > 0,
          "the too long frame was not logged: %s" % server.read_log()[-1500:])


def main():
    root = tempfile.mkdtemp(prefix="sawmill_syslog_tls_")
    try:
        ca_crt, crt, key = make_certificates(root)
        port = free_port()
        server = Server(BINARY, extra_args=["--tls-cert", crt, "--tls-key", key,
                                            "--tls-handshake-timeout", "1s", "--syslog-tls",
                                            "127.0.0.1:%d" % port])
        server.scheme = "https"
        server.ssl_context = ssl.create_default_context(cafile=ca_crt)
        context = server.ssl_context
        with server:
            rsyslog = Rsyslog(root, ca_crt, port)
            expected = []
            try:
                for round_no in range(ROUNDS):
                    started = time.time()
                    sent, errors = [], []
                    threads = [threading.Thread(target=python_sender,
                                                args=(context, port, round_no, c, sent, errors))
                               for c in range(PYTHON_CONNECTIONS)]
                    threads += [threading.Thread(target=sclient_sender,
                                                 args=(ca_crt, port, round_no, p, sent, errors))
                                for p in range(SCLIENT_PROCESSES)]
                    rs_ids = ["%d.rs.%d" % (round_no, i) for i in range(RSYSLOG_LINES)]
                    for t in threads:
                        t.start()
                    rsyslog.send(rs_ids)
                    for t in threads:
                        t.join(120)
                    check(not errors, "senders failed: %s" % errors[:5])
                    expected.extend(sent + rs_ids)
                    bad_input(server, context, port, round_no, expected)
                    # Everything arrives (lines lost are never late: a minute is plenty).
                    deadline = time.time() + 60
                    while stored_count(server, context) < len(expected) and time.time() < deadline:
                        time.sleep(0.25)
                    time.sleep(0.5)  # nothing more (a repeat) comes after
                    ids = stored_ids(server, context)
                    counts = collections.Counter(ids)
                    missing = sorted(set(expected) - set(counts))
                    repeated = sorted(i for i, n in counts.items() if n > 1)
                    unknown = sorted(set(counts) - set(expected))
                    check(not missing and not repeated and not unknown and
                          len(ids) == len(expected),
                          "round %d: %d frames sent, %d stored; missing %d %s, repeated %d %s, "
                          "unknown %d %s" % (round_no, len(expected), len(ids), len(missing),
                                             missing[:10], len(repeated), repeated[:10],
                                             len(unknown), unknown[:10]))
                    print("round %d: %d frames from %d connections, each stored once (%.1f s)"
                          % (round_no, len(sent) + len(rs_ids) + 3,
                             PYTHON_CONNECTIONS + SCLIENT_PROCESSES + 2, time.time() - started))
            except AssertionError:
                raise AssertionError("%s\nrsyslog said: %s" % (sys.exc_info()[1],
                                                               rsyslog.output()))
            finally:
                rsyslog.output()
            check(metric(server, context, "sawmill_syslog_messages_total", transport="tls") ==
                  len(expected), "sawmill_syslog_messages_total{transport=tls}")
            check(server.stop() == 0, "server exit code")
        print("e2e_syslog_tls: ok")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
