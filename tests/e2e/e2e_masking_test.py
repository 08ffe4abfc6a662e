"""PII masking at the server, through every front door of the real binary (docs/security.md
"PII masking"): native JSON, Elasticsearch _bulk, Loki push (JSON and snappy protobuf), OTLP logs
(JSON and protobuf), syslog over UDP and TCP, and syslog over TLS (RFC 5425, on a server of
its own with HTTPS).

For each door, a line with a card number, an e-mail address and an IPv4 address is sent for the
tenant with masking rules ("acme"; syslog: "default", the only tenant syslog has) and for a
tenant without rules ("plain"). Then:
- the stored and searched line of the masked tenant holds [REDACTED] and none of the values, in
  the message and in fields, carries the flag `redacted` and the field `sawmill.masked`, and
  sawmill_ingest_masked_total{tenant,rule} counted it;
- a search for the raw card number finds nothing (memtable, and again after a flush: segment
  columns and indexes); the tenant without rules finds its own raw line, untouched;
- no masked value is anywhere in the data directory (the WAL on disk), while the unmasked
  tenant's values are (so the grep can see what it looks for).
A second server without the option shows the default: syslog lines of "default" are untouched.
"""

import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

from e2e_lib import Server, check, free_port, metric_value, request

BINARY = sys.argv[1]

MASKING = """
acme:
  detectors: [card, email, ipv4]
  rules:
    - name: api_key
      pattern: 'api_key=(\\w{2})\\w+'
      replacement: 'api_key=\\1***'
default:
  detectors: [card, email, ipv4]
"""


def luhn_card(seed):
    """A 16-digit Visa number that passes Luhn, different for every seed."""
    body = "4%014d" % (seed * 7919 + 123456789)
    digits = [int(c) for c in body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def snappy_literal(data):
    """A snappy block holding "data" as literals only (valid snappy, no compression)."""
    out = bytearray(varint(len(data)))
    pos = 0
    while pos < len(data):
        chunk = data[pos:pos + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
        pos += len(chunk)
    return bytes(out)


def loki_protobuf(labels, ts_ns, line):
    entry = field(1, 2, field(1, 0, varint(ts_ns // 10**9)) + field(2, 0, varint(ts_ns % 10**9)))
    entry += field(2, 2, line.encode())
    stream = field(1, 2, labels.encode()) + field(2, 2, entry)
    return snappy_literal(field(1, 2, stream))


def otlp_protobuf(ts_ns, line, attributes):
    body = field(1, 2, line.encode())  # AnyValue.string_value
    record = field(1, 1, struct.pack("<Q", ts_ns)) + field(5, 2, body)
    for key, value in attributes.items():
        record += field(6, 2, field(1, 2, key.encode()) + field(2, 2, field(1, 2, value.encode())))
    scope = field(2, 2, record)
    resource = field(2, 2, scope)
    return field(1, 2, resource)


def search(server, tenant, q):
    url = server.url + "/api/v1/search?" + urllib.parse.urlencode(
        {"q": q, "all_time": "1", "limit": "100", "cache": "0"})
    status, _, body = request(url, headers={"X-Scope-OrgID": tenant}, timeout=120)
    check(status == 200, "search %r for %s: %d %s" % (q, tenant, status, body))
    return json.loads(body)["hits"]


class Door:
    def __init__(self, name, send, masked_tenant="acme", plain_tenant="plain"):
        self.name = name
        self.send = send
        self.masked_tenant = masked_tenant
        self.plain_tenant = plain_tenant


def post(server, path, tenant, body, content_type, expect):
    status, _, answer = request(server.url + path, method="POST", body=body,
                                headers={"X-Scope-OrgID": tenant, "Content-Type": content_type})
    check(status == expect, "%s for %s: %d %s" % (path, tenant, status, answer))


def send_native(server, tenant, word, card, email, ip):
    line = {"msg": "%s paid with %s from %s api_key=abcdef" % (word, card, ip),
            "customer": {"email": email, "card": card},
            # A value in a key: the field's key is masked too.
            "approvals": {email: "granted"}}
    post(server, "/api/v1/ingest", tenant, (json.dumps(line) + "\n").encode(),
         "application/x-ndjson", 200)


def send_bulk(server, tenant, word, card, email, ip):
    doc = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "message": "%s paid with %s from %s" % (word, card, ip), "user.email": email}
    body = json.dumps({"index": {"_index": "logs"}}) + "\n" + json.dumps(doc) + "\n"
    post(server, "/_bulk", tenant, body.encode(), "application/x-ndjson", 200)


def send_loki_json(server, tenant, word, card, email, ip):
    body = {"streams": [{"stream": {"service_name": "shop", "client": ip},
                         "values": [[str(time.time_ns()),
                                     "%s paid with %s by %s" % (word, card, email)]]}]}
    post(server, "/loki/api/v1/push", tenant, json.dumps(body).encode(), "application/json", 204)


def send_loki_proto(server, tenant, word, card, email, ip):
    body = loki_protobuf('{service_name="shop", client="%s"}' % ip, time.time_ns(),
                         "%s paid with %s by %s" % (word, card, email))
    post(server, "/loki/api/v1/push", tenant, body, "application/x-protobuf", 204)


def send_otlp_json(server, tenant, word, card, email, ip):
    body = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "shop"}}]}, "scopeLogs": [
        {"logRecords": [{"timeUnixNano": str(time.time_ns()),
                         "body": {"stringValue": "%s paid with %s from %s" % (word, card, ip)},
                         "attributes": [{"key": "email", "value": {"stringValue": email}}]}]}]}]}
    post(server, "/v1/logs", tenant, json.dumps(body).encode(), "application/json", 200)


def send_otlp_proto(server, tenant, word, card, email, ip):
    body = otlp_protobuf(time.time_ns(), "%s paid with %s from %s" % (word, card, ip),
                         {"email": email})
    post(server, "/v1/logs", tenant, body, "application/x-protobuf", 200)


def syslog_line(word, card, email, ip):
    return "<14>1 %s shophost shop - - - %s paid with %s by %s from %s" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), word, card, email, ip)


def send_syslog_udp(port, word, card, email, ip):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(syslog_line(word, card, email, ip).encode(), ("127.0.0.1", port))


def send_syslog_tcp(port, word, card, email, ip):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall((syslog_line(word, card, email, ip) + "\n").encode())


def wait_for(server, tenant, word, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        hits = search(server, tenant, word)
        if hits:
            return hits
        time.sleep(0.2)
    raise AssertionError("no line with %r for %s within %d s" % (word, tenant, timeout))


def data_dir_bytes(path):
    chunks = []
    for root, _, files in os.walk(path):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    chunks.append(f.read())
            except OSError:
                pass
    return b"".join(chunks)


def test_syslog_over_tls():
    """The syslog TLS door (--syslog-tls, RFC 5425) masks like the plain syslog doors: the
    stored and searched line, the flag, the metric, and nothing of it on disk."""
    certs = tempfile.mkdtemp(prefix="sawmill_e2e_mask_tls_")
    try:
        crt, key = os.path.join(certs, "server.crt"), os.path.join(certs, "server.key")
        proc = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            capture_output=True, text=True, timeout=60)
        check(proc.returncode == 0, "openssl: %s" % proc.stderr)
        context = ssl.create_default_context(cafile=crt)
        port = free_port()
        server = Server(BINARY, extra_args=["--masking", MASKING, "--tls-cert", crt, "--tls-key",
                                            key, "--syslog-tls", "127.0.0.1:%d" % port])
        server.scheme, server.ssl_context = "https", context
        with server:
            deadline = time.time() + 30
            while "syslog: listening" not in server.read_log() and time.time() < deadline:
                time.sleep(0.1)
            card, email, ip = luhn_card(42), "dave@example.com", "10.6.6.6"
            data = syslog_line("doorsyslogtls", card, email, ip).encode()
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"%d %s" % (len(data), data))
            url = server.url + "/api/v1/search?" + urllib.parse.urlencode(
                {"q": "doorsyslogtls", "all_time": "1", "cache": "0"})
            hits = []
            while not hits and time.time() < deadline + 30:
                status, _, body = request(url, context=context, timeout=60)
                check(status == 200, "search over https: %d %s" % (status, body))
                hits = json.loads(body)["hits"]
                time.sleep(0.2)
            check(len(hits) == 1, "syslog over TLS: %d hits" % len(hits))
            text = json.dumps(hits[0])
            for value in (card, email, ip):
                check(value not in text, "syslog over TLS: %s survived masking: %s" % (value, text))
            check("[REDACTED]" in hits[0]["message"] and "redacted" in hits[0].get("flags", []),
                  "syslog over TLS: not masked or not flagged: %s" % text)
            _, _, metrics = request(server.url + "/metrics", context=context)
            check(metric_value(metrics.decode(), "sawmill_ingest_masked_total", tenant="default",
                               rule="card") == 1, "syslog over TLS: the card not counted")
            on_disk = data_dir_bytes(server.data_dir)
            for value in (card, email, ip):
                check(value.encode() not in on_disk, "syslog over TLS: %s is on disk" % value)
    finally:
        shutil.rmtree(certs, ignore_errors=True)


def main():
    syslog_port = free_port()
    args = ["--masking", MASKING, "--syslog", "127.0.0.1:%d" % syslog_port,
            "--flush-interval", "1h"]
    doors = ["native", "bulk", "lokijson", "lokiproto", "otlpjson", "otlpproto", "syslogudp",
             "syslogtcp"]
    http_senders = {"native": send_native, "bulk": send_bulk, "lokijson": send_loki_json,
                    "lokiproto": send_loki_proto, "otlpjson": send_otlp_json,
                    "otlpproto": send_otlp_proto}
    masked_values, plain_values = [], []
    with Server(BINARY, extra_args=args) as server:
        # Syslog starts listening just after /readyz: wait for its line in the log.
        deadline = time.time() + 30
        while "syslog: listening" not in server.read_log() and time.time() < deadline:
            time.sleep(0.1)
        masked_lines = {}
        for i, door in enumerate(doors):
            card, plain_card = luhn_card(2 * i), luhn_card(2 * i + 1)
            email, plain_email = "alice%d@example.com" % i, "bob%d@example.org" % i
            ip, plain_ip = "10.9.%d.17" % i, "10.8.%d.18" % i
            word = "door%s" % door
            tenant = "default" if door.startswith("syslog") else "acme"
            before = server.metrics()
            if door.startswith("syslog"):
                send = send_syslog_udp if door == "syslogudp" else send_syslog_tcp
                send(syslog_port, word, card, email, ip)
            else:
                http_senders[door](server, tenant, word, card, email, ip)
                http_senders[door](server, "plain", word, plain_card, plain_email, plain_ip)
                plain_values += [plain_card, plain_email]
            masked_values += [card, email, ip]
            hits = wait_for(server, tenant, word)
            check(len(hits) == 1, "%s: %d hits" % (door, len(hits)))
            hit = hits[0]
            text = json.dumps(hit)
            for value in (card, email, ip):
                check(value not in text, "%s: %s survived masking: %s" % (door, value, text))
            check("[REDACTED]" in hit["message"], "%s: message not masked: %s" % (door, text))
            check("redacted" in hit.get("flags", []), "%s: no flag: %s" % (door, text))
            rules = hit.get("fields", {}).get("sawmill.masked", "")
            check("card" in rules.split(","), "%s: sawmill.masked=%r" % (door, rules))
            check(search(server, tenant, "%s sawmill.masked=*" % word) == hits,
                  "%s: not found by sawmill.masked=*" % door)
            after = server.metrics()
            for rule in ("card", "email", "ipv4"):
                grew = (metric_value(after, "sawmill_ingest_masked_total", tenant=tenant, rule=rule)
                        - metric_value(before, "sawmill_ingest_masked_total", tenant=tenant,
                                       rule=rule))
                check(grew >= 1, "%s: sawmill_ingest_masked_total{rule=%s} grew by %s"
                      % (door, rule, grew))
            masked_lines[door] = (tenant, word, card)
            # The tenant without rules keeps its line as sent.
            if not door.startswith("syslog"):
                plain = wait_for(server, "plain", word)
                ptext = json.dumps(plain)
                check(plain_card in ptext and plain_email in ptext and plain_ip in ptext,
                      "%s: the tenant without rules lost a value: %s" % (door, ptext))
                check("[REDACTED]" not in ptext and "redacted" not in ptext
                      and "sawmill.masked" not in ptext, "%s: plain tenant touched: %s"
                      % (door, ptext))
        # The custom rule with its replacement (native line).
        native = search(server, "acme", "doornative")[0]
        check("api_key=ab***" in native["message"] and "abcdef" not in native["message"],
              "custom rule: %s" % native["message"])
        check(native["fields"]["sawmill.masked"] == "card,email,ipv4,api_key",
              "rules named: %s" % native["fields"])
        # The rules are readable by the admin API and the CLI.
        status, _, body = request(server.url + "/api/v1/admin/tenants")
        check(status == 200 and json.loads(body).get("masking") == {
            "acme": ["card", "email", "ipv4", "api_key"], "default": ["card", "email", "ipv4"]},
              "admin tenants: %d %s" % (status, body))
        cli = subprocess.run([BINARY, "admin", "tenants", "--server", server.url],
                             capture_output=True, text=True, timeout=60)
        check(cli.returncode == 0 and "masking acme: card, email, ipv4, api_key" in cli.stdout,
              "sawmill admin tenants: %d %s %s" % (cli.returncode, cli.stdout, cli.stderr))
        metrics = server.metrics()
        check(metric_value(metrics, "sawmill_ingest_masked_total", tenant="acme",
                           rule="api_key") == 1, "api_key count")
        check(metric_value(metrics, "sawmill_ingest_masked_lines_total", tenant="acme") == 6,
              "masked lines of acme: %s" % metric_value(metrics,
                                                        "sawmill_ingest_masked_lines_total",
                                                        tenant="acme"))
        check(metric_value(metrics, "sawmill_ingest_masked_total", tenant="plain") == 0,
              "plain tenant counted")

        # Nothing masked is on disk (the WAL holds every line now); the unmasked tenant's values
        # are, so the grep sees what it looks for.
        on_disk = data_dir_bytes(server.data_dir)
        for value in masked_values:
            check(value.encode() not in on_disk, "%s is in the data directory" % value)
        for value in plain_values:
            check(value.encode() in on_disk, "%s (tenant without rules) not found on disk" % value)

        def raw_searches_find_nothing(stage):
            for door, (tenant, word, card) in masked_lines.items():
                for q in (card, "message:*%s*" % card, "customer.card=%s" % card):
                    hits = search(server, tenant, q)
                    check(not hits, "%s (%s): %r found %s" % (door, stage, q, hits))
                check(len(search(server, tenant, "%s REDACTED" % word)) == 1,
                      "%s (%s): the masked line is not found" % (door, stage))

        raw_searches_find_nothing("memtable")
        server.flush()
        raw_searches_find_nothing("segments")
        check(len(search(server, "plain", luhn_card(1))) == 1,
              "the tenant without rules finds its raw card number after the flush")
        check(len(search(server, "acme", "sawmill.masked=*")) == 6, "masked lines of acme")

    # The default: no masking. Syslog lines of "default" are kept as sent.
    syslog_port = free_port()
    with Server(BINARY, extra_args=["--syslog", "127.0.0.1:%d" % syslog_port]) as server:
        deadline = time.time() + 30
        while "syslog: listening" not in server.read_log() and time.time() < deadline:
            time.sleep(0.1)
        card = luhn_card(99)
        send_syslog_udp(syslog_port, "defaultdoor", card, "carol@example.com", "10.7.7.7")
        hit = wait_for(server, "default", "defaultdoor")[0]
        check(card in hit["message"] and "carol@example.com" in hit["message"]
              and "10.7.7.7" in hit["message"] and "redacted" not in hit.get("flags", []),
              "default config changed a line: %s" % hit)
        check("sawmill_ingest_masked_total{" not in server.metrics(),
              "masking counters without masking")
        status, _, body = request(server.url + "/api/v1/admin/tenants")
        check(status == 200 and json.loads(body).get("masking") == {},
              "admin tenants without masking: %d %s" % (status, body))

    test_syslog_over_tls()

    # A bad rule stops the server at start, naming it.
    data = tempfile.mkdtemp(prefix="sawmill_e2e_mask_")
    try:
        proc = subprocess.run(
            [BINARY, "server", "--data", data, "--http", "127.0.0.1:%d" % free_port(),
             "--masking", "acme: {rules: [{name: k, pattern: '(x'}]}"],
            capture_output=True, text=True, timeout=60)
        check(proc.returncode == 2 and "masking.acme: rule 'k' pattern '(x'" in proc.stderr,
              "bad rule: exit %d, %s" % (proc.returncode, proc.stderr))
    finally:
        shutil.rmtree(data, ignore_errors=True)

if __name__ == "__main__":
    main()
