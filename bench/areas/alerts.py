"""Area "alerts": ingest CPU per line with 0, 100, 1,000 and 5,000 alerting rules evaluated on the
stream, and the time from a matching line's acknowledgement to the real Alertmanager having the
alert (docs/alerting.md)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from benchlib.common import (HTTP_TOOL, WORK, emit_table, fmt_int, fmt_num, free_port, goal, log,
                             put, run_json)
from benchlib.alert_rules import rules_yaml
from benchlib.server import Server

RULE_COUNTS = [0, 100, 1000, 5000]
RATE = int(os.environ.get("BENCH_ALERT_RATE", "50000"))
SECONDS = int(os.environ.get("BENCH_ALERT_SECONDS", "20"))
LATENCY_SAMPLES = int(os.environ.get("BENCH_ALERT_SAMPLES", "20"))


def alertmanager(port):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        return None, None
    d = tempfile.mkdtemp(prefix="bench_am_", dir=WORK)
    cfg = os.path.join(d, "am.yml")
    with open(cfg, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    proc = subprocess.Popen([binary, "--config.file=" + cfg, "--storage.path=" + d,
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return proc, d
        except OSError:
            time.sleep(0.1)
    proc.kill()
    return None, None


def latency(manifest):
    """Seconds from the acknowledgement of a matching line to Alertmanager listing the alert."""
    port = free_port()
    am, am_dir = alertmanager(port)
    if am is None:
        return None
    rules = os.path.join(WORK, "alert-latency-rules.yaml")
    with open(rules, "w") as f:
        f.write("rules:\n" + "".join(
            f"  - {{name: lat{i}, filter: benchlatency{i}, condition: count > 0, window: 1m}}\n"
            for i in range(LATENCY_SAMPLES)))
    server = Server("alerts-latency", args=["--alert-rules", rules, "--alertmanager",
                                            f"http://127.0.0.1:{port}",
                                            "--alert-eval-interval", "1s"])
    samples = []
    try:
        for i in range(LATENCY_SAMPLES):
            body = json.dumps({"service": "bench", "msg": f"benchlatency{i} happened"}).encode()
            status, _ = server.request("POST", "/api/v1/ingest", body=body)
            acked = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"ingest answered {status}")
            q = urllib.parse.quote(f'alertname="lat{i}"')
            deadline = time.time() + 30
            while time.time() < deadline:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v2/alerts?filter={q}", timeout=5) as r:
                    if json.loads(r.read()):
                        samples.append(time.perf_counter() - acked)
                        break
                time.sleep(0.005)
            time.sleep(0.37)  # spread the samples over the scheduler's second
    finally:
        server.stop()
        am.kill()
        am.wait()
        shutil.rmtree(am_dir, ignore_errors=True)
    return sorted(samples)


def run_area(corpus, manifest):
    title = (f"Alerting: ingest CPU per line with N rules at {RATE:,} lines/s for {SECONDS} s "
             "(rules: service+level, a word, a phrase, a regex; every tenth grouped by host)")
    lines = RATE * SECONDS
    results = {}
    for n in RULE_COUNTS:
        rules = os.path.join(WORK, f"alert-rules-{n}.yaml")
        with open(rules, "w") as f:
            f.write(rules_yaml(n, manifest))
        server = Server(f"alerts-{n}", args=["--alert-rules", rules] if n else [])
        try:
            log(f"alerts: {n} rules, {lines:,} lines at {RATE:,}/s")
            before = server.cpu_seconds()
            r = run_json([HTTP_TOOL, "ingest", "--addr", server.addr, "--file", corpus,
                          "--clients", "8", "--batch", "1000", "--lines", str(lines),
                          "--rate", str(RATE)], timeout=SECONDS + 600)
            cpu = server.cpu_seconds() - before
            _, metrics = server.get("/metrics")
            match_cpu = 0.0
            for line in metrics.decode().splitlines():
                if line.startswith('sawmill_alert_evaluation_cpu_seconds_total{stage="match"}'):
                    match_cpu = float(line.rsplit(" ", 1)[1])
        finally:
            server.stop()
        acked = r["lines_acked"]
        results[n] = {"cpu_us_per_line": cpu / acked * 1e6 if acked else None,
                      "match_us_per_line": match_cpu / acked * 1e6 if acked else None,
                      "lines_per_s": r["lines_per_s"], "acked": acked}
        put(f"alerts.rules_{n}.cpu_us_per_line", results[n]["cpu_us_per_line"])
        put(f"alerts.rules_{n}.match_us_per_line", results[n]["match_us_per_line"])
        put(f"alerts.rules_{n}.lines_per_s", r["lines_per_s"])
    base = results[0]["cpu_us_per_line"]
    rows = []
    for n in RULE_COUNTS:
        x = results[n]
        extra = (x["cpu_us_per_line"] / base - 1) if base and x["cpu_us_per_line"] else None
        rows.append([fmt_int(n), fmt_num(x["cpu_us_per_line"]), fmt_num(x["match_us_per_line"], 2),
                     "—" if extra is None else f"{extra * 100:+.1f}%",
                     fmt_int(x["lines_per_s"]), fmt_int(x["acked"])])
    worst = results[5000]["cpu_us_per_line"]
    extra = (worst / base - 1) if base and worst else None
    status = goal("alerts", "5,000 rules cost less than 20% more ingest CPU",
                  "—" if extra is None else f"{extra * 100:+.1f}%",
                  None if extra is None else extra < 0.20)
    rows[-1].append(status)
    for row in rows[:-1]:
        row.append("")
    emit_table(title, ["rules", "server CPU µs/line", "of which matching µs/line",
                       "vs no rules", "lines/s achieved", "lines acked", "goal"], rows)
    log("alerts: ack -> Alertmanager latency")
    samples = latency(manifest)
    if samples:
        p50 = samples[len(samples) // 2]
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        put("alerts.ack_to_alertmanager_p50_s", p50)
        put("alerts.ack_to_alertmanager_p99_s", p99)
        emit_table("Alerting: a matching line's acknowledgement to Alertmanager listing the alert",
                   ["samples", "p50 (s)", "p99 (s)", "evaluation interval"],
                   [[fmt_int(len(samples)), f"{p50:.2f}", f"{p99:.2f}", "1 s"]],
                   notes=["Dominated by the evaluation interval (the scheduler's tick, 10 s by "
                          "default, 1 s here): a line waits up to one interval to be evaluated, "
                          "then the notifier posts at once."])
    else:
        put("alerts.ack_to_alertmanager_p50_s", None)
        log("alerts: prometheus-alertmanager not installed; latency not measured")
