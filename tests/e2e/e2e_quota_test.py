"""Per-tenant quotas against the real binary (docs/security.md "Quotas"):

- over its ingest quota a tenant's DEBUG/INFO batches get 429 with Retry-After while a batch with
  WARN+ lines is still stored, and another tenant is not affected; the refusals are counted;
- a tenant holds at most tenant_max_tail_sessions live-tail sessions (429 past it), another
  tenant still opens one, and a closed session gives its slot back;
- `sawmill admin tenants` and sawmill_tenant_stored_bytes show what each tenant stores, by tier;
- per-tenant overrides: the config file's tenant_quotas over the server-wide defaults, the admin
  API's (POST /api/v1/admin/quotas, kept across a restart) over both;
- bytes scanned per hour: a tenant over it gets 429 saying the quota, its usage and when it frees
  (Retry-After), on the native and the Loki routes and alert backtests alike, while another
  tenant still searches; the hour's usage survives a restart (and a SIGKILL, but for the last
  few seconds);
- reader_max_range: a reader cannot search or export all_time=1 or further back (403, the same
  message), a tenant-admin can.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

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
        check(metric_value(metrics, "sawmill_tenant_stored_bytes", tenant="quiet", tier="hot") > 0,
              "sawmill_tenant_stored_bytes{tenant=quiet,tier=hot}")
        # Per tier: after a move to warm the bytes are counted under warm.
        proc = subprocess.run([BINARY, "admin", "tiers", "move", "--server", server.url,
                               "--older-than", "0s", "--to", "warm"],
                              capture_output=True, text=True, timeout=120)
        check(proc.returncode == 0, "tiers move: " + proc.stdout + proc.stderr)
        proc = subprocess.run([BINARY, "admin", "tenants", "--server", server.url],
                              capture_output=True, text=True, timeout=60)
        quiet = [l for l in proc.stdout.splitlines() if l.startswith("quiet ")]
        check(quiet and "warm " in quiet[0], "admin tenants by tier: " + proc.stdout)
        status, _, body = request(server.url + "/api/v1/admin/tenants")
        tiers = {t["tenant"]: t["tiers"] for t in json.loads(body)["tenants"]}
        check(tiers["quiet"].get("warm", {}).get("bytes", 0) > 0, "tenants by tier: %s" % tiers)
        metrics = server.metrics()
        check(metric_value(metrics, "sawmill_tenant_stored_bytes", tenant="quiet",
                           tier="warm") > 0, "sawmill_tenant_stored_bytes{tenant=quiet,tier=warm}")
    test_overrides_scan_and_roles()
    print("quota e2e: ok")


def search(server, tenant, q, token=None, **params):
    params = dict(params)
    params["q"] = q
    headers = {"X-Scope-OrgID": tenant} if tenant else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    return request(server.url + "/api/v1/search?" + urllib.parse.urlencode(params),
                   headers=headers, timeout=120)


def export(server, token, **params):
    return request(server.url + "/api/v1/export?" + urllib.parse.urlencode(params),
                   headers={"Authorization": "Bearer " + token}, timeout=120)


def quotas(server, method="GET", token=None, **params):
    headers = {"Authorization": "Bearer " + token} if token else {}
    status, _, body = request(server.url + "/api/v1/admin/quotas?" + urllib.parse.urlencode(params),
                              method=method, body=b"" if method == "POST" else None,
                              headers=headers)
    return status, json.loads(body)


def test_overrides_scan_and_roles():
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    config.write("tenant_max_queries: 5\n"
                 "tenant_quotas:\n"
                 "  limited: {ingest_lines_per_sec: 10, ingest_burst: 100s}\n"
                 "  scanme: {scanned_bytes_per_hour: 10KiB}\n")
    config.close()
    try:
        with Server(BINARY, extra_args=["--config", config.name]) as server:
            # The config file's ingest override: "limited" holds 1,000 lines, so 900 INFO lines
            # would leave less than the WARN+ reserve; other tenants have no ingest quota.
            status, _, body = ingest(server, "limited", 900, "INFO", "lim")
            check(status == 429 and b"(10 lines/s, burst 100 s)" in body,
                  "limited over its file quota: %d %s" % (status, body))
            status, _, body = ingest(server, "limited", 900, "ERROR", "lim")
            check(status == 200, "limited WARN+ batch: %d %s" % (status, body))
            for tenant in ("scanme", "other"):
                for i in range(4):
                    status, _, body = ingest(server, tenant, 5000, "INFO", "scan%d" % i)
                    check(status == 200, "%s ingest: %d %s" % (tenant, status, body))
            server.flush()
            status, answer = quotas(server, tenant="scanme")
            check(status == 200, "quotas: %d %s" % (status, answer))
            entry = answer["tenants"][0]
            check(entry["effective"]["scanned_bytes_per_hour"] == "10KiB" and
                  entry["config_file"] == {"scanned_bytes_per_hour": "10KiB"} and
                  entry["effective"]["max_queries"] == "5" and
                  answer["defaults"]["scanned_bytes_per_hour"] == "0", "quotas of scanme: %s"
                  % answer)
            # A brute-force scan reads every block (far more than 10 KiB): admitted (nothing was
            # read yet), charged, and the next query is refused.
            status, _, body = search(server, "scanme", "nothing-matches-this", all_time=1,
                                     use_indexes=0, cache=0)
            check(status == 200, "first scan: %d %s" % (status, body))
            read = json.loads(body)["stats"]["bytes_read_compressed"]
            check(read > 10240, "the scan read %d bytes" % read)
            status, headers, body = search(server, "scanme", "scan1", all_time=1)
            message = json.loads(body).get("error", "")
            check(status == 429, "over the scan quota: %d %s" % (status, body))
            check("tenant 'scanme' has read" in message and "quota is 10240 bytes "
                  "(scanned_bytes_per_hour)" in message and "refused until" in message, message)
            retry = int(headers.get("Retry-After", "0"))
            check(3000 < retry <= 3600, "Retry-After %d (the sliding hour)" % retry)
            # Every route that searches: the Loki API too.
            now = time.time_ns()
            status, _, body = request(
                server.url + "/loki/api/v1/query_range?" + urllib.parse.urlencode(
                    {"query": '{level=~".+"}', "start": now - 3600 * 10**9, "end": now}),
                headers={"X-Scope-OrgID": "scanme"})
            check(status == 429 and b"scanned_bytes_per_hour" in body,
                  "Loki over the scan quota: %d %s" % (status, body[:300]))
            # An alert backtest reads stored lines like a search: charged to the same quota
            # and refused the same way.
            status, headers, body = request(
                server.url + "/api/v1/alerts/test?since=2h", method="POST",
                body=json.dumps({"name": "scan-rule", "filter": "scan1", "condition": "count > 0",
                                 "window": "1m"}).encode(),
                headers={"X-Scope-OrgID": "scanme", "Content-Type": "application/json"})
            message = json.loads(body).get("error", "")
            check(status == 429 and "tenant 'scanme' has read" in message and
                  "(scanned_bytes_per_hour)" in message and
                  int(headers.get("Retry-After", "0")) > 3000,
                  "a backtest over the scan quota: %d %s" % (status, body[:300]))
            # Another tenant is not affected.
            status, _, body = search(server, "other", "scan1 | count", all_time=1)
            check(status == 200, "other tenant: %d %s" % (status, body))
            status, answer = quotas(server, tenant="scanme")
            used = answer["tenants"][0]["usage"]["scanned_bytes_last_hour"]
            check(used >= read, "usage %d < %d" % (used, read))
            metrics = server.metrics()
            check(metric_value(metrics, "sawmill_tenant_scanned_bytes_total", tenant="scanme")
                  >= read, "sawmill_tenant_scanned_bytes_total")
            check(metric_value(metrics, "sawmill_tenant_limit_refused_total", tenant="scanme",
                               limit="scanned_bytes_per_hour") >= 2, "scan refusals counted")
            # The API's override wins over the config file's, at once, and survives a restart.
            status, answer = quotas(server, "POST", tenant="scanme",
                                    scanned_bytes_per_hour="1GiB", max_queries="2")
            check(status == 200 and answer["api"] == {"max_queries": "2",
                                                      "scanned_bytes_per_hour": "1GiB"},
                  "set: %d %s" % (status, answer))
            status, _, body = search(server, "scanme", "scan1 | count", all_time=1)
            check(status == 200, "after raising the quota: %d %s" % (status, body))
            # The command line shows where each value comes from, and sets them too.
            proc = subprocess.run([BINARY, "admin", "quotas", "--server", server.url, "--tenant",
                                   "scanme", "--set", "max_tail_sessions=3"],
                                  capture_output=True, text=True, timeout=60)
            lines = {l.split()[0]: l for l in proc.stdout.splitlines() if l.startswith("  ")}
            check(proc.returncode == 0 and "1GiB" in lines["scanned_bytes_per_hour"] and
                  "(api)" in lines["scanned_bytes_per_hour"] and
                  "(api)" in lines["max_tail_sessions"] and
                  "(default)" in lines["ingest_lines_per_sec"],
                  "admin quotas --set: " + proc.stdout + proc.stderr)
            proc = subprocess.run([BINARY, "admin", "quotas", "--server", server.url, "--tenant",
                                   "scanme", "--set", "max_querys=1"],
                                  capture_output=True, text=True, timeout=60)
            check(proc.returncode == 1 and "unknown quota 'max_querys'" in proc.stderr,
                  "admin quotas, bad key: " + proc.stdout + proc.stderr)
            status, answer = quotas(server, "POST", tenant="scanme", max_querys="2")
            check(status == 400 and "unknown quota 'max_querys'" in answer["error"],
                  "bad key: %d %s" % (status, answer))
            status, answer = quotas(server, "POST", tenant="scanme", max_queries="many")
            check(status == 400 and "max_queries" in answer["error"], "bad value: %s" % answer)
            used = quotas(server, tenant="scanme")[1]["tenants"][0]["usage"][
                "scanned_bytes_last_hour"]
            check(server.stop() == 0, "server did not stop cleanly")
            server.start()
            status, answer = quotas(server, tenant="scanme")
            check(answer["tenants"][0]["api"].get("scanned_bytes_per_hour") == "1GiB",
                  "override after a restart: %s" % answer)
            # The bytes scanned in the hour survive the restart (tenant_scan_usage): no fresh
            # hour for a tenant over its quota.
            check(answer["tenants"][0]["usage"]["scanned_bytes_last_hour"] == used,
                  "usage after a restart: %s, before: %d" % (answer["tenants"][0]["usage"], used))
            # Back to the config file's value ("default"): the scan quota applies again, with
            # what was read before the restart (nothing was read since).
            status, answer = quotas(server, "POST", tenant="scanme",
                                    scanned_bytes_per_hour="default")
            check(status == 200 and answer["effective"]["scanned_bytes_per_hour"] == "10KiB",
                  "default again: %s" % answer)
            status, _, body = search(server, "scanme", "scan2", all_time=1)
            check(status == 429 and b"scanned_bytes_per_hour" in body,
                  "the config file's quota again, after the restart: %d %s" % (status, body))
            # A crash (SIGKILL) forgets at most the last few seconds: a charge written by the
            # periodic write (a later query finds it due) is there after the kill.
            status, answer = quotas(server, "POST", tenant="scanme",
                                    scanned_bytes_per_hour="1GiB")
            check(status == 200, "raise again: %s" % answer)
            search(server, "scanme", "nothing-matches-this", all_time=1, use_indexes=0, cache=0)
            time.sleep(6)  # past the 5 s write interval
            search(server, "scanme", "nothing-matches-this", all_time=1, use_indexes=0, cache=0)
            used = quotas(server, tenant="scanme")[1]["tenants"][0]["usage"][
                "scanned_bytes_last_hour"]
            server.proc.kill()
            server.proc.wait(30)
            server.start()
            after = quotas(server, tenant="scanme")[1]["tenants"][0]["usage"][
                "scanned_bytes_last_hour"]
            check(used - read <= after <= used,
                  "usage after SIGKILL: %d, before it %d (one scan: %d)" % (after, used, read))

            # Role limits need tokens: bootstrap a platform admin, then a reader and a
            # tenant-admin of "other", whose readers may reach back one hour.
            tokens = {}
            for name, role, tenant in (("root", "platform-admin", None),
                                       ("reader", "reader", "other"),
                                       ("tadmin", "tenant-admin", "other")):
                args = [BINARY, "admin", "token", "create", "--server", server.url, "--name",
                        name, "--role", role] + (["--tenant", tenant] if tenant else [])
                env = dict(os.environ)
                if tokens:
                    env["SAWMILL_TOKEN"] = tokens["root"]
                proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
                check(proc.returncode == 0, proc.stdout + proc.stderr)
                tokens[name] = proc.stdout.strip()
            status, answer = quotas(server, "POST", token=tokens["tadmin"], tenant="other",
                                    reader_max_range="1h")
            check(status == 403, "a tenant-admin sets quotas: %d %s" % (status, answer))
            status, answer = quotas(server, "POST", token=tokens["root"], tenant="other",
                                    reader_max_range="1h")
            check(status == 200 and answer["api_updated_by"] == "root", "set: %s" % answer)
            status, _, body = search(server, None, "scan1 | count", token=tokens["reader"],
                                     all_time=1)
            message = json.loads(body).get("error", "")
            check(status == 403 and "all_time=1 reaches further back than the 1h a reader of "
                  "tenant 'other' may search (reader_max_range)" in message and
                  "tenant-admin" in message, "reader all_time: %d %s" % (status, body))
            status, _, body = search(server, None, "scan1 | count", token=tokens["reader"],
                                     since="2h")
            check(status == 403, "reader since=2h: %d %s" % (status, body))
            status, _, body = search(server, None, "scan1 | count", token=tokens["reader"],
                                     since="30m")
            check(status == 200 and json.loads(body)["rows"][0]["count"] == 5000,
                  "reader since=30m: %d %s" % (status, body))
            status, _, body = search(server, None, "scan1 | count", token=tokens["tadmin"],
                                     all_time=1)
            check(status == 200, "tenant-admin all_time: %d %s" % (status, body))
            # The export applies the same limit, with the same message, before streaming.
            reader_message = message
            for params in ({"all_time": "1"}, {"since": "2h"}):
                status, _, body = export(server, tokens["reader"], q="scan1", **params)
                message = json.loads(body).get("error", "") if status != 200 else ""
                check(status == 403 and "reader_max_range" in message and "tenant-admin" in message
                      and (message == reader_message if "all_time" in params else True),
                      "reader export %s: %d %s" % (params, status, body[:300]))
            status, _, body = export(server, tokens["reader"], q="scan1", since="30m")
            check(status == 200 and body.count(b"\n") == 5000,
                  "reader export since=30m: %d, %d lines" % (status, body.count(b"\n")))
            status, _, body = export(server, tokens["tadmin"], q="scan1", all_time="1")
            check(status == 200 and body.count(b"\n") == 5000,
                  "tenant-admin export all_time: %d, %d lines" % (status, body.count(b"\n")))
            status, _, body = request(
                server.url + "/loki/api/v1/query_range?" + urllib.parse.urlencode(
                    {"query": '{level=~".+"}', "start": now - 7200 * 10**9, "end": now}),
                headers={"Authorization": "Bearer " + tokens["reader"]})
            check(status == 403 and b"reader_max_range" in body,
                  "Loki over the reader's range: %d %s" % (status, body[:300]))
    finally:
        os.unlink(config.name)


if __name__ == "__main__":
    main()
