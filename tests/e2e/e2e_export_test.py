"""Export and paging against the real binary (docs/api.md "GET /api/v1/export"):
- every match is streamed, newest or oldest first, as NDJSON and CSV, far past the 10,000 cap
  of a search and far more than one page or the memtable holds, each line exactly once;
- the server's memory stays flat while it streams (its RSS grows by a small fraction of what it
  sends);
- an export stopped mid-way resumes from a cursor made of its last line: every line once;
- a client that goes away ends the export: the server stops scanning (its export metrics stop
  and count the export as client_gone);
- exports see only the request's tenant; with tokens, export is a read route (401 without a
  token, 403 for another tenant) and is in the audit log;
- `sawmill search --all` writes every hit to stdout, with a progress line on stderr only when
  stderr is a terminal."""

import csv
import io
import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from e2e_lib import Server, check, metric_value, request

BINARY = sys.argv[1]
LINES = 200_000  # 20 times a search's cap, 200 export pages, about 70 MiB of NDJSON
BATCH = 10_000
PAD = "x" * 200
BASE = datetime(2026, 12, 1, tzinfo=timezone.utc)


def lines_for(tenant, n, start=0):
    out = []
    for i in range(start, start + n):
        t = BASE.timestamp() + i * 0.01
        ts = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        out.append(json.dumps({"ts": ts, "service": "svc%d" % (i % 7), "host": "h%d" % (i % 3),
                               "level": "INFO", "message": "%s line %d %s" % (tenant, i, PAD)}))
    return out


def ingest(server, tenant, lines):
    for start in range(0, len(lines), BATCH):
        body = ("\n".join(lines[start:start + BATCH]) + "\n").encode()
        status, _, answer = server.ingest(body, headers={"X-Scope-OrgID": tenant})
        check(status == 200, "ingest: %d %s" % (status, answer[:300]))


def rfc3339_ns(text):
    """'2026-12-01T00:00:01.123456789Z' -> ns since the epoch."""
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = int(datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc).timestamp())
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9])


def cursor_of(line, time_field="ingest_ts"):
    """The cursor just after "line" (docs/api.md): <time ns>_<ingest_ts ns>_<id>."""
    r = json.loads(line)
    return "%d_%d_%s" % (rfc3339_ns(r[time_field]), rfc3339_ns(r["ingest_ts"]), r["id"])


def export_url(server, **params):
    params.setdefault("all_time", "1")
    return server.url + "/api/v1/export?" + urllib.parse.urlencode(params)


def open_export(server, headers=None, **params):
    """A raw socket with the request sent and the response head read: (socket, rest of body)."""
    target = export_url(server, **params)[len(server.url):]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (target, server.port, extra)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    check(head.startswith(b"HTTP/1.1 200"), "export head: %r" % head[:300])
    return sock, rest


def stream_lines(server, headers=None, sample=None, **params):
    """Every line of an export, read as it comes; "sample()" is called between reads."""
    req = urllib.request.Request(export_url(server, **params), headers=headers or {})
    out = []
    with urllib.request.urlopen(req, timeout=300) as resp:
        check(resp.status == 200, "export status %d" % resp.status)
        pending = b""
        while True:
            piece = resp.read(1 << 16)
            if sample:
                sample()
            if not piece:
                break
            pending += piece
            *done, pending = pending.split(b"\n")
            out.extend(x.decode() for x in done if x)
        if pending:
            out.append(pending.decode())
    return out


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def test_every_line_in_order_and_memory(server, a_lines):
    server.flush()
    # Warm the readers (and the allocator) with a one-page export first.
    stream_lines(server, {"X-Scope-OrgID": "a"}, q="service=svc0 AND host=h0")
    before = rss(server.proc.pid)
    peak = [before]
    lines = stream_lines(server, {"X-Scope-OrgID": "a"},
                         sample=lambda: peak.__setitem__(0, max(peak[0], rss(server.proc.pid))))
    sent = sum(len(x) + 1 for x in lines)
    check(len(lines) == LINES, "newest first: %d lines, want %d" % (len(lines), LINES))
    ids = [json.loads(x)["id"] for x in lines]
    check(len(set(ids)) == LINES, "newest first: %d distinct ids" % len(set(ids)))
    keys = [(rfc3339_ns(r["ingest_ts"]), int(r["id"])) for r in map(json.loads, lines)]
    check(all(keys[i] > keys[i + 1] for i in range(len(keys) - 1)), "not newest first")
    messages = {json.loads(x)["message"] for x in lines}
    check(messages == {json.loads(x)["message"] for x in a_lines}, "not the ingested lines")
    growth = peak[0] - before
    print("export: %d lines, %.1f MiB sent; server RSS %.1f MiB before, peak growth %.1f MiB"
          % (len(lines), sent / 2**20, before / 2**20, growth / 2**20))
    # An export that held its lines would grow by more than it sends (the records and their
    # text); a streaming one by its page, its piece and the readers' buffers (about 20 MiB here,
    # whatever the export's size: 240,000 lines showed the same).
    check(growth < sent / 2, "the server's RSS grew by %.1f MiB while it sent %.1f MiB: the "
          "export is not streaming in bounded memory" % (growth / 2**20, sent / 2**20))

    # Oldest first (every ingest batch of 10,000 lines shares one ingest_ts: more than a page
    # at one time value), on a seventh of the lines to keep the test short.
    svc0 = [x for x in lines if json.loads(x)["service"] == "svc0"]
    oldest = stream_lines(server, {"X-Scope-OrgID": "a"}, order="oldest", q="service=svc0")
    check(oldest == list(reversed(svc0)), "oldest first is not the reverse of newest first "
          "(%d lines, want %d)" % (len(oldest), len(svc0)))
    # Source time instead of ingest time, oldest first: the ingest order of "ts".
    by_ts = stream_lines(server, {"X-Scope-OrgID": "a"}, order="oldest", time_field="ts",
                         q="service=svc1")
    want = [json.loads(x)["message"] for x in a_lines if json.loads(x)["service"] == "svc1"]
    check([json.loads(x)["message"] for x in by_ts] == want,
          "time_field=ts oldest first is not the ingested order")

    status, _, body = request(export_url(server, format="csv", fields="ts,id,message",
                                         q="service=svc2"),
                              headers={"X-Scope-OrgID": "a"}, timeout=300)
    check(status == 200, "csv: %d" % status)
    rows = list(csv.reader(io.StringIO(body.decode())))
    check(rows[0] == ["ts", "id", "message"], "csv header %r" % rows[0])
    svc2 = [json.loads(x) for x in lines if json.loads(x)["service"] == "svc2"]
    check([r[1:] for r in rows[1:]] == [[x["id"], x["message"]] for x in svc2],
          "csv rows differ from the NDJSON lines: %d rows, want %d" % (len(rows) - 1, len(svc2)))
    return lines


def test_resume(server, all_lines):
    # Stop after 45,678 lines (mid-page, mid-chunk), resume from the last one read.
    sock, rest = open_export(server, {"X-Scope-OrgID": "a"})
    data = rest
    while data.count(b"\n") < 50_000:
        data += sock.recv(1 << 16)
    sock.close()
    # Undo the chunked framing: keep the NDJSON lines (they start with '{').
    pieces = data.split(b"\n")[:-1]  # the last piece may be a cut line
    got = [x.decode() for x in pieces if x.startswith(b"{") and x.endswith(b"}")]
    got = got[:45_678]
    rest = stream_lines(server, {"X-Scope-OrgID": "a"}, cursor=cursor_of(got[-1]))
    check(got + rest == all_lines, "stopped after %d and resumed: %d + %d lines, want %d, each "
          "once and in order" % (len(got), len(got), len(rest), len(all_lines)))
    svc3 = [x for x in all_lines if json.loads(x)["service"] == "svc3"]
    oldest_rest = stream_lines(server, {"X-Scope-OrgID": "a"}, order="oldest", q="service=svc3",
                               cursor=cursor_of(svc3[12_345]))
    check(oldest_rest == list(reversed(svc3[:12_345])), "oldest first from a cursor")


def test_client_gone(server):
    def value(name, **labels):
        return metric_value(server.metrics(), name, **labels)
    gone0 = value("sawmill_exports_total", outcome="client_gone")
    lines0 = value("sawmill_export_lines_total")
    sock, rest = open_export(server, {"X-Scope-OrgID": "a"})
    # Read past the first two pieces (256 KiB each) before leaving: the server counts a piece's
    # rows for the audit once it asks for the next one, after the piece was written whole. Read
    # less and the first piece may still be half in the socket when the client goes (0 rows).
    got = len(rest)
    while got < 600 * 1024:
        piece = sock.recv(1 << 16)
        if not piece:
            break
        got += len(piece)
    sock.close()
    deadline = time.time() + 60
    while time.time() < deadline:
        if (value("sawmill_exports_total", outcome="client_gone") == gone0 + 1
                and value("sawmill_exports_running") == 0):
            break
        time.sleep(0.1)
    check(value("sawmill_exports_total", outcome="client_gone") == gone0 + 1,
          "the export whose client left is not counted as client_gone")
    check(value("sawmill_exports_running") == 0, "an export still runs after its client left")
    written = value("sawmill_export_lines_total") - lines0
    time.sleep(1)
    check(value("sawmill_export_lines_total") - lines0 == written, "lines still being written")
    print("client gone: the server wrote %d of %d lines, then stopped" % (written, LINES))
    check(written < LINES / 2, "the server went on scanning after the client left: %d lines"
          % written)
    # Its audit entry is written when the stream ends, with the rows the server wrote before
    # the client left (no tokens here: the audit log is open, and still written).
    entry = last_export_entry(server, {})
    check(entry is not None and entry["tenant"] == "a" and entry["status"] == 200 and
          entry["rows"] is not None and 0 < entry["rows"] <= written,
          "the aborted export's audit entry (%d lines written): %s" % (written, entry))


def last_export_entry(server, headers, **filters):
    """The newest audit entry of an export (the log lists by seq, oldest first)."""
    params = dict(filters, action="GET /api/v1/export", limit="10000")
    status, _, body = request(server.url + "/api/v1/audit?" + urllib.parse.urlencode(params),
                              timeout=60, headers=headers)
    check(status == 200, "audit: %d %s" % (status, body[:200]))
    entries = json.loads(body)["entries"]
    return max(entries, key=lambda e: e["seq"]) if entries else None


def test_tenants(server):
    b = stream_lines(server, {"X-Scope-OrgID": "b"})
    check(len(b) == 1000 and all(json.loads(x)["message"].startswith("b line ") for x in b),
          "tenant b's export: %d lines" % len(b))
    a = stream_lines(server, {"X-Scope-OrgID": "a"}, q="message~\"^b line\"")
    check(a == [], "tenant a's export shows tenant b's lines: %d" % len(a))


def cli(*args, env=None, stderr=subprocess.PIPE):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([BINARY] + list(args), stdout=subprocess.PIPE, stderr=stderr,
                          env=full_env, timeout=600)


def test_search_all(server, all_lines):
    proc = cli("search", "--server", server.url, "--tenant", "a", "--all", "--all-time",
               "-o", "jsonl", "*")
    check(proc.returncode == 0, "search --all: %d %s" % (proc.returncode, proc.stderr[-500:]))
    out = proc.stdout.decode().splitlines()
    check(len(out) == LINES, "search --all printed %d lines, want %d" % (len(out), LINES))
    check({json.loads(x)["id"] for x in out} == {json.loads(x)["id"] for x in all_lines},
          "search --all: not every line once")
    check(b"\r" not in proc.stderr and b"segments" in proc.stderr,
          "stderr is no terminal: no progress line, a summary: %r" % proc.stderr[-300:])
    # stderr on a terminal: the progress line (lines, bytes, segments done/total).
    master, slave = pty.openpty()
    proc = subprocess.Popen([BINARY, "search", "--server", server.url, "--tenant", "a", "--all",
                             "--all-time", "-o", "raw", "service=svc4 OR service=svc5"],
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = bytearray()
    done = threading.Event()

    def drain():
        while True:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    piece = os.read(master, 4096)
                except OSError:
                    break
                if not piece:
                    break
                seen.extend(piece)
            elif done.is_set():
                break
    t = threading.Thread(target=drain)
    t.start()
    stdout = proc.stdout.read()
    proc.wait(600)
    done.set()
    t.join()
    os.close(master)
    check(proc.returncode == 0, "search --all on a terminal: %d" % proc.returncode)
    want = len([i for i in range(LINES) if i % 7 in (4, 5)])
    check(stdout.count(b"\n") == want, "raw lines: %d, want %d" % (stdout.count(b"\n"), want))
    text = seen.decode("utf-8", "replace")
    check("\r" in text and "lines" in text and "segments" in text and "/" in text,
          "no progress line on the terminal: %r" % text[-300:])


def test_tokens_and_audit(server):
    proc = cli("admin", "token", "create", "--server", server.url, "--name", "root", "--role",
               "platform-admin")
    admin = proc.stdout.decode().strip()
    check(admin.startswith("sawmill_"), "bootstrap token: %r" % proc.stderr)
    proc = cli("admin", "token", "create", "--server", server.url, "--name", "reader_a",
               "--role", "reader", "--tenant", "a", env={"SAWMILL_TOKEN": admin})
    reader = proc.stdout.decode().strip()
    check(reader.startswith("sawmill_"), "reader token: %r" % proc.stderr)
    status, _, body = request(export_url(server, q="svc1"), timeout=60)
    check(status == 401, "export without a token: %d %s" % (status, body[:200]))
    status, _, body = request(export_url(server, q="svc1"), timeout=60,
                              headers={"Authorization": "Bearer " + reader, "X-Scope-OrgID": "b"})
    check(status == 403, "export of tenant b with a token of a: %d %s" % (status, body[:200]))
    got = stream_lines(server, {"Authorization": "Bearer " + reader},
                       q="service=svc1 AND line")
    check(len(got) == len([i for i in range(LINES) if i % 7 == 1]),
          "export with the reader token: %d lines" % len(got))
    status, _, body = request(server.url + "/api/v1/audit?limit=1000&who=reader_a", timeout=60,
                              headers={"Authorization": "Bearer " + admin})
    check(status == 200, "audit: %d %s" % (status, body[:200]))
    entries = json.loads(body)
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    exports = [e for e in entries if e.get("action") == "GET /api/v1/export"]
    check(any(e.get("query") == "service=svc1 AND line" and e.get("status") == 200
              for e in exports), "the export is not in the audit log: %s" % entries[:3])
    # The entry counts the rows the export streamed (written when the stream ended).
    entry = last_export_entry(server, {"Authorization": "Bearer " + admin}, who="reader_a")
    check(entry["query"] == "service=svc1 AND line" and entry["rows"] == len(got),
          "the export's audit entry counts %s rows, it streamed %d: %s"
          % (entry["rows"], len(got), entry))


def main():
    with Server(BINARY) as server:
        a_lines = lines_for("a", LINES)
        t0 = time.time()
        ingest(server, "a", a_lines)
        ingest(server, "b", lines_for("b", 1000))
        print("ingested %d lines in %.1f s" % (LINES + 1000, time.time() - t0))
        t0 = time.time()
        all_lines = test_every_line_in_order_and_memory(server, a_lines)
        print("exports in order, memory, CSV: %.1f s" % (time.time() - t0))
        t0 = time.time()
        test_resume(server, all_lines)
        test_client_gone(server)
        test_tenants(server)
        print("resume, client gone, tenants: %.1f s" % (time.time() - t0))
        t0 = time.time()
        test_search_all(server, all_lines)
        print("search --all: %.1f s" % (time.time() - t0))
        test_tokens_and_audit(server)
    print("e2e_export: OK")


if __name__ == "__main__":
    main()
