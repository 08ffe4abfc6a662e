"""Retention and holds through the real `sawmill server` and `sawmill admin`: lines past their
tenant's retention disappear from search and their segment files from the disk; a hold (added with
`sawmill admin hold add`, partial overlap included) keeps them until released; a compliance
service outlives the others; a tenant without a retention keeps everything; the deletion record
(`sawmill admin deletions`) says who, what and why. Real time: the retention is a few seconds."""

import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from e2e_lib import Server, check, metric_value, request


def admin(binary, url, *args):
    result = subprocess.run([binary, "admin"] + list(args) + ["--server", url],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, USER="e2e-operator"))
    check(result.returncode == 0, "sawmill admin %s: exit %d\n%s%s" % (
        " ".join(args), result.returncode, result.stdout, result.stderr))
    return result.stdout


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def ingest(s, tenant, service, n, tag):
    body = "".join('{"service":"%s","host":"h1","level":"info","msg":"%s %d"}\n' % (service, tag, i)
                   for i in range(n))
    status, _, text = s.ingest(body, headers={"X-Scope-OrgID": tenant})
    check(status == 200, "ingest: %d %s" % (status, text))


def count(s, tenant, q):
    status, _, body = request(s.url + "/api/v1/search?all_time=1&q=" +
                              urllib.parse.quote(q + " | count"),
                              headers={"X-Scope-OrgID": tenant})
    check(status == 200, "search %s: %d %s" % (q, status, body))
    rows = json.loads(body)["rows"]
    return rows[0]["count"] if rows else 0


def segment_files(s):
    return sorted(glob.glob(os.path.join(s.data_dir, "segments", "**", "*.seg"), recursive=True))


def refused_at_start(binary, args, expected):
    """A bad retention or watermark option stops the server at start, saying what is wrong."""
    data = tempfile.mkdtemp(prefix="sawmill_e2e_bad_")
    try:
        result = subprocess.run([binary, "server", "--data", data, "--http", "127.0.0.1:0"] + args,
                                capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    check(result.returncode == 2 and expected in result.stderr,
          "%r: exit %d, %s" % (args, result.returncode, result.stderr))


def main(binary):
    refused_at_start(binary, ["--retention", "2y"], "13 months")
    refused_at_start(binary, ["--retention", "{tenants: {acme: {retention: 30 days}}}"],
                     "retention.tenants.acme.retention")
    refused_at_start(binary, ["--retention", "{compliance: [{service: pay, retention: 11y}]}"],
                     "10y")
    refused_at_start(binary, ["--disk-watermarks", "90%,80%,95%"], "disk_watermarks")
    policy = ("{tenants: {acme: {retention: 6s}}, "
              "compliance: [{service: 'ledger*', retention: 1y, reason: financial}]}")
    # Rounds only on demand (a long interval), so the test decides when retention runs.
    with Server(binary, extra_args=["--retention", policy, "--retention-interval", "1h",
                                    "--compaction", "off"]) as s:
        # One flush each: a segment holds one (tenant, partition), and a partition may hold
        # several services; here each service gets segments of its own.
        ingest(s, "acme", "web", 50, "old")
        s.flush()
        ingest(s, "acme", "ledger-eu", 20, "old")
        ingest(s, "keep", "web", 10, "kept")  # no retention: kept forever
        s.flush()
        time.sleep(3)
        # One segment received over a second; the hold below meets only its first half.
        ingest(s, "acme", "checkout", 15, "held-a")
        t_a = time.time()
        time.sleep(1)
        ingest(s, "acme", "checkout", 15, "held-b")
        t_b = time.time()
        s.flush()
        files_before = segment_files(s)
        check(len(files_before) == 4, "segment files: %r" % files_before)

        out = admin(binary, s.url, "hold", "add", "--tenant", "acme", "--from",
                    rfc3339(t_a - 0.8), "--to", rfc3339(t_a + 0.1), "--reason", "INC-4211")
        check("#1" in out and "INC-4211" in out and "ACTIVE" in out, "hold add: %s" % out)
        hold_list = admin(binary, s.url, "hold", "list")
        check("INC-4211" in hold_list and "keeps 1 segments" in hold_list,
              "hold list: %s" % hold_list)

        time.sleep(max(0.0, t_b + 6.5 - time.time()))
        out = admin(binary, s.url, "retention", "run")
        check(out.startswith("deleted 1 segments"), "retention run: %s" % out)
        check(count(s, "acme", "service=web") == 0, "expired web lines are still searchable")
        check(count(s, "acme", "service=checkout") == 30, "held lines are gone")
        check(count(s, "acme", "service=ledger-eu") == 20, "compliance lines are gone")
        check(count(s, "keep", "*") == 10, "a tenant without a retention lost lines")
        files_after = segment_files(s)
        check(len(files_after) == 3, "segment files after: %r" % files_after)
        check(metric_value(s.metrics(), "sawmill_retention_deleted_segments_total",
                           reason="expired") == 1, "deletion metric")
        check(metric_value(s.metrics(), "sawmill_retention_held_segments") == 1, "held metric")

        # Released: the next round deletes what it kept.
        out = admin(binary, s.url, "hold", "release", "1", "--reason", "INC-4211 closed")
        check("released by e2e-operator" in out, "hold release: %s" % out)
        out = admin(binary, s.url, "retention", "run")
        check(out.startswith("deleted 1 segments"), "retention run after release: %s" % out)
        check(count(s, "acme", "service=checkout") == 0, "released lines still searchable")
        check(count(s, "acme", "service=ledger-eu") == 20, "compliance lines are gone")
        check(len(segment_files(s)) == 2, "segment files: %r" % segment_files(s))

        # The record: who, what, why.
        out = admin(binary, s.url, "deletions")
        check(out.count("segment_delete") == 2 and "by retention" in out and "expired" in out
              and '"rows":30' in out and '"rows":50' in out, "deletions: %s" % out)
        status, _, body = request(s.url + "/api/v1/admin/retention/events")
        events = json.loads(body)["events"]
        actions = [e["action"] for e in reversed(events)]
        check(actions == ["hold_add", "segment_delete", "hold_release", "segment_delete"],
              "events: %r" % actions)
        check(events[-1]["who"].startswith("e2e-operator@") and events[-1]["why"] == "INC-4211",
              "hold_add event: %r" % events[-1])

        # Policies: the file's, an admin change (recorded), a refused 2-year retention.
        out = admin(binary, s.url, "retention", "get")
        check("acme" in out and "6s" in out and "ledger*" in out, "retention get: %s" % out)
        out = admin(binary, s.url, "retention", "set", "--tenant", "keep", "--retention", "30d",
                    "--reason", "cost")
        check("keep" in out and "30d" in out and "admin" in out, "retention set: %s" % out)
        result = subprocess.run([binary, "admin", "retention", "set", "--tenant", "keep",
                                 "--retention", "2y", "--server", s.url],
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 1 and "13 months" in result.stderr,
              "2y without compliance: %d %s" % (result.returncode, result.stderr))
        status, _, body = request(s.url + "/api/v1/admin/holds?tenant=acme&from=now&to=now"
                                  "&reason=x", method="POST", body=b"")
        check(status == 400 and b"before" in body, "empty hold range: %d %s" % (status, body))
        status, _, body = request(s.url + "/api/v1/admin/holds?tenant=acme&from=now&to=now"
                                  "&reason=x&query=service%3D", method="POST", body=b"")
        check(status == 400, "bad hold query: %d %s" % (status, body))

        # A restart keeps holds, policies and the record.
        s.stop()
        s.start()
        out = admin(binary, s.url, "retention", "events")
        check(out.count("policy_set") == 1 and out.count("segment_delete") == 2,
              "events after restart: %s" % out)
        check(count(s, "keep", "*") == 10, "lines lost across restart")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
