"""Log-based alerting end to end (docs/alerting.md): the real `sawmill server` with a rules
file, real datasets from shared/data/real, the real Alertmanager from Debian
(prometheus-alertmanager) on a free loopback port whose webhook receiver is a small HTTP
listener here, and a second listener as the generic JSON webhook.

Covers: every rule kind (count, absence, rate, a phrase, a regex, group_by, for) firing on real
lines; tenant isolation; 1,000 groups of one rule; a rules file with an error keeps the previous
rules and reports the error; SIGHUP reloads; restarts in the middle of `for` and of a firing alert
(no re-notification inside the cooldown); Alertmanager down, then up; the CLI (list, get, test,
silence)."""

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Server, free_port, metric_value, request  # noqa: E402

BINARY = sys.argv[1]
SHARED = os.environ.get("SAWMILL_SHARED_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
REAL = os.path.join(SHARED, "data", "real", "loghub_2k")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def wait_until(what, fn, timeout=60, interval=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ds waiting for %s (last: %r)" % (timeout, what, last))


class Listener:
    """Records every JSON body POSTed to it, by path."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with outer.lock:
                    outer.posts.append((self.path, json.loads(body or b"null")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def bodies(self):
        with self.lock:
            return [b for _, b in self.posts]

    def close(self):
        self.server.shutdown()


class Alertmanager:
    """The Debian prometheus-alertmanager binary with its own config and storage directory."""

    def __init__(self, port, receiver_url):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="sawmill_am_")
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write("""route:
  receiver: test
  group_by: ['alertname', 'tenant']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s
        send_resolved: true
""" % receiver_url)
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, "--config.file=" + self.config,
             "--storage.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until("Alertmanager ready", lambda: self.ready(), timeout=60)

    def ready(self):
        try:
            status, _, _ = request(self.url + "/-/ready", timeout=2)
            return status == 200
        except OSError:
            return False

    def alerts(self):
        status, _, body = request(self.url + "/api/v2/alerts", timeout=10)
        check(status == 200, "alertmanager alerts: %d" % status)
        return json.loads(body)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


RULES = """rules:
  - name: zk-errors
    filter: service=zookeeper level=ERROR
    condition: count > 10
    window: 2m
    cooldown: 1h
    labels: {severity: page}
    annotations:
      summary: "{{count}} ZooKeeper errors in {{window}}"
      search: "{{search}}"
  - name: zk-by-level
    filter: service=zookeeper
    condition: count > 100
    window: 2m
    group_by: [level]
  - name: ssh-failed-rate
    filter: service=sshd "Failed password"
    condition: rate > 2
    window: 1m
  - name: zk-connection-regex
    filter: service=zookeeper message~"Connection (broken|reset)"
    condition: count >= 1
    window: 2m
  - name: hdfs-silent
    filter: service=hdfs
    condition: count == 0
    window: 5s
  - name: zk-warn-for
    filter: service=zookeeper level=WARN
    condition: count > 0
    window: 10m
    for: 25s
  - name: per-customer
    filter: service=shop
    condition: count > 0
    window: 5m
    group_by: customer
"""


def ingest_file(server, path, service, tenant=None):
    with open(path, "rb") as f:
        body = f.read()
    headers = {"Content-Type": "text/plain"}
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    status, _, answer = server.ingest(body, params={"service": service}, headers=headers)
    check(status == 200, "ingest %s: %d %s" % (path, status, answer))


def alerts(server, tenant=None, rule=None):
    url = server.url + "/api/v1/alerts" + ("?rule=" + rule if rule else "")
    status, _, body = request(url, headers={"X-Scope-OrgID": tenant} if tenant else {})
    check(status == 200, "GET /api/v1/alerts: %d %s" % (status, body))
    return {r["name"]: r for r in json.loads(body)["rules"]}


def state(server, rule, tenant=None):
    return alerts(server, tenant).get(rule, {}).get("state")


def group(server, rule, key=""):
    for g in alerts(server)[rule]["groups"]:
        if g["group"] == key:
            return g
    return None


def cli(server, *args):
    out = subprocess.run([BINARY, "alerts", "--server", server.url] + list(args),
                         capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout + out.stderr


def main():
    check(ALERTMANAGER, "prometheus-alertmanager is not installed (scripts/install-deps.sh)")
    work = tempfile.mkdtemp(prefix="sawmill_alerts_")
    rules_path = os.path.join(work, "rules.yaml")
    with open(rules_path, "w") as f:
        f.write(RULES)
    am_listener = Listener()
    hook = Listener()
    am = Alertmanager(free_port(), am_listener.url("/am"))
    data_dir = os.path.join(work, "data")
    args = ["--alert-rules", rules_path, "--alertmanager", am.url,
            "--alert-webhook", hook.url("/hook"), "--alert-eval-interval", "1s"]
    server = Server(BINARY, data_dir=data_dir, extra_args=args)
    try:
        # Alertmanager is down when the server starts: notifications fail, are retried, and
        # arrive once it is up.
        server.start()
        loaded = alerts(server)
        check(set(loaded) == {"zk-errors", "zk-by-level", "ssh-failed-rate", "zk-connection-regex",
                              "hdfs-silent", "zk-warn-for", "per-customer"},
              "rules loaded: %s" % sorted(loaded))
        check(all(r["state"] == "inactive" for n, r in loaded.items() if n != "hdfs-silent"),
              "nothing fires before any line: %s" % {n: r["state"] for n, r in loaded.items()})

        # Absence: no hdfs line in 5 s fires; a line resolves it.
        wait_until("hdfs-silent firing", lambda: state(server, "hdfs-silent") == "firing")

        # Real lines. Their source timestamps are from 2015: counted at their ingest_ts.
        ingest_file(server, os.path.join(REAL, "Zookeeper", "Zookeeper_2k.log"), "zookeeper")
        warn_pending_at = time.time()
        ingest_file(server, os.path.join(REAL, "OpenSSH", "OpenSSH_2k.log"), "sshd")
        ingest_file(server, os.path.join(REAL, "HDFS", "HDFS_2k.log"), "hdfs")

        wait_until("zk-errors firing", lambda: state(server, "zk-errors") == "firing")
        zk = alerts(server)["zk-errors"]
        check(zk["groups"][0]["count"] == 13, "13 ZooKeeper ERROR lines: %s" % zk["groups"])
        wait_until("ssh-failed-rate firing", lambda: state(server, "ssh-failed-rate") == "firing")
        wait_until("zk-connection-regex firing",
                   lambda: state(server, "zk-connection-regex") == "firing")
        wait_until("hdfs-silent resolved", lambda: state(server, "hdfs-silent") == "inactive")
        wait_until("zk-by-level WARN and INFO firing",
                   lambda: group(server, "zk-by-level", "level=WARN") is not None
                   and group(server, "zk-by-level", "level=WARN")["state"] == "firing"
                   and group(server, "zk-by-level", "level=INFO")["state"] == "firing")
        check(group(server, "zk-by-level", "level=ERROR")["state"] == "inactive",
              "13 ERROR lines are not > 100")
        check(state(server, "zk-warn-for") == "pending", "zk-warn-for waits for its 25s")
        pending = group(server, "zk-warn-for")
        pending_since = pending["active_since"]

        # The webhook got zk-errors with its labels, annotations and a search link.
        def hook_alert(rule, status="firing"):
            return [b for b in hook.bodies() if b["rule"] == rule and b["status"] == status]
        sent = wait_until("webhook zk-errors", lambda: hook_alert("zk-errors"))
        body = sent[0]
        check(body["labels"]["severity"] == "page" and body["labels"]["alertname"] == "zk-errors",
              "labels: %s" % body["labels"])
        check(body["annotations"]["summary"] == "13 ZooKeeper errors in 2m", body["annotations"])
        check(body["generatorURL"].startswith(server.url + "/api/v1/search?q="),
              body["generatorURL"])
        check("[FIRING]" in body["text"], body["text"])
        # The search link finds the lines.
        status, _, found = request(body["generatorURL"] + "&limit=100")
        check(status == 200 and len(json.loads(found)["hits"]) == 13,
              "search link: %d %s" % (status, found[:300]))

        # Alertmanager down: failures counted.
        wait_until("failed notifications counted", lambda: metric_value(
            server.metrics(), "sawmill_alert_notifications_total", receiver="alertmanager",
            result="failed") > 0)
        # Now up: the alerts arrive at Alertmanager and through its webhook.
        am.start()
        wait_until("zk-errors in Alertmanager", lambda: any(
            a["labels"].get("alertname") == "zk-errors" for a in am.alerts()), timeout=90)
        got = wait_until("Alertmanager's webhook", lambda: [
            a for b in am_listener.bodies() for a in b.get("alerts", [])
            if a["labels"].get("alertname") == "zk-errors"], timeout=60)
        check(got[0]["status"] == "firing" and got[0]["labels"]["tenant"] == "default",
              "alertmanager webhook: %s" % got[0])
        check(got[0]["generatorURL"].startswith(server.url), got[0]["generatorURL"])

        # Tenant isolation: tenant "other" gets an API rule and lines; default's rules see none.
        rule = {"name": "other-errors", "filter": "level=ERROR", "condition": "count > 0",
                "window": "2m"}
        status, _, answer = request(server.url + "/api/v1/alerts/rules", method="POST",
                                    body=json.dumps(rule).encode(),
                                    headers={"X-Scope-OrgID": "other"})
        check(status == 200, "POST rule: %d %s" % (status, answer))
        before = group(server, "zk-errors")["count"]
        ingest_file(server, os.path.join(REAL, "Zookeeper", "Zookeeper_2k.log"), "zookeeper",
                    tenant="other")
        wait_until("other-errors firing", lambda: state(server, "other-errors", "other") ==
                   "firing")
        time.sleep(2)
        check(group(server, "zk-errors")["count"] == before,
              "tenant default's rule counted tenant other's lines")
        check("other-errors" not in alerts(server), "tenant default sees tenant other's rule")
        # Tenant other sees its own rule only, counting exactly its own ERROR lines (the same
        # file gave tenant default 13), and only its own history.
        other = alerts(server, "other")
        check(set(other) == {"other-errors"}, "tenant other sees: %s" % sorted(other))
        check(other["other-errors"]["groups"][0]["count"] == 13,
              "other-errors: %s" % other["other-errors"]["groups"])
        status, _, answer = request(server.url + "/api/v1/alerts/history",
                                    headers={"X-Scope-OrgID": "other"})
        rules_seen = {t["rule"] for t in json.loads(answer)["transitions"]} if status == 200 else None
        check(rules_seen == {"other-errors"}, "tenant other's history: %d %s" % (status, answer))
        status, _, answer = request(server.url + "/api/v1/alerts/history")
        check(status == 200 and "other-errors" not in
              {t["rule"] for t in json.loads(answer)["transitions"]},
              "tenant default's history holds tenant other's rule: %s" % answer)
        # A bad API rule: a positioned error.
        status, _, answer = request(server.url + "/api/v1/alerts/rules", method="POST",
                                    body=b"name: x\nfilter: level=\ncondition: count > 1\n"
                                         b"window: 1m\n")
        check(status == 400 and b"request body:2:9: rule 'x': filter:" in answer,
              "bad API rule: %d %s" % (status, answer))

        # 1,000 groups of one rule.
        lines = "\n".join(json.dumps({"service": "shop", "customer": "c%04d" % i,
                                      "msg": "order placed"}) for i in range(1000))
        status, _, answer = server.ingest(lines, headers={"Content-Type": "application/x-ndjson"})
        check(status == 200, "ingest shop: %d %s" % (status, answer))
        wait_until("1000 firing groups", lambda: sum(
            g["state"] == "firing" for g in alerts(server)["per-customer"]["groups"]) == 1000)

        # The `for` clock: restart while pending; it keeps its start and fires 25 s after it.
        check(state(server, "zk-warn-for") == "pending", "still pending before the restart")
        notified_zk = len(hook_alert("zk-errors"))
        check(server.stop() == 0, "clean stop")
        server.start()
        g = group(server, "zk-warn-for")
        check(g is not None and g["state"] == "pending" and g["active_since"] == pending_since,
              "pending after restart with the same since: %s (was %s)" % (g, pending_since))
        # Firing before the restart, and its window rebuilt from stored data.
        check(state(server, "zk-errors") == "firing", "zk-errors still firing after restart")
        wait_until("zk-warn-for firing", lambda: state(server, "zk-warn-for") == "firing",
                   timeout=60)
        fired_after = time.time() - warn_pending_at
        check(fired_after >= 24, "fired %.1fs after the lines, want >= 25s" % fired_after)
        time.sleep(3)
        check(len(hook_alert("zk-errors")) == notified_zk,
              "zk-errors was notified again after the restart, inside its cooldown")
        check(group(server, "zk-errors")["count"] == 13, "window rebuilt from storage: %s" %
              group(server, "zk-errors"))

        # History.
        status, _, answer = request(server.url + "/api/v1/alerts/history?rule=zk-warn-for")
        transitions = json.loads(answer)["transitions"]
        check([t["to"] for t in transitions][:2] == ["firing", "pending"],
              "history: %s" % transitions)

        # A rules file with an error keeps the previous rules and reports where.
        with open(rules_path, "w") as f:
            f.write(RULES.replace("filter: service=hdfs", "filter: service=hdfs AND ("))
        wait_until("the error reported", lambda: json.loads(request(
            server.url + "/api/v1/alerts/rules")[2])["rules_file_error"])
        error = json.loads(request(server.url + "/api/v1/alerts/rules")[2])["rules_file_error"]
        check(rules_path + ":25:13: rule 'hdfs-silent': filter:" in error, error)
        check(len(alerts(server)) == 7, "previous rules kept")
        check(metric_value(server.metrics(), "sawmill_alert_rules_file_valid") == 0, "gauge 0")
        code, out = cli(server, "list")
        check(code == 0 and "the rules file has an error" in out, out)
        # Fixed with a new rule; SIGHUP forces the read even when the file looks unchanged.
        stat = os.stat(rules_path)
        with open(rules_path, "w") as f:
            f.write(RULES.replace("name: hdfs-silent", "name: hdfs-silenT"))
        os.utime(rules_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        server.proc.send_signal(signal.SIGHUP)
        wait_until("reloaded on SIGHUP", lambda: "hdfs-silenT" in alerts(server))
        check(metric_value(server.metrics(), "sawmill_alert_rules_file_valid") == 1, "gauge 1")

        # The CLI.
        code, out = cli(server, "list")
        check(code == 0 and "firing" in out and "zk-errors" in out, out)
        code, out = cli(server, "get", "zk-warn-for")
        check(code == 0 and "pending  -> firing" in out, out)
        code, out = cli(server, "test", "zk-errors", "--since", "1h")
        check(code == 0 and "would fire" in out, out)
        code, out = cli(server, "silence", "zk-errors", "--for", "30m", "--comment", "e2e")
        check(code == 0 and "silence" in out, out)
        status, _, body = request(am.url + "/api/v2/silences")
        silences = json.loads(body)
        check(any(m["value"] == "zk-errors" for s in silences for m in s["matchers"]),
              "silence in Alertmanager: %s" % silences)

        metrics = server.metrics()
        for name in ("sawmill_alert_rules_loaded", "sawmill_alert_evaluations_total",
                     "sawmill_alert_evaluation_cpu_seconds_total"):
            check(metric_value(metrics, name) > 0, "%s > 0" % name)
        check(metric_value(metrics, "sawmill_alert_firing", rule="zk-errors") == 1, "firing 1")
        check(metric_value(metrics, "sawmill_alert_notifications_total", receiver="webhook",
                           result="sent") > 0, "webhook sent")
        print("e2e alerts: ok")
    finally:
        server.cleanup()
        am.cleanup()
        am_listener.close()
        hook.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
