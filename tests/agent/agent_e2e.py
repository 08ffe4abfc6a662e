#!/usr/bin/env python3
"""End-to-end tests of `sawmill agent` against a real `sawmill server` on loopback (no mocks).

Usage: agent_e2e.py --sawmill PATH SCENARIO
Scenarios:
  outage      the server is stopped while the agent tails busy files, then started again:
              every line (so every WARN/ERROR line) arrives exactly once.
              SAWMILL_AGENT_OUTAGE_S sets the outage (default 12 s; use 300 for minutes).
  sigkill     the agent is killed with SIGKILL at random moments and restarted while a file
              grows: no line lost, none stored twice.
  files       rotation by rename and by copy-truncate under load, a file deleted while being
              read, a 10 MB line, binary garbage, CRLF, a last line without newline.
  spool_full  the server is down and the spool is too small: DEBUG goes first, then INFO;
              WARN/ERROR all arrive exactly once; every drop is counted by level and reason,
              and logged with the setting (spool.max_bytes) that controls it.
  defaults    the minimal configuration of docs/agent.md reads 50,000 existing lines: every one
              arrives; a SHA-256 with a Luhn-valid digit run is found by search, unmasked; a
              card number is masked; nothing is dropped; the shutdown line matches the status.
  rate_limit  a configured rate limit drops lines: the agent logs how many, why and which
              setting (at most once per 10 s), the logged counts add up to the metric; the
              shutdown line (with lines still spooled while the server is down) matches.
  wiped_spool an agent with a configured agent_id loses its spool (a container without a
              volume): its new batches must not reuse the Idempotency-Keys of the old ones,
              which the server remembers for a day (a reused key is refused with 422).
Counts come from the server's search API.
"""
import argparse
import json
import re
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"]
# The servers here are not about disk pressure: high watermarks, so that the machine's own disk
# fill (past the default 80 %, the disk watch re-encodes segments warm) does not change what the
# agent's tests see (tests/e2e/e2e_lib.py QUIET_DISK_WATERMARKS, the same rule).
QUIET_DISK_WATERMARKS = ["--disk-watermarks", "99%,99.5%,99.9%"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


class Harness:
    def __init__(self, sawmill, name):
        self.sawmill = sawmill
        self.dir = tempfile.mkdtemp(prefix="sawmill_agent_%s_" % name)
        self.port = free_port()
        self.metrics_port = free_port()
        self.server = None
        self.agent = None
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs)
        self.spool = os.path.join(self.dir, "spool")

    def cleanup(self, ok):
        for proc in (self.agent, self.server):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
        if ok and not os.environ.get("SAWMILL_AGENT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept %s for inspection" % self.dir)
            for name in ("agent.log", "server.log"):
                path = os.path.join(self.dir, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print("---- last lines of %s" % name)
                        print("".join(f.readlines()[-30:]))

    # -- server
    def start_server(self):
        out = open(os.path.join(self.dir, "server.log"), "a")
        self.server = subprocess.Popen(
            [self.sawmill, "server", "--data", os.path.join(self.dir, "data"), "--http",
             "127.0.0.1:%d" % self.port] + QUIET_DISK_WATERMARKS, stdout=out,
            stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=1)
                return
            except Exception:
                if self.server.poll() is not None:
                    fail("server exited with %d" % self.server.returncode)
                time.sleep(0.1)
        fail("server did not become healthy")

    def stop_server(self):
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server = None

    def search(self, query, limit=10000):
        params = urllib.parse.urlencode({"q": query, "all_time": "1", "limit": str(limit),
                                         "cache": "0"})
        url = "http://127.0.0.1:%d/api/v1/search?%s" % (self.port, params)
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())

    def count_by_level(self, query):
        rows = self.search(query + " | count by level")["rows"]
        return {row["level"]: row["count"] for row in rows}

    def messages(self, query):
        hits = self.search(query)["hits"]
        if len(hits) >= 10000:
            fail("too many hits for an exact check")
        return [h["message"] for h in hits]

    # -- agent
    def write_config(self, inputs, **extra):
        config = {
            "server": "http://127.0.0.1:%d" % self.port,
            "spool": {"path": self.spool, "max_bytes": "1GiB"},
            "rate_limit": {"lines_per_sec": 0},
            "retry": {"max_backoff": "1s"},
            "status": {"metrics_listen": "127.0.0.1:%d" % self.metrics_port},
            "inputs": inputs,
        }
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key].update(value)
            else:
                config[key] = value
        path = os.path.join(self.dir, "agent.yaml")
        with open(path, "w") as f:
            json.dump(config, f, indent=1)  # JSON is YAML
        self.config = path

    def start_agent(self):
        out = open(os.path.join(self.dir, "agent.log"), "a")
        self.agent = subprocess.Popen([self.sawmill, "agent", "--config", self.config],
                                      stdout=out, stderr=subprocess.STDOUT)

    def stop_agent(self, sig=signal.SIGTERM):
        self.agent.send_signal(sig)
        try:
            self.agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("agent did not stop within 60 s after signal %d" % sig)
        self.agent = None

    def status(self):
        out = subprocess.run([self.sawmill, "agent", "status", "--config", self.config, "--json"],
                             capture_output=True, text=True)
        if not out.stdout:
            return None
        return json.loads(out.stdout)

    def wait_for(self, what, predicate, timeout=90):
        deadline = time.time() + timeout
        last = None
        next_report = time.time() + 10
        while time.time() < deadline:
            if time.time() > next_report:
                print("still waiting for %s: %r" % (what, last), flush=True)
                next_report += 10
            try:
                last = predicate()
                if last is True:
                    return
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError) as e:
                last = e
            if self.agent is not None and self.agent.poll() is not None:
                fail("agent exited with %d while waiting for %s" % (self.agent.returncode, what))
            time.sleep(0.5)
        fail("timed out waiting for %s (last: %r)" % (what, last))


class Writer(threading.Thread):
    """Appends numbered lines of mixed levels to a file at a steady rate."""

    def __init__(self, path, tag, rate, weights=(40, 40, 12, 8)):
        super().__init__(daemon=True)
        self.path, self.tag, self.rate = path, tag, rate
        self.weights = weights
        self.written = {}  # id -> level
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()  # held while the file is being rotated
        self.rng = random.Random(hash(tag))
        self.reopen = threading.Event()

    def run(self):
        f = open(self.path, "a")
        n = 0
        interval = 0.01
        per_tick = max(1, int(self.rate * interval))
        while not self.stop_flag.is_set():
            with self.lock:
                if self.reopen.is_set():
                    f.close()
                    f = open(self.path, "a")
                    self.reopen.clear()
                for _ in range(per_tick):
                    level = self.rng.choices(LEVELS, self.weights)[0]
                    line_id = "%s-%06d" % (self.tag, n)
                    f.write("2026-01-01T00:00:00.%06dZ %s id=%s payload=%08x\n" %
                            (n % 1000000, level, line_id, self.rng.getrandbits(32)))
                    self.written[line_id] = level
                    n += 1
                f.flush()
            time.sleep(interval)
        f.close()

    def stop(self):
        self.stop_flag.set()
        self.join()


def ids_of(messages):
    out = []
    for m in messages:
        for word in m.split():
            if word.startswith("id="):
                out.append(word[3:])
    return out


def check_exactly_once(harness, service, written, levels=None):
    expected = {i for i, lvl in written.items() if levels is None or lvl in levels}
    query = "service=%s" % service
    if levels:
        query += " (" + " OR ".join("level=%s" % l for l in levels) + ")"
    got = ids_of(harness.messages(query))
    dupes = len(got) - len(set(got))
    missing = expected - set(got)
    extra = set(got) - expected
    if dupes or missing or extra:
        fail("%s: %d expected, %d stored, %d duplicates, %d missing (e.g. %s), %d unexpected" %
             (query, len(expected), len(got), dupes, len(missing), sorted(missing)[:3], len(extra)))
    print("ok: %s: %d lines, each exactly once" % (query, len(expected)))


def total_arrived(harness, service):
    return sum(harness.count_by_level("service=%s" % service).values())


# ---------------------------------------------------------------- scenarios

def scenario_outage(h):
    outage = float(os.environ.get("SAWMILL_AGENT_OUTAGE_S", "12"))
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "service": "busy"}])
    h.start_server()
    writers = [Writer(os.path.join(h.logs, "w%d.log" % i), "w%d" % i, 150) for i in range(2)]
    for w in writers:
        w.start()
    h.start_agent()
    time.sleep(3)
    h.stop_server()
    print("server stopped for %.0f s" % outage, flush=True)
    time.sleep(outage)
    st = h.status()
    if st and st["spool_batches"] == 0:
        fail("nothing was spooled during the outage: %r" % st)
    h.start_server()
    print("server started again", flush=True)
    time.sleep(3)
    for w in writers:
        w.stop()
    written = {}
    for w in writers:
        written.update(w.written)
    h.wait_for("%d lines to arrive" % len(written),
               lambda: total_arrived(h, "busy") == len(written) or total_arrived(h, "busy"))
    check_exactly_once(h, "busy", written, ["WARN", "ERROR"])
    check_exactly_once(h, "busy", written)


def scenario_sigkill(h):
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "service": "killed"}],
                   batch={"max_lines": 200, "max_wait": "200ms"})
    h.start_server()
    writer = Writer(os.path.join(h.logs, "app.log"), "k", 400)
    writer.start()
    h.start_agent()
    rng = random.Random(int(os.environ.get("SAWMILL_AGENT_SEED", str(int(time.time())))))
    for kill in range(6):
        time.sleep(rng.uniform(0.3, 2.0))
        h.agent.kill()
        h.agent.wait()
        print("SIGKILL %d" % (kill + 1), flush=True)
        h.start_agent()
    time.sleep(1)
    writer.stop()
    written = writer.written
    h.wait_for("%d lines to arrive" % len(written),
               lambda: total_arrived(h, "killed") >= len(written) or total_arrived(h, "killed"))
    time.sleep(2)  # anything stored twice would show up now
    check_exactly_once(h, "killed", written)


def wait_open(pid, path, timeout=60):
    """Waits until process "pid" has "path" open (its /proc/PID/fd)."""
    deadline = time.time() + timeout
    path = os.path.realpath(path)
    while time.time() < deadline:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                        return
                except OSError:
                    pass  # closed meanwhile
        except OSError:
            fail("the agent (pid %d) is gone" % pid)
        time.sleep(0.01)
    fail("the agent did not open %s within %d s" % (path, timeout))


def scenario_files(h):
    inputs = [
        {"type": "file", "paths": [h.logs + "/app.log"], "service": "rot"},
        {"type": "file", "paths": [h.logs + "/deleted.log"], "service": "deleted"},
        {"type": "file", "paths": [h.logs + "/big.log"], "service": "big"},
        {"type": "file", "paths": [h.logs + "/garbage.log"], "service": "garbage"},
        {"type": "file", "paths": [h.logs + "/crlf.log"], "service": "crlf"},
        {"type": "file", "paths": [h.logs + "/nonl.log"], "service": "nonl"},
    ]
    h.write_config(inputs)
    # Files that exist before the agent starts.
    deleted_lines = 30000
    with open(os.path.join(h.logs, "deleted.log"), "w") as f:
        for n in range(deleted_lines):
            f.write("INFO id=d-%06d deleted while being read %s\n" % (n, "x" * 100))
    with open(os.path.join(h.logs, "big.log"), "w") as f:
        f.write("ERROR before-big\n")
        f.write("ERROR " + "B" * (10 * 1024 * 1024) + "\n")
        f.write("ERROR after-big\n")
    rng = random.Random(7)
    with open(os.path.join(h.logs, "garbage.log"), "wb") as f:
        f.write(b"WARN before-garbage\n")
        f.write(bytes(rng.getrandbits(8) for _ in range(200000)))
        f.write(b"\nWARN after-garbage\n")
    with open(os.path.join(h.logs, "crlf.log"), "wb") as f:
        for n in range(100):
            f.write(b"INFO crlf line %d\r\n" % n)
    with open(os.path.join(h.logs, "nonl.log"), "w") as f:
        f.write("INFO first line\nERROR last line without newline")
    h.start_server()
    writer = Writer(os.path.join(h.logs, "app.log"), "r", 400)
    writer.start()
    h.start_agent()
    # Deleted while being read: once the agent holds it open (a fixed 0.3 s after the start
    # could come before a loaded machine ran the agent that far: its lines were never read).
    wait_open(h.agent.pid, os.path.join(h.logs, "deleted.log"))
    os.unlink(os.path.join(h.logs, "deleted.log"))
    time.sleep(2)
    # Rotation by rename under load.
    with writer.lock:
        os.rename(os.path.join(h.logs, "app.log"), os.path.join(h.logs, "app.log.1"))
        writer.reopen.set()
    print("rotated by rename", flush=True)
    time.sleep(2)
    # Rotation by copy-truncate under load (the writer keeps its descriptor, like an app that
    # never reopens; it pauses only for the copy+truncate itself, as logrotate's race window).
    with writer.lock:
        shutil.copyfile(os.path.join(h.logs, "app.log"), os.path.join(h.logs, "app.log.2"))
        os.truncate(os.path.join(h.logs, "app.log"), 0)
    print("rotated by copy-truncate", flush=True)
    time.sleep(2)
    writer.stop()
    written = writer.written
    h.wait_for("rotated lines", lambda: total_arrived(h, "rot") >= len(written) or
               total_arrived(h, "rot"))
    check_exactly_once(h, "rot", written)
    h.wait_for("the deleted file's lines",
               lambda: total_arrived(h, "deleted") == deleted_lines or total_arrived(h, "deleted"))
    print("ok: deleted file: %d lines" % deleted_lines)
    h.wait_for("big.log", lambda: total_arrived(h, "big") == 3 or total_arrived(h, "big"))
    hits = h.search("service=big")["hits"]
    big = [x for x in hits if x["message"].startswith("ERROR BBBB")]
    if len(big) != 1 or "truncated" not in big[0].get("flags", []):
        fail("the 10 MB line should arrive once, cut and flagged truncated: %r" %
             [(len(x["message"]), x.get("flags")) for x in big])
    if not any(x["message"] == "ERROR after-big" for x in hits):
        fail("the line after the 10 MB line is missing")
    print("ok: 10 MB line cut to %d bytes and flagged; the next line arrived" %
          len(big[0]["message"]))
    h.wait_for("garbage.log", lambda: any(x["message"] == "WARN after-garbage" for x in
                                            h.search("service=garbage")["hits"]))
    print("ok: binary garbage did not stop the file")
    h.wait_for("crlf.log", lambda: total_arrived(h, "crlf") == 100 or total_arrived(h, "crlf"))
    if any(x["message"].endswith("\r") for x in h.search("service=crlf")["hits"]):
        fail("CRLF line kept its \\r")
    print("ok: CRLF")
    h.wait_for("nonl.log", lambda: any(x["message"] == "ERROR last line without newline"
                                       for x in h.search("service=nonl")["hits"]))
    print("ok: last line without newline")


def scenario_spool_full(h):
    path = os.path.join(h.logs, "app.log")
    rng = random.Random(11)
    counts = dict.fromkeys(LEVELS, 0)
    plan = ["DEBUG"] * 4000 + ["INFO"] * 4000 + ["WARN"] * 3000 + ["ERROR"] * 1000
    rng.shuffle(plan)
    with open(path, "w") as f:
        for n, level in enumerate(plan):
            payload = "%032x" % rng.getrandbits(128)
            f.write("%s id=s-%06d %s %s\n" % (level, n, payload, payload[::-1]))
            counts[level] += 1
    # About 40 bytes per spooled line: 12,000 lines do not fit in 100 KiB, nor do the 4,000
    # WARN+ lines; the spool ends up holding only WARN and above and the agent stops reading.
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "service": "full"}],
                   spool={"max_bytes": "100KiB"}, batch={"max_lines": 250})
    h.start_agent()  # the server is down
    h.wait_for("the spool to fill", lambda: (h.status() or {}).get("paused") is True or
               h.status(), timeout=60)
    st = h.status()
    read_at_pause = sum(st["lines_read"].values())
    dropped = st["lines_dropped"]
    if dropped["WARN"]["spool_full"] or dropped["ERROR"]["spool_full"]:
        fail("WARN/ERROR dropped: %r" % dropped)
    if dropped["DEBUG"]["spool_full"] == 0:
        fail("the spool is full but no DEBUG line was dropped: %r" % st)
    print("ok: spool full, inputs paused; dropped so far: DEBUG %d, INFO %d" %
          (dropped["DEBUG"]["spool_full"], dropped["INFO"]["spool_full"]))
    h.start_server()
    h.wait_for("the agent to read and ship everything",
               lambda: (lambda s: s["spool_batches"] == 0 and not s["paused"] and
                        sum(s["lines_read"].values()) == len(plan) or s)(h.status()), timeout=120)
    time.sleep(1.5)
    st = h.status()
    arrived = h.count_by_level("service=full")
    for level in ("WARN", "ERROR"):
        if arrived.get(level, 0) != counts[level]:
            fail("%s: %d written, %d arrived" % (level, counts[level], arrived.get(level, 0)))
    check_exactly_once(h, "full", {"s-%06d" % n: lvl for n, lvl in enumerate(plan)},
                       ["WARN", "ERROR"])
    for level in ("DEBUG", "INFO"):
        dropped = sum(st["lines_dropped"][level].values())
        if arrived.get(level, 0) + dropped != counts[level]:
            fail("%s: %d written but %d arrived + %d counted as dropped" %
                 (level, counts[level], arrived.get(level, 0), dropped))
    # Order: while the server was down (the first "read_at_pause" lines), an INFO line was
    # dropped only once no DEBUG line was left in the spool, so every DEBUG line of that part
    # that arrived was read after every INFO line of that part that was dropped.
    pos = {"s-%06d" % n: n for n in range(len(plan))}
    arrived_debug = [pos[i] for i in ids_of(h.messages("service=full level=DEBUG"))
                     if pos[i] < read_at_pause]
    arrived_info = set(ids_of(h.messages("service=full level=INFO")))
    dropped_info = [n for n, lvl in enumerate(plan)
                    if lvl == "INFO" and n < read_at_pause and "s-%06d" % n not in arrived_info]
    if arrived_debug and dropped_info and max(dropped_info) > min(arrived_debug):
        fail("INFO line %d was dropped while DEBUG line %d (read earlier) was kept" %
             (max(dropped_info), min(arrived_debug)))
    print("ok: arrived %r; dropped DEBUG %d, INFO %d; WARN/ERROR complete" %
          (arrived, sum(st["lines_dropped"]["DEBUG"].values()),
           sum(st["lines_dropped"]["INFO"].values())))
    # The drops were logged with the setting that controls them, and add up to the count.
    st = check_shutdown_line(h)
    spool_drops = sum(v["spool_full"] for v in st["lines_dropped"].values())
    drops = [DROP_RE.search(l) for l in agent_log(h) if "agent: dropped" in l]
    if not drops or not all(drops):
        fail("spool drops not logged in the documented form: %r" % drops)
    for m in drops:
        if "removed from the spool" not in m.group(4) or "spool.max_bytes=102400" not in m.group(4):
            fail("drop line does not say why and which setting: %r" % m.group(0))
    logged = sum(int(m.group(2)) for m in drops)
    if logged != spool_drops:
        fail("the drop lines add up to %d, the status says %d" % (logged, spool_drops))
    print("ok: %d drop line(s) adding up to %d: %s" % (len(drops), logged, drops[0].group(0)))


SHUTDOWN_RE = re.compile(
    r"agent: stopped: read (\d+) lines, sent (\d+) \(acknowledged by the server\), spooled (\d+) "
    r"\(in (\d+) batch(?:es)? on disk, sent at the next start\), dropped (\d+)(?: \(([^)]*)\))?")
DROP_RE = re.compile(r"^\[([0-9-]+ [0-9:.]+)\].*agent: dropped (\d+) lines in the last (\d+)s: (.*)$")


def agent_log(h):
    with open(os.path.join(h.dir, "agent.log"), errors="replace") as f:
        return f.read().splitlines()


def status_file(h):
    with open(os.path.join(h.spool, "status.json")) as f:
        return json.load(f)


def check_shutdown_line(h):
    """SIGTERM the agent; its last words must match its final status file, number for number."""
    h.stop_agent(signal.SIGTERM)
    lines = [l for l in agent_log(h) if "agent: stopped:" in l]
    if len(lines) != 1:
        fail("expected one shutdown line in agent.log, got %r" % lines)
    m = SHUTDOWN_RE.search(lines[0])
    if not m:
        fail("shutdown line not in the documented form: %r" % lines[0])
    read, sent, spooled, batches, dropped = (int(m.group(i)) for i in range(1, 6))
    reasons = {}
    for part in (m.group(6) or "").split(", "):
        if part:
            name, n = part.rsplit(" ", 1)
            reasons[name] = int(n)
    st = status_file(h)
    want_reasons = {}
    for by_reason in st["lines_dropped"].values():
        for name, n in by_reason.items():
            if n:
                want_reasons[name] = want_reasons.get(name, 0) + n
    got = (read, sent, spooled, batches, dropped, reasons)
    want = (sum(st["lines_read"].values()), sum(st["lines_sent"].values()), st["spool_lines"],
            st["spool_batches"], sum(want_reasons.values()), want_reasons)
    if got != want:
        fail("shutdown line %r says %r, the status file %r" % (lines[0], got, want))
    print("ok: %s" % lines[0][lines[0].index("agent: stopped"):])
    return st


def documented_minimal_config(h, service):
    """The 'smallest useful configuration' of docs/agent.md, pointed at this test's paths."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "agent.md")
    with open(doc) as f:
        text = f.read()
    m = re.search(r"The smallest useful configuration:\n\n```yaml\n(.*?)```", text, re.S)
    if not m:
        fail("docs/agent.md has no 'smallest useful configuration' block")
    yaml = m.group(1)
    for old, new in (("http://127.0.0.1:9640", "http://127.0.0.1:%d" % h.port),
                     ("/var/lib/sawmill-agent", h.spool), ("/var/log/app/*.log", h.logs + "/*.log"),
                     ("service: payments", "service: %s" % service)):
        if old not in yaml:
            fail("the documented minimal configuration no longer contains %r:\n%s" % (old, yaml))
        yaml = yaml.replace(old, new)
    if "rate_limit" in yaml or "redact" in yaml:
        fail("the minimal configuration sets rate_limit/redact; this test is about the defaults")
    h.config = os.path.join(h.dir, "agent.yaml")
    with open(h.config, "w") as f:
        f.write(yaml)
    print("config (docs/agent.md):\n" + yaml, flush=True)


def scenario_defaults(h):
    rng = random.Random(13)
    n_lines = 50000
    counts = dict.fromkeys(LEVELS, 0)
    # A SHA-256 holding "4222222222222": 13 digits with a Visa prefix that pass Luhn (the Zeek
    # trap), a Go pseudo-version, epoch milliseconds; and one real test card number.
    sha = "3c65719e4b4222222222222b910879c" + "%033x" % rng.getrandbits(132)
    sha = sha[:64]
    special = ["INFO file extracted sha256=%s size=5120" % sha,
               "INFO go: downloading github.com/x/y v0.0.0-20190214190832-042adf3cf4a0",
               "INFO request ts_ms=1445680800428 done",
               "WARN paid with 4111 1111 1111 1111 exp 12/30"]
    path = os.path.join(h.logs, "app.log")
    with open(path, "w") as f:
        for n in range(n_lines - len(special)):
            level = rng.choices(LEVELS, (45, 45, 7, 3))[0]
            counts[level] += 1
            f.write("2026-01-01T00:00:%02d.%06dZ %s id=m-%06d payload=%08x\n" %
                    (n % 60, n % 1000000, level, n, rng.getrandbits(32)))
        for line in special:
            counts[line.split()[0]] += 1
            f.write(line + "\n")
    documented_minimal_config(h, "minimal")
    h.start_server()
    h.start_agent()
    h.wait_for("%d lines to arrive" % n_lines,
               lambda: total_arrived(h, "minimal") == n_lines or total_arrived(h, "minimal"),
               timeout=180)
    arrived = h.count_by_level("service=minimal")
    if arrived != {k: v for k, v in counts.items() if v}:
        fail("written %r, arrived %r" % (counts, arrived))
    print("ok: all %d existing lines arrived with the documented minimal config: %r" %
          (n_lines, arrived))
    hits = h.search(sha)["hits"]
    if len(hits) != 1 or sha not in hits[0]["message"] or "redacted" in hits[0].get("flags", []):
        fail("a search for the hash should find its line, unmasked: %r" % hits)
    for word in ("20190214190832-042adf3cf4a0", "ts_ms=1445680800428"):
        if len(h.search('"%s"' % word)["hits"]) != 1:
            fail("%s was not found as written" % word)
    card = h.search('"paid with"')["hits"]
    if (len(card) != 1 or card[0]["message"] != "WARN paid with [REDACTED] exp 12/30" or
            "redacted" not in card[0].get("flags", [])):
        fail("the card number should be masked and the line flagged: %r" % card)
    print("ok: the hash is found unmasked; the card number is masked")
    h.wait_for("the status to count every line",
               lambda: sum((h.status() or {}).get("lines_sent", {}).values()) == n_lines or
               h.status())
    st = h.status()
    dropped = sum(sum(v.values()) for v in st["lines_dropped"].values())
    if dropped or sum(st["lines_read"].values()) != n_lines:
        fail("the defaults dropped lines: %r" % st)
    if any("agent: dropped" in l for l in agent_log(h)):
        fail("a drop was logged although nothing was dropped")
    st = check_shutdown_line(h)
    if sum(st["lines_sent"].values()) != n_lines or st["spool_lines"] != 0:
        fail("after shutdown: %r" % st)


def metric(h, name, labels):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % h.metrics_port,
                                  timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def scenario_rate_limit(h):
    rng = random.Random(17)
    plan = ["DEBUG"] * 2500 + ["INFO"] * 2500 + ["WARN"] * 700 + ["ERROR"] * 300
    rng.shuffle(plan)
    path = os.path.join(h.logs, "app.log")
    with open(path, "w") as f:
        for n, level in enumerate(plan):
            f.write("%s id=r-%06d payload=%08x\n" % (level, n, rng.getrandbits(32)))
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "service": "limited"}],
                   rate_limit={"lines_per_sec": 500, "burst": 500})
    h.start_server()
    h.start_agent()
    h.wait_for("every line to be read",
               lambda: sum((h.status() or {}).get("lines_read", {}).values()) == len(plan) or
               h.status())
    h.wait_for("WARN and ERROR to arrive", lambda: (lambda c: c.get("WARN") == 700 and
                                                    c.get("ERROR") == 300 or c)(
        h.count_by_level("service=limited")))
    h.wait_for("a drop line in the log",
               lambda: any("agent: dropped" in l for l in agent_log(h)) or "none yet")
    st = h.status()
    by_metric = metric(h, "sawmill_agent_lines_dropped_total", {"reason": "rate_limit"})
    by_status = sum(v["rate_limit"] for v in st["lines_dropped"].values())
    if by_status < 1000 or by_metric != by_status:
        fail("rate_limit drops: status %d, metric %d" % (by_status, by_metric))
    arrived = h.count_by_level("service=limited")
    low = arrived.get("DEBUG", 0) + arrived.get("INFO", 0)
    if low + by_status != 5000:
        fail("DEBUG+INFO: %d arrived + %d dropped != 5000" % (low, by_status))
    print("ok: %d DEBUG/INFO lines dropped by the rate limit (metric and status agree), "
          "WARN/ERROR complete" % by_status)
    # Lines still in the spool at shutdown: the server goes away, 300 more WARN lines come.
    h.stop_server()
    with open(path, "a") as f:
        for n in range(300):
            f.write("WARN id=late-%03d written while the server is down\n" % n)
    h.wait_for("300 lines in the spool",
               lambda: (h.status() or {}).get("spool_lines") == 300 or h.status())
    st = check_shutdown_line(h)
    if st["spool_lines"] != 300 or sum(st["lines_read"].values()) != len(plan) + 300:
        fail("after shutdown: %r" % st)
    drops = [DROP_RE.search(l) for l in agent_log(h) if "agent: dropped" in l]
    if not drops or not all(drops):
        fail("drop lines not in the documented form: %r" %
             [l for l in agent_log(h) if "agent: dropped" in l])
    for m in drops:
        why = m.group(4)
        if ("over the rate limit of 500 lines/s, burst 500" not in why or
                "rate_limit.lines_per_sec" not in why or "DEBUG" not in why):
            fail("drop line does not say why and which setting: %r" % m.group(0))
    logged = sum(int(m.group(2)) for m in drops)
    if logged != by_status:
        fail("the drop lines add up to %d, the metric says %d" % (logged, by_status))
    times = [time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S")) for m in drops]
    # At most once per 10 s; the last line may be the one flushed at shutdown.
    for a, b in zip(times[:-2], times[1:-1]):
        if b - a < 9:
            fail("drop lines %d s apart: %r" % (b - a, [m.group(0) for m in drops]))
    print("ok: %d drop line(s) adding up to %d: %s" % (len(drops), logged, drops[0].group(0)))


def scenario_wiped_spool(h):
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "service": "wiped",
                     "start_at": "beginning"}],
                   agent_id="web-fixed", batch={"max_lines": 50, "max_wait": "200ms"})
    h.start_server()
    written = {}
    for life in range(2):
        h.start_agent()
        path = os.path.join(h.logs, "life%d.log" % life)
        with open(path, "w") as f:
            for n in range(400):
                line_id = "life%d-%06d" % (life, n)
                f.write("2026-01-01T00:00:00Z ERROR id=%s\n" % line_id)
                written[line_id] = "ERROR"
        h.wait_for("%d lines to arrive" % len(written),
                   lambda: total_arrived(h, "wiped") >= len(written) or total_arrived(h, "wiped"))
        h.stop_agent()
        # Lost with the container: the spool (checkpoint, batch numbers) and the file it read.
        shutil.rmtree(h.spool)
        os.unlink(path)
        print("life %d: %d lines shipped; spool wiped" % (life, len(written)), flush=True)
    time.sleep(1)
    check_exactly_once(h, "wiped", written)


# Real lines (verbatim) from shared/data/real: log4j without a zone (loghub_2k/Zookeeper, lines
# 1-4) and PostgreSQL/PgBouncer lines with a zone abbreviation (pgbadger_postgres/pg_vacuums.log
# line 1, pgbouncer.1.21.log line 1).
ZOOKEEPER_LINES = [
    "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
    "2015-07-29 19:04:12,394 - INFO  [/10.10.34.11:3888:QuorumCnxManager$Listener@493] - Received connection request /10.10.34.11:45307",
    "2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
    "2015-07-29 19:04:29,079 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue",
]
ZONED_LINES = {
    "2024-06-27 00:00:07 CEST [58151]: [1-1] user=,db=,host=,app= LOG:  automatic analyze of table \"testdb.sales.tab_shop_stats\"":
        "2024-06-26T22:00:07.000000000Z",
    "2023-12-19 03:06:13.586 CET [10384] LOG C-0x7f3bd6c47f40: retail/game_api@192.168.0.80:38296 closing because: client close request (age=5s)":
        "2023-12-19T02:06:13.586000000Z",
}


def scenario_timezone(h):
    """An input's `timezone:` is the zone of times written without one; a written zone wins."""
    for name, lines in (("zk-berlin.log", ZOOKEEPER_LINES), ("zk-utc.log", ZOOKEEPER_LINES),
                        ("pg.log", list(ZONED_LINES))):
        with open(os.path.join(h.logs, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    h.write_config([
        {"type": "file", "paths": [h.logs + "/zk-berlin.log"], "service": "zkberlin",
         "timezone": "Europe/Berlin"},
        {"type": "file", "paths": [h.logs + "/zk-utc.log"], "service": "zkutc"},
        {"type": "file", "paths": [h.logs + "/pg.log"], "service": "pg",
         "timezone": "America/New_York"},
    ])
    h.start_server()
    h.start_agent()
    for service, n in (("zkberlin", 4), ("zkutc", 4), ("pg", 2)):
        h.wait_for(service, lambda: total_arrived(h, service) == n or total_arrived(h, service))

    def times(service):
        return {x["message"]: x["ts"] for x in h.search("service=%s" % service)["hits"]}

    berlin, utc = times("zkberlin"), times("zkutc")
    for line in ZOOKEEPER_LINES:
        # July: Berlin is UTC+2, so the instant is two hours before the digits read as UTC.
        written = line[:10] + "T" + line[11:19] + "." + line[20:23] + "000000Z"
        if utc.get(line) != written:
            fail("without a timezone the line should be read as UTC %s: %r" % (written, utc.get(line)))
        hour = int(line[11:13]) - 2
        expected = written[:11] + "%02d" % hour + written[13:]
        if berlin.get(line) != expected:
            fail("timezone: Europe/Berlin should give %s for %r, got %r" %
                 (expected, line[:23], berlin.get(line)))
    print("ok: log4j lines read in Europe/Berlin are 2 h earlier than read as UTC")
    pg = times("pg")
    for line, expected in ZONED_LINES.items():
        if pg.get(line) != expected:
            fail("a written zone must win over timezone: %r should be %s, got %r" %
                 (line[:30], expected, pg.get(line)))
    print("ok: CET/CEST written in the line win over timezone: America/New_York")
    # A zone the database does not know stops the agent at start, naming the key and the value.
    h.stop_agent()
    h.write_config([{"type": "file", "paths": [h.logs + "/zk-utc.log"],
                     "timezone": "Europe/Berln"}])
    out = subprocess.run([h.sawmill, "agent", "--config", h.config, "--check"],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode == 0 or "inputs[0].timezone: time zone 'Europe/Berln'" not in text:
        fail("an unknown zone should be a configuration error naming the key: %d %r" %
             (out.returncode, text))
    print("ok: unknown zone refused: " + text.strip().splitlines()[-1])


def scenario_containers(h):
    """Kubernetes container logs: CRI files (partial lines joined, rotation) and Docker
    json-file, with the runtime's time, the stream and the pod's names as fields."""
    cid = "0123456789abcdef" * 4
    cri_name = "checkout-5c9d_shop_app-%s.log" % cid
    docker_name = "web-1_default_nginx-%s.log" % cid
    cri = os.path.join(h.logs, cri_name)
    with open(cri, "w") as f:
        f.write("2026-12-04T10:00:00.000000001Z stdout F cri-1 started\n"
                "2026-12-04T10:00:01Z stderr P cri-2 a long line \n"
                "2026-12-04T10:00:01.5Z stderr P split by the runtime \n"
                "2026-12-04T10:00:02Z stderr F in three parts\n"
                '2026-12-04T10:00:03Z stdout F {"level":"warn","msg":"cri-3 json","ts":"2026-12-04T09:59:59Z"}\n')
    with open(os.path.join(h.logs, docker_name), "w") as f:
        f.write('{"log":"docker-1 GET / 200\\n","stream":"stdout","time":"2026-12-04T11:00:00Z"}\n'
                '{"log":"docker-2 first half ","stream":"stdout","time":"2026-12-04T11:00:01Z"}\n'
                '{"log":"second half\\n","stream":"stdout","time":"2026-12-04T11:00:01Z"}\n')
    h.write_config([{"type": "file", "paths": [h.logs + "/*.log"], "format": "container"}])
    out = subprocess.run([h.sawmill, "agent", "--config", h.config, "--check"],
                         capture_output=True, text=True)
    if out.returncode != 0 or cri not in out.stdout or 'format: "container"' not in out.stdout:
        fail("agent --check should print the effective format and the matched files: %r"
             % out.stdout)
    print("ok: agent --check lists %s" % cri_name)
    h.start_server()
    h.start_agent()
    h.wait_for("cri lines", lambda: total_arrived(h, "app") == 3 or None)
    h.wait_for("docker lines", lambda: total_arrived(h, "nginx") == 2 or None)
    hits = {x["message"]: x for x in h.search("service=app")["hits"]}
    joined = "cri-2 a long line split by the runtime in three parts"
    if joined not in hits:
        fail("CRI partial lines should be joined into one record: %r" % sorted(hits))
    if hits[joined]["ts"] != "2026-12-04T10:00:01.000000000Z":
        fail("a joined line's time is its first part's: %r" % hits[joined]["ts"])
    fields = hits[joined].get("fields", {})
    expected = {"stream": "stderr", "k8s.namespace.name": "shop", "k8s.pod.name": "checkout-5c9d",
                "k8s.container.name": "app"}
    for key, value in expected.items():
        if fields.get(key) != value:
            fail("field %s should be %r: %r" % (key, value, fields))
    if hits["cri-1 started"]["ts"] != "2026-12-04T10:00:00.000000001Z":
        fail("a line without its own time takes the runtime's: %r" % hits["cri-1 started"]["ts"])
    j = hits.get("cri-3 json")
    if j is None or j["level"] != "WARN" or j["ts"] != "2026-12-04T09:59:59.000000000Z":
        fail("a JSON line's own level and time win over the runtime's: %r" % j)
    print("ok: CRI partial lines joined; runtime time, stream and pod names kept")
    docker = sorted(x["message"] for x in h.search("service=nginx")["hits"])
    if docker != ["docker-1 GET / 200", "docker-2 first half second half"]:
        fail("docker json-file lines: %r" % docker)
    # Rotation as the kubelet does it: the file is renamed and a new one is written.
    os.rename(cri, cri + ".20261204-100005")
    with open(cri, "w") as f:
        f.write("2026-12-04T10:00:06Z stdout F cri-4 after rotation\n")
    h.wait_for("line after rotation", lambda: total_arrived(h, "app") == 4 or None)
    print("ok: docker json-file lines joined; the line after a rotation arrives")

def scenario_failover(h):
    """server: [A, B]: batches go to both in turn; with A down, B takes them all, and A is
    retried with backoff; every line arrives (each server has its own store here, so a batch
    whose answer was lost when A stopped may be stored by both: counted, not an error)."""
    port_b = free_port()
    data_b = os.path.join(h.dir, "data-b")
    out_b = open(os.path.join(h.dir, "server-b.log"), "a")
    server_b = subprocess.Popen([h.sawmill, "server", "--data", data_b, "--http",
                                 "127.0.0.1:%d" % port_b] + QUIET_DISK_WATERMARKS, stdout=out_b,
                                stderr=subprocess.STDOUT)
    try:
        h.start_server()
        url_a = "http://127.0.0.1:%d" % h.port
        url_b = "http://127.0.0.1:%d" % port_b
        h.write_config([{"type": "file", "paths": [h.logs + "/app.log"], "service": "fo"}],
                       server=[url_a, url_b], batch={"max_lines": 50, "max_wait": "100ms"})
        writer = Writer(os.path.join(h.logs, "app.log"), "fo", rate=400)
        writer.start()
        h.start_agent()

        def count(port):
            params = urllib.parse.urlencode({"q": "service=fo | count", "all_time": "1",
                                             "cache": "0"})
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/search?%s" % (port, params),
                                        timeout=30) as r:
                rows = json.loads(r.read())["rows"]
                return rows[0]["count"] if rows else 0

        h.wait_for("lines at both servers", lambda: count(h.port) > 100 and count(port_b) > 100)
        print("ok: round robin: A has %d lines, B has %d" % (count(h.port), count(port_b)))
        h.stop_server()
        before_b = count(port_b)
        written_before = len(writer.written)
        time.sleep(4)
        writer.stop()
        written = len(writer.written)
        # Everything written while A is down can only go to B.
        h.wait_for("B takes A's share",
                   lambda: count(port_b) >= before_b + (written - written_before))
        # Every line: A's (read after a restart) and B's together.
        h.start_server()

        def ids_at(port):
            params = urllib.parse.urlencode({"q": "service=fo", "all_time": "1", "cache": "0",
                                             "limit": "10000"})
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/search?%s" % (port, params),
                                        timeout=30) as r:
                return ids_of(x["message"] for x in json.loads(r.read())["hits"])

        h.wait_for("every line at A or B",
                   lambda: set(ids_at(h.port)) | set(ids_at(port_b)) == set(writer.written))
        a, b = ids_at(h.port), ids_at(port_b)
        both = set(a) & set(b)
        print("ok: %d lines written, all arrived: %d at A, %d at B, %d at both" %
              (written, len(a), len(b), len(both)))
        if len(both) > 100:
            fail("%d lines stored by both servers: more than the batches in flight at the stop" %
                 len(both))
        with open(os.path.join(h.dir, "agent.log"), errors="replace") as f:
            log = f.read()
        if "the others go on" not in log:
            fail("the agent should say that the other servers take the batches")
        print("ok: the agent said: " + [l for l in log.splitlines() if "the others go on" in l][0])
    finally:
        server_b.terminate()
        server_b.wait(timeout=30)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sawmill", required=True)
    parser.add_argument("scenario", choices=["outage", "sigkill", "files", "spool_full", "defaults",
                                             "rate_limit", "wiped_spool", "timezone",
                                             "containers", "failover"])
    args = parser.parse_args()
    h = Harness(os.path.abspath(args.sawmill), args.scenario)
    ok = False
    try:
        globals()["scenario_" + args.scenario](h)
        if h.agent is not None:
            h.stop_agent()
        ok = True
    finally:
        h.cleanup(ok)
    print("PASS " + args.scenario)


if __name__ == "__main__":
    main()
