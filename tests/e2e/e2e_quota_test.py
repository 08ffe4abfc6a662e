"""Per-tenant quotas against the real binary (docs/security.md "Quotas"):

- over its ingest quota a tenant's DEBUG/INFO batches get 429 with Retry-After while a batch with
  WARN+ lines is still stored, and another tenant is not affected; the refusals are counted;
- a tenant holds at most tenant_max_tail_sessions live-tail sessions (429 past it), another
  tenant still opens one, and a closed session gives its slot back;
- `sawmill admin tenants` and sawmill_tenant_stored_bytes show what each tenant stores.
"""

import json
import socket
import subprocess
import sys
import time

from e2e_lib import Server, check, metric_value, request

BINARY = sys.argv[1]


def ingest(server, tenant, n, level, tag):
    body = "".join(json.dumps({"level": level, "msg": "%s %d" % (tag, i)}) + "\n" for i in range(n))
    return request(server.url + "/api/v1/ingest", method="POST", body=body.encode(),
                   headers={"X-Scope-OrgID": tenant})


def open_tail(server, tenant):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(("GET /api/v1/tail?q=x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream"
               "\r\nX-Scope-OrgID: %s\r\n\r\n" % (server.port, tenant)).encode())
    s.settimeout(10)
    head = s.recv(4096)
    return s, head.split(b"\r\n")[0]


def main():
    # 100 lines/s with a 100 s burst: 10,000 lines in the bucket; INFO-only batches stop at 2,500
    # left. Batches of 1,000 lines, so that the refill while the test runs (100 lines/s) hardly
    # matters.
    args = ["--tenant-ingest-lines-per-sec", "100", "--tenant-ingest-burst", "100s",
            "--tenant-max-tail-sessions", "2", "--heartbeat", "1s"]
    with Server(BINARY, extra_args=args) as server:
        accepted = 0
        refused = None
        for i in range(20):
            status, headers, body = ingest(server, "noisy", 1000, "INFO", "info%d" % i)
            if status != 200:
                refused = (status, headers, body)
                break
            accepted += 1
        check(refused is not None, "INFO batches were never refused")
        status, headers, body = refused
        check(status == 429 and headers.get("Retry-After") == "1",
              "over quota: %d %s" % (status, headers))
        check(b"over its ingest quota" in body and b"refused first" in body, body)
        check(7 <= accepted <= 9, "INFO batches accepted before the first 429: %d" % accepted)
        # WARN+ still gets in, and another tenant is not affected.
        status, _, body = ingest(server, "noisy", 1000, "ERROR", "error")
        check(status == 200, "ERROR batch over the INFO threshold: %d %s" % (status, body))
        status, _, body = ingest(server, "quiet", 5000, "INFO", "quiet")
        check(status == 200, "other tenant: %d %s" % (status, body))
        metrics = server.metrics()
        check(metric_value(metrics, "sawmill_ingest_quota_refused_lines_total", tenant="noisy",
                           priority="low") >= 1000, "refusals not counted")
        status, _, body = request(server.url + "/api/v1/search?q=level%3DERROR+%7C+count"
                                  "&all_time=1", headers={"X-Scope-OrgID": "noisy"})
        rows = json.loads(body).get("rows") if status == 200 else None
        check(rows and rows[0]["count"] == 1000, "ERROR lines stored: %d %s" % (status, body))

        # Tail sessions per tenant.
        first, line1 = open_tail(server, "noisy")
        second, line2 = open_tail(server, "noisy")
        third, line3 = open_tail(server, "noisy")
        check(b" 200 " in line1 and b" 200 " in line2, "%r %r" % (line1, line2))
        check(b" 429 " in line3, "third tail session of one tenant: %r" % line3)
        other, line4 = open_tail(server, "quiet")
        check(b" 200 " in line4, "another tenant's tail session: %r" % line4)
        first.close()
        deadline = time.time() + 30
        while True:  # the server notices the closed session at its next write or heartbeat
            ingest(server, "noisy", 1, "ERROR", "wake")
            again, line5 = open_tail(server, "noisy")
            again.close()
            if b" 200 " in line5 or time.time() > deadline:
                break
            time.sleep(0.5)
        check(b" 200 " in line5, "a closed session's slot came back: %r" % line5)
        for s in (second, third, other):
            s.close()

        # Chargeback.
        server.flush()
        proc = subprocess.run([BINARY, "admin", "tenants", "--server", server.url],
                              capture_output=True, text=True, timeout=60)
        check(proc.returncode == 0 and "noisy" in proc.stdout and "quiet" in proc.stdout,
              proc.stdout + proc.stderr)
        metrics = server.metrics()
        check(metric_value(metrics, "sawmill_tenant_stored_bytes", tenant="quiet") > 0,
              "sawmill_tenant_stored_bytes{tenant=quiet}")
    print("quota e2e: ok")


if __name__ == "__main__":
    main()
