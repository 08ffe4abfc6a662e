"""TLS against the real binary (docs/security.md "TLS"), with a CA and certificates made by the
`openssl` command in a temporary directory:

- HTTPS on the HTTP listener; a plain-HTTP request to it gets a 400 saying to use https;
- a client that connects and never handshakes (or stalls mid-handshake) is closed after
  tls_handshake_timeout and counted;
- the CLI (ingest, search, tail over WebSocket) verifies the server against --ca-file; a wrong
  CA, the system's CAs, an expired certificate and a certificate for another host are refused
  with a clear message; --insecure-skip-verify connects and warns;
- SIGHUP rereads the certificate files: a new connection sees the new certificate, a connection
  open before the reload keeps working, the listener never closes; a broken file keeps the
  previous certificate (and says so);
- client certificates (tls_client_auth=require): none, or one from another CA, is refused with a
  message naming --client-cert; one the CA issued ingests and searches;
- the agent: a wrong CA and a missing client certificate are reported in its status file and
  keep the lines spooled; with its certificate the same spool delivers every line once;
- syslog over TLS (RFC 5425) on its own port shares the HTTPS certificate: a reload serves the
  syslog port the new certificate too (its frames from Python, `openssl s_client` and rsyslog,
  and a silent client: e2e_syslog_tls).
"""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import select
import time
import http.client

from e2e_lib import Server, check, free_port, metric_value, request

BINARY = sys.argv[1]


# ---- A test CA and certificates, made with the openssl command ----

REQ_CONFIG = """[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

CA_CONFIG = """[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
[ any ]
commonName = supplied
"""


def openssl(*args, cwd):
    proc = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    check(proc.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), proc.stderr))


class Pki:
    """CAs and certificates in a directory; each CA signs with `openssl ca` so that validity
    dates can lie in the past."""

    def __init__(self, root):
        self.root = root
        self.req_config = os.path.join(root, "req.cnf")
        with open(self.req_config, "w") as f:
            f.write(REQ_CONFIG)

    def ca(self, name):
        d = os.path.join(self.root, name)
        os.makedirs(os.path.join(d, "issued"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CONFIG.format(dir=d))
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "3", "-subj", "/CN=Sawmill test CA " + name, "-config", self.req_config,
                "-extensions", "v3_ca", cwd=d)
        return d

    def issue(self, ca_dir, name, cn, sans=None, client=False, start=None, end=None):
        """Returns (cert path, key path) of a certificate "name" signed by the CA in ca_dir."""
        d = self.root
        key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".crt"))
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn, "-config",
                self.req_config, cwd=d)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints = CA:FALSE\n")
            f.write("extendedKeyUsage = %s\n" % ("clientAuth" if client else "serverAuth"))
            if sans:
                f.write("subjectAltName = %s\n" % ",".join(sans))
        dates = (["-startdate", start, "-enddate", end] if start else ["-days", "2"])
        openssl("ca", "-batch", "-notext", "-config", os.path.join(ca_dir, "ca.cnf"), "-cert",
                os.path.join(ca_dir, "ca.crt"), "-keyfile", os.path.join(ca_dir, "ca.key"),
                "-in", csr, "-out", crt, "-extfile", ext, *dates, cwd=d)
        return crt, key


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_cert(port):
    """The DER certificate a new connection to the port is served (no verification)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def cli(*args, expect=0, timeout=120):
    env = dict(os.environ)
    for name in ("SAWMILL_TOKEN", "SAWMILL_CA_FILE", "SAWMILL_INSECURE_SKIP_VERIFY",
                 "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(name, None)
    proc = subprocess.run([BINARY] + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)
    if expect is not None:
        check(proc.returncode == expect, "sawmill %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
              % (" ".join(args), proc.returncode, expect, proc.stdout, proc.stderr))
    return proc


def wait_for(predicate, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def install(src_crt, src_key, dst_crt, dst_key):
    """Replaces the served files the way an operator (or certbot) would: write, then rename."""
    for src, dst in ((src_crt, dst_crt), (src_key, dst_key)):
        shutil.copyfile(src, dst + ".new")
        os.replace(dst + ".new", dst)


def test_plain_http_and_stalled_handshakes(server):
    # A plain-HTTP client on the HTTPS port is told what to do.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    check(answer.startswith(b"HTTP/1.1 400") and b"use https://" in answer,
          "plain HTTP on the HTTPS port got %r" % answer[:300])

    # Silent clients and one that stops mid-handshake are closed after the handshake timeout
    # (1 s here), and the server keeps serving meanwhile.
    before = metric_value(server_metrics(server), "sawmill_http_connection_timeouts_total",
                          phase="handshake")
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(3)]
    partial = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
    status, _, _ = request(server.url + "/healthz", context=server.ssl_context)
    check(status == 200, "healthz over TLS while clients stall: %d" % status)
    started = time.time()
    for s in silent + [partial]:
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        check(data == b"" or data.startswith(b"\x15"),
              "a stalled handshake got %r instead of a close" % data)
        s.close()
    waited = time.time() - started
    check(waited < 15, "stalled handshakes closed only after %.1f s" % waited)
    after = metric_value(server_metrics(server), "sawmill_http_connection_timeouts_total",
                         phase="handshake")
    check(after - before >= 4, "handshake timeouts counted %d, expected 4" % (after - before))
    check(metric_value(server_metrics(server), "sawmill_tls_handshake_failures_total",
                       listener="http", reason="plain_text") >= 1, "plain_text not counted")


def server_metrics(server):
    # Unverified: the reload test serves expired and mismatched certificates on purpose.
    _, _, body = request(server.url + "/metrics", context=ssl._create_unverified_context())
    return body.decode()


def test_cli_verifies_the_server(server, pki, ca, other_ca):
    url_ip = "https://127.0.0.1:%d" % server.port
    url_name = "https://localhost:%d" % server.port
    ca_crt = os.path.join(ca, "ca.crt")
    lines = "".join('{"service":"tls-e2e","level":"ERROR","msg":"over https %d"}\n' % i
                    for i in range(50))
    path = os.path.join(pki.root, "lines.ndjson")
    with open(path, "w") as f:
        f.write(lines)
    cli("ingest", "--server", url_ip, "--ca-file", ca_crt, path)
    proc = cli("search", "--server", url_name, "--ca-file", ca_crt, "--all-time", "-n", "100",
               "--output", "raw", "service=tls-e2e")
    got = [l for l in proc.stdout.splitlines() if l.startswith("over https")]
    check(len(got) == 50, "search over https found %d of 50 lines:\n%s" % (len(got), proc.stdout))

    # Live tail over WebSocket-over-TLS sees a line ingested after it started.
    tail_path = os.path.join(pki.root, "tail.ndjson")
    with open(tail_path, "w") as f:
        f.write('{"service":"tls-tail","msg":"over https, live"}\n')
    tail = subprocess.Popen([BINARY, "tail", "--server", url_name, "--ca-file", ca_crt,
                             "--json", "--max-lines", "1", "--service", "tls-tail"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        seen = False
        while time.time() < deadline and not seen:
            cli("ingest", "--server", url_ip, "--ca-file", ca_crt, tail_path)
            ready, _, _ = select.select([tail.stdout], [], [], 1.0)
            if ready:
                line = tail.stdout.readline()
                seen = "over https" in line
        check(seen, "sawmill tail over wss saw nothing; stderr: %s" %
              (tail.stderr.read() if tail.poll() is not None else "(running)"))
    finally:
        tail.terminate()
        tail.wait(10)

    # A CA that did not sign the certificate, and the system's CAs, are refused.
    proc = cli("search", "--server", url_ip, "--ca-file", os.path.join(other_ca, "ca.crt"),
               "--all-time", "x", expect=1)
    check("not signed by a CA this client trusts" in proc.stderr and "--ca-file" in proc.stderr,
          "wrong CA: %s" % proc.stderr)
    proc = cli("search", "--server", url_ip, "--all-time", "x", expect=1)
    check("not signed by a CA this client trusts" in proc.stderr and "system" in proc.stderr,
          "system CAs: %s" % proc.stderr)
    # Skipping verification connects, with a warning.
    proc = cli("search", "--server", url_ip, "--insecure-skip-verify", "--all-time", "--output",
               "raw", "service=tls-e2e")
    check("over https" in proc.stdout, "skip-verify search: %s" % proc.stdout[:300])
    check("warning: --insecure-skip-verify" in proc.stderr,
          "no warning with --insecure-skip-verify: %r" % proc.stderr)
    # A plain http:// URL to the HTTPS port: the server's answer says to use https.
    proc = cli("search", "--server", "http://127.0.0.1:%d" % server.port, "--all-time", "x",
               expect=1)
    check("use https://" in proc.stderr, "http:// to an HTTPS port: %s" % proc.stderr)


def test_reload_on_sighup(server, pki, ca, served_crt, served_key, certs, syslog_port):
    ca_crt = os.path.join(ca, "ca.crt")
    url_ip = "https://127.0.0.1:%d" % server.port
    # A keep-alive connection opened before the reloads.
    old = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.ssl_context,
                                      timeout=30)
    old.request("GET", "/healthz")
    check(old.getresponse().read() is not None, "first request on the old connection")

    def reload_to(name):
        crt, key = certs[name]
        install(crt, key, served_crt, served_key)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: served_cert(server.port) == der_of(crt), "the %s certificate" % name)
        # The syslog TLS listener shares the context: it serves the new certificate too.
        check(served_cert(syslog_port) == der_of(crt), "syslog TLS after the reload to %s" % name)

    # A certificate for another host name: refused for the host mismatch.
    reload_to("elsewhere")
    proc = cli("search", "--server", url_ip, "--ca-file", ca_crt, "--all-time", "x", expect=1)
    check("is not for 127.0.0.1" in proc.stderr, "hostname mismatch: %s" % proc.stderr)
    # An expired certificate: refused as expired.
    reload_to("expired")
    proc = cli("search", "--server", url_ip, "--ca-file", ca_crt, "--all-time", "x", expect=1)
    check("has expired" in proc.stderr, "expired certificate: %s" % proc.stderr)
    # A key that does not belong to the certificate: the reload fails, the expired one stays.
    install(certs["good"][0], certs["elsewhere"][1], served_crt, served_key)
    errors_before = metric_value(server_metrics(server), "sawmill_tls_reloads_total",
                                 result="error")
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: metric_value(server_metrics(server), "sawmill_tls_reloads_total",
                                  result="error") > errors_before, "the failed reload")
    check(served_cert(server.port) == der_of(certs["expired"][0]),
          "a failed reload changed the served certificate")
    check("does not belong to the certificate" in server.read_log(),
          "the failed reload is not logged with its reason")
    # Back to the good one: the CLI works again; the old connection never noticed.
    reload_to("good")
    cli("search", "--server", url_ip, "--ca-file", ca_crt, "--all-time", "x")
    old.request("GET", "/healthz")
    response = old.getresponse()
    check(response.status == 200, "the connection opened before the reloads: %d" %
          response.status)
    response.read()
    old.close()


def test_client_certificates(pki, ca, other_ca, certs):
    """tls_client_auth=require: no certificate, or one from another CA, gets no connection; one
    the CA issued does, and the token question is unchanged (no tokens here: open server)."""
    ca_crt = os.path.join(ca, "ca.crt")
    server = Server(BINARY, extra_args=["--tls-cert", certs["good"][0], "--tls-key",
                                        certs["good"][1], "--tls-client-ca", ca_crt,
                                        "--tls-client-auth", "require"])
    server.scheme = "https"
    agent_crt, agent_key = certs["agent"]
    server.ssl_context = ssl.create_default_context(cafile=ca_crt)
    server.ssl_context.load_cert_chain(agent_crt, agent_key)
    with server:
        url = "https://localhost:%d" % server.port
        proc = cli("search", "--server", url, "--ca-file", ca_crt, "--all-time", "x", expect=1)
        check("--client-cert" in proc.stderr, "no client certificate: %s" % proc.stderr)
        stranger_crt, stranger_key = certs["stranger"]
        proc = cli("search", "--server", url, "--ca-file", ca_crt, "--client-cert", stranger_crt,
                   "--client-key", stranger_key, "--all-time", "x", expect=1)
        check("did not accept the client certificate" in proc.stderr,
              "a client certificate from another CA: %s" % proc.stderr)
        path = os.path.join(pki.root, "mtls.ndjson")
        with open(path, "w") as f:
            f.write('{"service":"mtls","msg":"with a client certificate"}\n')
        cli("ingest", "--server", url, "--ca-file", ca_crt, "--client-cert", agent_crt,
            "--client-key", agent_key, path)
        proc = cli("search", "--server", url, "--ca-file", ca_crt, "--client-cert", agent_crt,
                   "--client-key", agent_key, "--all-time", "--output", "raw", "service=mtls")
        check("with a client certificate" in proc.stdout, "mTLS search: %s" % proc.stdout)
        check(metric_value(server_metrics_with(server, server.ssl_context),
                           "sawmill_tls_handshake_failures_total", listener="http",
                           reason="error") >= 1, "refused client certificates not counted")
        test_agent(server, pki, ca, other_ca, certs)
        check(server.stop() == 0, "server exit code")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def run_agent(root, name, url, tls_lines, log_path, spool):
    config = os.path.join(root, name + ".yaml")
    with open(config, "w") as f:
        f.write("server: %s\nspool: { path: %s }\nbatch: { max_wait: 100ms }\n"
                "retry: { max_backoff: 1s }\n%s"
                "inputs:\n  - type: file\n    paths: [\"%s\"]\n    service: agent-tls\n"
                % (url, spool, tls_lines, log_path))
    log = open(os.path.join(root, name + ".log"), "wb")
    proc = subprocess.Popen([BINARY, "agent", "--config", config], stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, os.path.join(spool, "status.json"), log.name


def stop_agent(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_agent(server, pki, ca, other_ca, certs):
    """The agent over HTTPS with mTLS: a CA that did not sign the server's certificate, then no
    client certificate, are refused with the reason in the status file and the lines stay in the
    spool; with its certificate the same spool delivers every line, once."""
    ca_crt = os.path.join(ca, "ca.crt")
    url = "https://localhost:%d" % server.port
    log_path = os.path.join(pki.root, "app.log")
    with open(log_path, "w") as f:
        for i in range(200):
            f.write("agent line %d over mTLS\n" % i)
    spool = os.path.join(pki.root, "agent-spool")

    def count():
        _, _, body = request(server.url + "/api/v1/search?q=service%3Dagent-tls%20%7C%20count"
                             "&all_time=1", context=server.ssl_context)
        rows = json.loads(body).get("rows", [])
        return rows[0]["count"] if rows else 0

    for name, tls, reason in (
            ("wrong-ca", "tls: { ca_file: %s }\n" % os.path.join(other_ca, "ca.crt"),
             "SSL certificate problem"),
            ("no-cert", "tls: { ca_file: %s }\n" % ca_crt, "certificate required")):
        proc, status_path, agent_log = run_agent(pki.root, name, url, tls, log_path, spool)
        try:
            wait_for(lambda: reason in read_json(status_path).get("last_error", ""),
                     "the agent (%s) to report %r; status: %s; log: %s"
                     % (name, reason, read_json(status_path), agent_log), timeout=60)
        finally:
            stop_agent(proc)
        check(count() == 0, "the agent (%s) delivered lines through a refused TLS connection"
              % name)
    crt, key = certs["agent"]
    proc, status_path, agent_log = run_agent(
        pki.root, "with-cert", url,
        "tls: { ca_file: %s, cert_file: %s, key_file: %s }\n" % (ca_crt, crt, key), log_path,
        spool)
    try:
        wait_for(lambda: count() >= 200, "200 lines from the agent over mTLS", timeout=90)
        time.sleep(1)
        check(count() == 200, "the agent delivered %d lines, expected 200 once" % count())
    finally:
        stop_agent(proc)


def server_metrics_with(server, context):
    _, _, body = request(server.url + "/metrics", context=context)
    return body.decode()


def main():
    root = tempfile.mkdtemp(prefix="sawmill_tls_")
    try:
        pki = Pki(root)
        ca = pki.ca("ca")
        other_ca = pki.ca("other")
        certs = {
            "good": pki.issue(ca, "good", "localhost", ["DNS:localhost", "IP:127.0.0.1"]),
            "elsewhere": pki.issue(ca, "elsewhere", "elsewhere.example",
                                   ["DNS:elsewhere.example"]),
            "expired": pki.issue(ca, "expired", "localhost", ["DNS:localhost", "IP:127.0.0.1"],
                                 start="20200101000000Z", end="20200102000000Z"),
        }
        certs["agent"] = pki.issue(ca, "agent", "agent-1", client=True)
        certs["stranger"] = pki.issue(other_ca, "stranger", "agent-2", client=True)
        served_crt = os.path.join(root, "served.crt")
        served_key = os.path.join(root, "served.key")
        install(*certs["good"], served_crt, served_key)

        syslog_port = free_port()
        server = Server(BINARY, extra_args=["--tls-cert", served_crt, "--tls-key", served_key,
                                            "--tls-handshake-timeout", "1s", "--syslog-tls",
                                            "127.0.0.1:%d" % syslog_port])
        server.scheme = "https"
        server.ssl_context = ssl.create_default_context(cafile=os.path.join(ca, "ca.crt"))
        with server:
            check(served_cert(server.port) == der_of(certs["good"][0]), "the served certificate")
            test_plain_http_and_stalled_handshakes(server)
            test_cli_verifies_the_server(server, pki, ca, other_ca)
            test_reload_on_sighup(server, pki, ca, served_crt, served_key, certs, syslog_port)
            check(server.stop() == 0, "server exit code")
        test_client_certificates(pki, ca, other_ca, certs)
        print("e2e_tls: ok")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
