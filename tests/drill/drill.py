#!/usr/bin/env python3
"""The incident drill: the failure timeline of a bad day, in small, on one machine.

Real processes only: one `sawmill server` whose data directory is a small file system of its
own (a tmpfs, or a loop-mounted ext4 image, so that it can really fill up), and several
`sawmill agent` processes, each tailing two files that generator threads of this script append
JSON lines to (a known mix of levels, every line with a unique sequence id `sid`, its chunk in
`trace_id`). The timeline:

  steady   every agent's files grow at the base rate
  burst    five times the base rate
  storm    base rate, plus 200 identical and 50 different searches at once over HTTP
  kill     five times the base rate; the server is killed with SIGKILL mid-burst and restarted
  disk     base rate; the server's file system is filled with a filler file, held full, then
           the filler is deleted
  drain    the generators stop; the agents ship what they hold

Then every line is accounted for by searching the server (per level and per id), and a table
is printed: lines written, read, dropped by the agents, acknowledged, stored, duplicated, lost;
ack and search latency, peak RSS per phase; time to recover after the kill and after the disk
was freed. Exit 0 when nothing was lost or duplicated and no WARN+ line was dropped, 1 when
something was (or the drill hung: lines never arrived), 2 when the drill could not run.

Usage: drill.py --sawmill build/sawmill [--mode full|quick|smoke] [--json OUT] [--markdown OUT]
Needs root for the mount (tmpfs; falls back to a loop-mounted ext4 image).
"""

import argparse
import collections
import ctypes
import datetime
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2e_lib import Server, free_port, metric_value, request  # noqa: E402

LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
WARN_PLUS = ("WARN", "ERROR", "FATAL")
# The level mix of every 100 consecutive lines of a file pair (shuffled once per seed).
MIX = {"DEBUG": 30, "INFO": 50, "WARN": 12, "ERROR": 7, "FATAL": 1}

PROFILES = {
    # agents, base lines/s per agent, phase seconds, searches in the storm, file system size.
    "full": dict(agents=4, rate=250, burst=5, steady=60, burst_s=30, storm_s=30, kill_s=40,
                 kill_at=8, kills=3, disk_s=60, disk_hold=25, identical=200, different=50,
                 fs_mb=512, chunk=20000, small_spool="64KiB", probe_every=1.0),
    "quick": dict(agents=3, rate=150, burst=5, steady=20, burst_s=15, storm_s=15, kill_s=25,
                  kill_at=5, kills=2, disk_s=40, disk_hold=25, identical=200, different=50,
                  fs_mb=256, chunk=10000, small_spool="64KiB", probe_every=0.5),
    "smoke": dict(agents=3, rate=60, burst=5, steady=6, burst_s=6, storm_s=8, kill_s=14,
                  kill_at=3, kills=2, disk_s=18, disk_hold=8, identical=100, different=25,
                  fs_mb=128, chunk=5000, small_spool="64KiB", probe_every=0.5),
}

WORDS = ["payment", "checkout", "login", "timeout", "cache", "inventory", "shipping", "refund",
         "session", "database", "queue", "render"]
PHRASES = ["connection refused", "retry %d of 5", "took %d ms", "order %d placed",
           "user %d logged in", "disk latency %d ms"]


def now():
    return time.monotonic()


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def fmt_ms(value):
    if value is None:
        return "-"
    return "%.0f" % value if value >= 10 else "%.1f" % value


def fmt_s(value):
    return "-" if value is None else "%.1f s" % value


# ---------------------------------------------------------------- the file system that fills

class CannotRun(Exception):
    """The drill cannot run here (exit code 2), as opposed to a finding (exit code 1)."""


def die_with_parent():
    """In the child before exec: SIGKILL when the drill dies (prctl PR_SET_PDEATHSIG), so that a
    killed drill leaves no server or agent behind. The Popen calls run on the main thread,
    whose exit is what the kernel watches."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

class SmallDisk:
    """A file system of its own for the server's data directory, so that filling it affects
    nothing else: tmpfs first, a loop-mounted ext4 image if tmpfs cannot be mounted."""

    def __init__(self, path, size_mb, method):
        self.path = path
        self.image = None
        self.kind = None
        os.makedirs(path, exist_ok=True)
        errors = []
        if method in ("auto", "tmpfs"):
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mb, "tmpfs", path],
                               capture_output=True, text=True)
            if r.returncode == 0:
                self.kind = "tmpfs %d MiB" % size_mb
                return
            errors.append("mount -t tmpfs: " + (r.stderr.strip() or "exit %d" % r.returncode))
        if method in ("auto", "loop"):
            self.image = path + ".img"
            try:
                with open(self.image, "wb") as f:
                    f.truncate(size_mb << 20)
                r = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise OSError(r.stderr.strip() or "mkfs.ext4 exit %d" % r.returncode)
                r = subprocess.run(["mount", "-o", "loop", self.image, path],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise OSError(r.stderr.strip() or "exit %d" % r.returncode)
                self.kind = "loop-mounted ext4 %d MiB" % size_mb
                return
            except OSError as e:
                errors.append("loop ext4: %s" % e)
                os.unlink(self.image)
                self.image = None
        raise CannotRun("cannot mount a small file system for the disk-full phase (%s); "
                               "run the drill as root, or pass --skip-disk" % "; ".join(errors))

    def free_bytes(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, filler):
        """Appends zeros to "filler" until the file system says ENOSPC; returns bytes added."""
        added = 0
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for size in (1 << 20, 64 << 10, 4 << 10, 512):
                block = b"\0" * size
                while True:
                    try:
                        n = os.write(fd, block)
                    except OSError as e:
                        if e.errno in (errno.ENOSPC, errno.EDQUOT):
                            break
                        raise
                    added += n
                    if n < size:
                        break
            try:
                os.fsync(fd)
            except OSError:
                pass
        finally:
            os.close(fd)
        return added

    def unmount(self):
        if self.kind is None:
            return
        for _ in range(20):
            if subprocess.run(["umount", self.path], capture_output=True).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", self.path], capture_output=True)
        self.kind = None
        if self.image:
            try:
                os.unlink(self.image)
            except OSError:
                pass


# ---------------------------------------------------------------- generators and agents

def reap_stale_mounts():
    """Unmounts the file systems of earlier drills that were killed (SIGKILL leaves no chance
    to clean up): a mount point <root>/fs whose <root>/drill.pid names no live process."""
    try:
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
    except OSError:
        return
    for point in points:
        root = os.path.dirname(point)
        if os.path.basename(point) != "fs" or \
                not os.path.basename(root).startswith("sawmill_drill_"):
            continue
        try:
            with open(os.path.join(root, "drill.pid")) as f:
                os.kill(int(f.read()), 0)
            continue  # its drill is still running
        except (OSError, ValueError):
            pass
        if subprocess.run(["umount", point], capture_output=True).returncode == 0:
            print("unmounted %s, left by a drill that was killed" % point)
            shutil.rmtree(root, ignore_errors=True)
            try:
                os.unlink(point + ".img")
            except OSError:
                pass


class Generator:
    """Lines of one agent: two files written alternately, unique sequence ids, a known mix."""

    def __init__(self, index, logdir, seed, chunk):
        self.index = index
        self.name = "a%d" % index
        self.files = [open(os.path.join(logdir, name), "a") for name in ("app.log", "worker.log")]
        self.rng = random.Random(seed * 1000 + index)
        self.pattern = [lvl for lvl, n in MIX.items() for _ in range(n)]
        self.rng.shuffle(self.pattern)
        self.chunk = chunk
        self.n = 0
        self.owed = 0.0
        self.by_level = collections.Counter()
        self.by_chunk_level = collections.Counter()
        self.warn_ids = collections.defaultdict(set)  # chunk -> sids of WARN+ lines

    def chunk_of(self, n):
        return "%s-c%04d" % (self.name, n // self.chunk)

    def write(self, count):
        rng = self.rng
        pending = ([], [])
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        for _ in range(count):
            n = self.n
            level = self.pattern[n % len(self.pattern)]
            sid = "%s-%08d" % (self.name, n)
            chunk = self.chunk_of(n)
            phrase = rng.choice(PHRASES)
            if "%d" in phrase:
                phrase = phrase % rng.randrange(1000)
            line = ('{"ts":"%sZ","level":"%s","msg":"%s %s %s","sid":"%s","trace_id":"%s",'
                    '"user_id":"u%d","shard":%d}\n' %
                    (stamp, level, sid, rng.choice(WORDS), phrase, sid, chunk, rng.randrange(500),
                     rng.randrange(16)))
            pending[n % 2].append(line)
            self.by_level[level] += 1
            self.by_chunk_level[(chunk, level)] += 1
            if level in WARN_PLUS:
                self.warn_ids[chunk].add(sid)
            self.n += 1
        for f, lines in zip(self.files, pending):
            if lines:
                f.write("".join(lines))
                f.flush()

    def close(self):
        for f in self.files:
            f.close()


class DrillServer(Server):
    """e2e_lib's Server, started so that it dies with the drill, its log outside its disk. Ready
    as e2e_lib's is (Server.wait_ready): once its own process logged that it listens on its
    port, not on a 200 from /readyz alone, which another server on that port could answer."""

    def __init__(self, binary, data_dir, log_path, port=None):
        # The drill's disk is its own small tmpfs, filled on purpose: the server keeps its
        # default watermarks (early warm moves, shedding), which the disk phase drills.
        super().__init__(binary, data_dir=data_dir, port=port, disk_watermarks=None)
        self.log_path = log_path
        self.popen_kwargs = {"preexec_fn": die_with_parent}

    def start(self, timeout=300):
        return super().start(timeout)


class Agent:
    def __init__(self, binary, root, index, server_url, spool_bytes):
        self.binary = binary
        self.name = "a%d" % index
        self.dir = os.path.join(root, "agents", self.name)
        self.logs = os.path.join(self.dir, "logs")
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.logs)
        self.metrics_port = free_port()
        self.spool_bytes = spool_bytes
        self.proc = None
        config = {
            "server": server_url,
            "agent_id": "drill-" + self.name,
            "host": "drill-" + self.name,
            "spool": {"path": self.spool, "max_bytes": spool_bytes},
            # Off (the default, said explicitly): the 5x burst must reach the server, not be
            # shed at the agent.
            "rate_limit": {"lines_per_sec": 0},
            # A fleet operator's setting: retry within 5 s of the server coming back.
            "retry": {"max_backoff": "5s", "request_timeout": "30s"},
            "status": {"metrics_listen": "127.0.0.1:%d" % self.metrics_port},
            "inputs": [{"type": "file", "paths": [self.logs + "/*.log"], "service": "drill"}],
        }
        self.config = os.path.join(self.dir, "agent.yaml")
        with open(self.config, "w") as f:
            json.dump(config, f, indent=1)  # JSON is YAML

    def start(self):
        self.out = open(os.path.join(self.dir, "agent.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "agent", "--config", self.config],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)

    def metrics(self):
        status, _, body = request("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5)
        if status != 200:
            raise RuntimeError("agent %s /metrics: %d" % (self.name, status))
        return body.decode()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n=15):
        try:
            with open(os.path.join(self.dir, "agent.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class AgentSnapshot:
    """The counters of one agent's /metrics that the drill reads."""

    def __init__(self, text):
        self.read = {lvl: metric_value(text, "sawmill_agent_lines_read_total", level=lvl)
                     for lvl in LEVELS}
        self.sent = {lvl: metric_value(text, "sawmill_agent_lines_sent_total", level=lvl)
                     for lvl in LEVELS}
        self.dropped = {lvl: metric_value(text, "sawmill_agent_lines_dropped_total", level=lvl)
                        for lvl in LEVELS}
        self.dropped_by_reason = collections.Counter()
        for line in text.splitlines():
            if line.startswith("sawmill_agent_lines_dropped_total{"):
                value = float(line.rsplit(" ", 1)[1])
                if value:
                    level = line.split('level="', 1)[1].split('"', 1)[0]
                    reason = line.split('reason="', 1)[1].split('"', 1)[0]
                    self.dropped_by_reason[(level, reason)] += value
        self.spool_batches = metric_value(text, "sawmill_agent_spool_batches")
        self.spool_bytes = metric_value(text, "sawmill_agent_spool_bytes")
        self.paused = metric_value(text, "sawmill_agent_inputs_paused")
        self.buckets = {}
        for line in text.splitlines():
            if line.startswith("sawmill_agent_send_latency_seconds_bucket{"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                self.buckets[float("inf") if le == "+Inf" else float(le)] = \
                    float(line.rsplit(" ", 1)[1])

    def sent_total(self):
        return sum(self.sent.values())

    def read_total(self):
        return sum(self.read.values())


def histogram_quantile(before, after, q):
    """The q-quantile (0..1) of the observations between two cumulative bucket snapshots,
    interpolated inside the bucket as Prometheus' histogram_quantile does (seconds)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0) for b in bounds]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None, 0
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in zip(bounds, counts):
        if count >= rank:
            if bound == float("inf"):
                return prev_bound, int(total)
            if count == prev_count:
                return bound, int(total)
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count), \
                int(total)
        prev_bound, prev_count = bound, count
    return bounds[-1], int(total)


# ---------------------------------------------------------------- the drill

class Drill:
    def __init__(self, args, profile):
        self.args = args
        self.p = profile
        self.binary = os.path.abspath(args.sawmill)
        self.root = tempfile.mkdtemp(prefix="sawmill_drill_", dir=args.workdir)
        with open(os.path.join(self.root, "drill.pid"), "w") as f:
            f.write(str(os.getpid()))
        self.t0 = now()
        self.phase = "start"
        self.mult = 0.0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.events = []
        self.findings = []       # defects observed (printed, and they fail the drill)
        self.notes = []          # defects observed that do not fail the drill (printed)
        self.observations = {}   # figures that are not pass/fail
        self.searches = []       # (phase, kind, ms or None, status)
        self.rss = collections.defaultdict(int)   # phase -> max VmRSS kB
        self.hwm_kb = 0
        self.phase_times = collections.OrderedDict()  # phase -> [start, end]
        self.phase_written = collections.Counter()
        self.snapshots = {}      # phase -> (start buckets, end buckets)
        self.disk = None
        self.server = None
        self.agents = []
        self.generators = []
        self.threads = []

    def log(self, message):
        line = "[%6.1fs %-6s] %s" % (now() - self.t0, self.phase, message)
        self.events.append(line)
        print(line, flush=True)

    def finding(self, message):
        self.findings.append(message)
        self.log("FINDING: " + message)

    # -- server
    def start_server(self):
        server = DrillServer(self.binary, self.data_dir, os.path.join(self.root, "server.log"),
                             port=self.server.port if self.server else None)
        server.start(timeout=300)
        self.server = server
        return server

    def server_pid(self):
        s = self.server
        return s.proc.pid if s and s.proc and s.proc.poll() is None else None

    def read_proc_status(self, pid):
        out = {}
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        key, value = line.split(":", 1)
                        out[key] = int(value.split()[0])
        except OSError:
            pass
        return out

    # -- background threads
    def generator_loop(self):
        last = now()
        while not self.stop_flag.is_set():
            time.sleep(0.02)
            t = now()
            dt, last = t - last, t
            with self.lock:
                mult, phase = self.mult, self.phase
            for g in self.generators:
                g.owed += self.p["rate"] * mult * dt
                count = int(g.owed)
                if count:
                    g.owed -= count
                    g.write(count)
                    self.phase_written[phase] += count

    def sampler_loop(self):
        while not self.stop_flag.is_set():
            pid = self.server_pid()
            if pid:
                st = self.read_proc_status(pid)
                if st:
                    self.rss[self.phase] = max(self.rss[self.phase], st.get("VmRSS", 0))
                    self.hwm_kb = max(self.hwm_kb, st.get("VmHWM", 0))
            time.sleep(0.25)

    def prober_loop(self):
        """A user looking at the incident: one search at a time, no cache, all phases."""
        queries = ["level>=ERROR", "service=drill | count by level", "timeout",
                   "service=drill host=drill-a0 level=WARN", "sid=a1-00000042"]
        i = 0
        while not self.stop_flag.is_set():
            q = queries[i % len(queries)]
            i += 1
            self.timed_search(q, "probe", {"since": "15m", "cache": "0"}, timeout=60)
            self.stop_flag.wait(self.p["probe_every"])

    def timed_search(self, q, kind, params, user=None, timeout=120):
        phase = self.phase
        params = dict(params)
        params["q"] = q
        url = self.server.url + "/api/v1/search?" + urllib.parse.urlencode(params)
        headers = {"X-Sawmill-User": user} if user else {}
        start = now()
        try:
            status, _, body = request(url, headers=headers, timeout=timeout)
            if status == 200 and json.loads(body).get("partial"):
                status = "partial"
        except (OSError, ValueError) as e:  # ValueError: an answer that is not JSON
            status = type(e).__name__
        ms = (now() - start) * 1000
        with self.lock:
            self.searches.append((phase, kind, ms, status))
        return status

    def start_thread(self, target):
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self.threads.append(t)

    # -- helpers
    def snapshots_now(self):
        out = []
        for a in self.agents:
            try:
                out.append(AgentSnapshot(a.metrics()))
            except (OSError, RuntimeError) as e:
                raise RuntimeError("agent %s does not answer /metrics (%s); its log:\n%s" %
                                   (a.name, e, a.log_tail()))
        return out

    def summed_buckets(self):
        total = collections.Counter()
        for s in self.snapshots_now():
            total.update(s.buckets)
        return dict(total)

    def begin(self, phase, mult):
        buckets = self.summed_buckets()
        with self.lock:
            if self.phase in self.phase_times:
                self.phase_times[self.phase][1] = now()
                self.snapshots[self.phase] = (self.snapshots[self.phase][0], buckets)
            self.phase = phase
            self.mult = mult
            self.phase_times[phase] = [now(), None]
            self.snapshots[phase] = (buckets, None)
        self.log("begin (x%g)" % mult)

    def check_processes(self):
        if self.server.proc.poll() is not None:
            self.finding("the server exited by itself with %s during %s; restarted" %
                         (self.server.proc.returncode, self.phase))
            self.start_server()
        for a in self.agents:
            if a.proc.poll() is not None:
                raise RuntimeError("agent %s exited with %d; its log:\n%s" %
                                   (a.name, a.proc.returncode, a.log_tail()))

    def sleep_until(self, deadline):
        while now() < deadline:
            self.check_processes()
            time.sleep(min(0.5, max(0.0, deadline - now())))

    def wait_agents_resumed(self, baseline, since, timeout):
        """Seconds from "since" until every agent's acknowledged-lines counter passed its
        baseline (None: not within "timeout" seconds from now)."""
        start = now()
        pending = set(range(len(self.agents)))
        while pending and now() - start < timeout:
            snaps = self.snapshots_now()
            pending = {i for i in pending if snaps[i].sent_total() <= baseline[i]}
            if pending:
                time.sleep(0.1)
        return None if pending else now() - since

    def probe_ingest(self, timeout=10):
        """A batch of 200 lines (about 20 KiB, more than a page: a tiny batch can still fit in
        the slack of the WAL file's last page on a full disk), service drill-probe."""
        body = "".join(json.dumps({"level": "INFO", "service": "drill-probe",
                                   "msg": "drill probe %d %s" % (i, "x" * 64)}) + "\n"
                       for i in range(200))
        try:
            status, _, answer = self.server.ingest(body, timeout=timeout)
            return status, answer.decode(errors="replace")[:200]
        except OSError as e:
            return type(e).__name__, str(e)[:200]

    def wal_files(self):
        wal = os.path.join(self.data_dir, "wal")
        try:
            return len(os.listdir(wal))
        except OSError:
            return None

    # -- phases
    def run(self):
        p = self.p
        mount = os.path.join(self.root, "fs")
        if self.args.skip_disk:
            os.makedirs(mount)
        else:
            self.disk = SmallDisk(mount, p["fs_mb"], self.args.disk)
            self.log("server data on a %s at %s" % (self.disk.kind, mount))
        self.data_dir = os.path.join(mount, "sawmill")
        self.start_server()
        self.log("server up on %s (pid %d)" % (self.server.url, self.server.proc.pid))
        for i in range(p["agents"]):
            # Agent a0 has a small spool, so the outages make it drop by priority.
            spool = p["small_spool"] if i == 0 else "1GiB"
            agent = Agent(self.binary, self.root, i, self.server.url, spool)
            agent.start()
            self.agents.append(agent)
            self.generators.append(Generator(i, agent.logs, self.args.seed, p["chunk"]))
        deadline = now() + 30
        while True:
            try:
                self.snapshots_now()
                break
            except RuntimeError:
                if now() > deadline:
                    raise
                time.sleep(0.2)
        self.log("%d agents up (spools: %s)" %
                 (len(self.agents), ", ".join(a.spool_bytes for a in self.agents)))
        self.start_thread(self.generator_loop)
        self.start_thread(self.sampler_loop)
        self.start_thread(self.prober_loop)

        self.begin("steady", 1)
        self.sleep_until(now() + p["steady"])

        self.begin("burst", p["burst"])
        self.sleep_until(now() + p["burst_s"])

        self.begin("storm", 1)
        end = now() + p["storm_s"]
        self.sleep_until(now() + min(3, p["storm_s"] / 4))
        self.storm()
        self.sleep_until(end)

        self.begin("kill", p["burst"])
        end = now() + p["kill_s"]
        for _ in range(p["kills"]):
            self.sleep_until(now() + p["kill_at"])
            self.kill_and_restart()
        self.sleep_until(end)

        self.begin("disk", 1)
        end = now() + p["disk_s"]
        if self.disk:
            self.sleep_until(now() + 3)
            self.disk_full()
        else:
            self.log("disk phase NOT RUN (--skip-disk): base rate only")
            self.observations["disk"] = "not run (--skip-disk)"
        self.sleep_until(end)

        self.begin("drain", 0)
        self.drain()
        self.begin("verify", 0)
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=120)
        self.verify()
        self.phase_times["verify"][1] = now()

    def storm(self):
        p = self.p
        identical = ("service=drill level>=WARN | count by bucket(10s), host", {"since": "15m"})
        different = []
        for i in range(p["different"]):
            a = i % p["agents"]
            choices = [
                ("service=drill host=drill-a%d level=ERROR" % a, {}),
                ("%s" % WORDS[i % len(WORDS)], {}),
                ('"connection refused" host=drill-a%d' % a, {}),
                ("sid=a%d-%08d" % (a, 37 * i), {}),
                ("user_id=u%d" % (7 * i), {}),
                ("service=drill | count by host, level", {"limit": str(100 + i)}),
                ('message~"retry [0-%d] of 5"' % (i % 10), {}),
                ("level>=WARN | top %d user_id" % (3 + i), {}),
                ("trace_id=a%d-c0000 | count by level" % a, {"limit": str(200 + i)}),
                ("shard=%d level=INFO" % (i % 16), {}),
            ]
            q, extra = choices[i % len(choices)]
            # Ten shapes of query; each search also has its own time range, so no two share
            # a cache entry or a single flight.
            params = {"since": "%dm" % (15 + i), "limit": "100"}
            params.update(extra)
            different.append((q, params))
        assert len({(q, tuple(sorted(ps.items()))) for q, ps in different}) == p["different"], \
            "the storm's different searches are not all different"
        jobs = [(identical[0], identical[1], "storm-identical", "viewer-%d" % i)
                for i in range(p["identical"])]
        jobs += [(q, ps, "storm-different", "analyst-%d" % i) for i, (q, ps) in enumerate(different)]
        random.Random(self.args.seed).shuffle(jobs)
        barrier = threading.Barrier(len(jobs) + 1)

        def one(job):
            barrier.wait()
            self.timed_search(job[0], job[2], job[1], user=job[3], timeout=180)

        threads = [threading.Thread(target=one, args=(j,), daemon=True) for j in jobs]
        for t in threads:
            t.start()
        start = now()
        barrier.wait()
        self.log("storm: %d identical + %d different searches sent at once" %
                 (p["identical"], p["different"]))
        for t in threads:
            t.join(timeout=240)
        self.log("storm answered in %.1f s" % (now() - start))

    def wait_wal_growth(self, timeout=3.0):
        """Returns as soon as a WAL file grew (a batch is being made durable and its answer
        has not reached its agent yet: the moment where a kill can leave a batch stored but
        unacknowledged), or after "timeout" seconds. False when no growth was seen."""
        wal = os.path.join(self.data_dir, "wal")
        interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0002)  # the other threads must not hold the GIL for 5 ms
        try:
            deadline = now() + timeout
            sizes = None
            while now() < deadline:
                try:
                    current = {}
                    for name in os.listdir(wal):
                        current[name] = os.stat(os.path.join(wal, name)).st_size
                except OSError:
                    continue
                if sizes is not None and any(n > sizes.get(k, 0) for k, n in current.items()):
                    return True
                sizes = current
            return False
        finally:
            sys.setswitchinterval(interval)

    def kill_and_restart(self):
        pid = self.server.proc.pid
        st = self.read_proc_status(pid)
        self.hwm_kb = max(self.hwm_kb, st.get("VmHWM", 0))
        grew = self.wait_wal_growth()
        t_kill = now()
        self.server.kill9()
        self.log("SIGKILL server pid %d mid-burst, %s" %
                 (pid, "just after its WAL grew" if grew else "(the WAL did not grow in 3 s)"))
        time.sleep(0.2)  # nothing can be acknowledged now: the baseline of "resumed"
        baseline = [s.sent_total() for s in self.snapshots_now()]
        if self.args.down > 0.2:
            self.log("server down for %.0f s" % self.args.down)
            time.sleep(self.args.down - 0.2)
        self.start_server()
        ready = now() - t_kill
        self.log("restarted: /readyz 200 after %.1f s (pid %d)" % (ready, self.server.proc.pid))
        resumed = self.wait_agents_resumed(baseline, t_kill, timeout=120)
        if resumed is None:
            self.finding("after the SIGKILL, not every agent shipped again within 120 s")
        self.observations.setdefault("kill_ready_s", []).append(ready)
        self.observations.setdefault("kill_resumed_s", []).append(resumed)
        self.log("every agent shipping again %s after the kill" % fmt_s(resumed))

    def disk_full(self):
        p = self.p
        filler = os.path.join(os.path.dirname(self.data_dir), "filler")
        wal_before = self.wal_files()
        free_before = self.disk.free_bytes()
        added = self.disk.fill(filler)
        t_full = now()
        self.log("filled the file system: %d MiB were free, filler %d MiB, %d bytes free now; "
                 "%s WAL files" % (free_before >> 20, added >> 20, self.disk.free_bytes(),
                                   wal_before))
        refused = None
        statuses = collections.Counter()
        readyz = collections.Counter()
        max_spooled = 0
        topped_up = 0
        spool_peak = [0] * len(self.agents)
        drops_warn_before = self.warn_plus_dropped()
        baseline = None
        # Held full for disk_hold seconds from the first refusal (at most 60 s waiting for one).
        while (now() - t_full < 60) if refused is None else \
                (now() - t_full - refused < p["disk_hold"]):
            # Keep it full: the server frees space by itself (a flush deletes WAL files, a
            # compaction its input segments, a refused write is cut back).
            topped_up += self.disk.fill(filler)
            status, answer = self.probe_ingest()
            statuses[str(status)] += 1
            if status != 200 and refused is None:
                refused = now() - t_full
                self.log("ingest refused %.1f s after the fill: %s %s" % (refused, status, answer))
            try:
                code, _, body = request(self.server.url + "/readyz", timeout=5)
                try:
                    said = json.loads(body).get("status", "")
                except ValueError:
                    said = body.decode(errors="replace").strip()[:80]
                readyz["%d %s" % (code, said)] += 1
            except OSError as e:
                readyz[type(e).__name__] += 1
            snaps = self.snapshots_now()
            max_spooled = max(max_spooled, sum(s.spool_batches for s in snaps))
            spool_peak = [max(a, s.spool_bytes) for a, s in zip(spool_peak, snaps)]
            self.check_processes()
            time.sleep(0.5)
        # Every agent's counter now: anything acknowledged after the filler is gone is "resumed".
        baseline = [s.sent_total() for s in self.snapshots_now()]
        wal_full = self.wal_files()
        os.unlink(filler)
        t_free = now()
        self.log("filler deleted: %d bytes free; %s WAL files after %.0f s full; the server freed "
                 "%d KiB meanwhile (taken by the filler again)" %
                 (self.disk.free_bytes(), wal_full, t_free - t_full, topped_up >> 10))
        accepted = None
        ready_again = None
        while now() - t_free < 120 and (accepted is None or ready_again is None):
            if accepted is None:
                status, _ = self.probe_ingest()
                if status == 200:
                    accepted = now() - t_free
            if ready_again is None:
                try:
                    if request(self.server.url + "/readyz", timeout=5)[0] == 200:
                        ready_again = now() - t_free
                except OSError:
                    pass
            time.sleep(0.1)
        resumed = self.wait_agents_resumed(baseline, t_free, timeout=120)
        self.observations.update({
            "disk_refused_after_s": refused,
            "disk_probe_statuses": dict(statuses),
            "disk_readyz": dict(readyz),
            "disk_wal_files": [wal_before, wal_full, self.wal_files()],
            "disk_max_spooled_batches": max_spooled,
            "disk_topped_up_bytes": topped_up,
            "disk_spool_peak_bytes": spool_peak,
            "disk_accepted_s": accepted,
            "disk_ready_s": ready_again,
            "disk_resumed_s": resumed,
        })
        self.log("writes accepted again %s after the filler was deleted; /readyz 200 %s; "
                 "every agent shipping %s" % (fmt_s(accepted), fmt_s(ready_again), fmt_s(resumed)))
        if refused is None:
            self.finding("ingest was never refused while the disk was full (%s)" % dict(statuses))
        if accepted is None:
            self.finding("ingest still refused 120 s after the disk was freed")
        if resumed is None:
            self.finding("not every agent shipped again within 120 s of the disk being freed")
        if not any(not k.startswith("200") for k in readyz):
            self.notes.append("/readyz stayed 200 while the disk was full")
        if wal_full is not None and wal_before is not None and wal_full > wal_before + 2:
            self.notes.append("%d WAL files were created in %.0f s while the disk was full" %
                              (wal_full - wal_before, t_free - t_full))
        if self.warn_plus_dropped() > drops_warn_before:
            self.finding("WARN+ lines were dropped while the disk was full")

    def warn_plus_dropped(self):
        return sum(s.dropped[lvl] for s in self.snapshots_now() for lvl in WARN_PLUS)

    def drain(self):
        with self.lock:
            self.mult = 0
        time.sleep(0.1)
        written = [g.n for g in self.generators]
        for g in self.generators:
            g.close()
        self.log("generators stopped: %d lines written" % sum(written))
        deadline = now() + self.args.drain_timeout
        stable = 0
        snaps = []
        while now() < deadline:
            self.check_processes()
            snaps = self.snapshots_now()
            done = all(s.read_total() == written[i] and s.spool_batches == 0 and
                       s.sent_total() + sum(s.dropped.values()) == s.read_total()
                       for i, s in enumerate(snaps))
            stable = stable + 1 if done else 0
            if stable >= 3:
                break
            time.sleep(0.5)
        else:
            detail = ["%s: read %d of %d, sent %d, dropped %d, %d batches spooled" %
                      (a.name, s.read_total(), written[i], s.sent_total(),
                       sum(s.dropped.values()), s.spool_batches)
                      for i, (a, s) in enumerate(zip(self.agents, snaps))]
            self.finding("the agents did not finish within %d s: %s" %
                         (self.args.drain_timeout, "; ".join(detail)))
        self.log("agents drained")
        self.final_agents = self.snapshots_now()

    def search_json(self, q, **params):
        params.setdefault("all_time", "1")
        params["cache"] = "0"
        params["q"] = q
        status, _, body = request(self.server.url + "/api/v1/search?" +
                                  urllib.parse.urlencode(params), timeout=300)
        answer = json.loads(body)
        if status != 200:
            raise RuntimeError("search %r: %d %s" % (q, status, answer))
        if answer.get("partial"):
            raise RuntimeError("search %r: partial answer: %s" % (q, answer.get("warnings")))
        return answer

    def verify(self):
        rows = self.search_json("service=drill | count by trace_id, level")["rows"]
        stored = collections.Counter()
        stored_chunk = collections.Counter()
        for row in rows:
            stored[row.get("level", "")] += row["count"]
            stored_chunk[row["trace_id"]] += row["count"]
        written_chunk = collections.Counter()
        for g in self.generators:
            for (chunk, _), n in g.by_chunk_level.items():
                written_chunk[chunk] += n
        dup = collections.Counter()
        dup_ids = []
        missing_warn = []
        extra = 0
        for chunk in sorted(set(written_chunk) | set(stored_chunk)):
            head = 1000
            while True:
                rows = self.search_json("trace_id=%s | count by sid, level | head %d" %
                                        (chunk, head))["rows"]
                if len(rows) < head or rows[-1]["count"] == 1:
                    break
                head *= 10
            for row in rows:
                if row["count"] > 1:
                    dup[row.get("level", "")] += row["count"] - 1
                    dup_ids.append("%s×%d" % (row["sid"], row["count"]))
            agent = int(chunk.split("-")[0][1:])
            hits = self.search_json("trace_id=%s level>=WARN | fields sid" % chunk,
                                    limit="10000")
            got = [h.get("sid") for h in hits["rows"]] if "rows" in hits else \
                [h["fields"]["sid"] for h in hits["hits"]]
            want = self.generators[agent].warn_ids.get(chunk, set()) \
                if agent < len(self.generators) else set()
            missing_warn += sorted(want - set(got))
            extra += len(set(got) - want)
        written = collections.Counter()
        for g in self.generators:
            written.update(g.by_level)
        agents = self.final_agents
        read = {lvl: sum(s.read[lvl] for s in agents) for lvl in LEVELS}
        sent = {lvl: sum(s.sent[lvl] for s in agents) for lvl in LEVELS}
        dropped = {lvl: sum(s.dropped[lvl] for s in agents) for lvl in LEVELS}
        reasons = collections.Counter()
        for s in agents:
            reasons.update(s.dropped_by_reason)
        totals = {}
        for lvl in LEVELS:
            distinct = stored[lvl] - dup[lvl]
            totals[lvl] = {
                "written": written[lvl], "read": int(read[lvl]), "dropped": int(dropped[lvl]),
                "acknowledged": int(sent[lvl]), "stored": stored[lvl], "duplicated": dup[lvl],
                "lost": max(0, written[lvl] - int(dropped[lvl]) - distinct),
                # Stored although an agent counted them as dropped (e.g. a batch "rejected"
                # after the server had stored it): the counters lie, nothing is lost.
                "surplus": max(0, distinct - (written[lvl] - int(dropped[lvl]))),
            }
        self.totals = totals
        self.drop_reasons = {"%s/%s" % k: int(v) for k, v in sorted(reasons.items())}
        self.missing_warn = missing_warn
        unexpected_levels = set(stored) - set(LEVELS)
        surplus = sum(t["surplus"] for t in totals.values())
        if surplus:
            self.notes.append("%d distinct lines were stored although the agents counted them as "
                              "dropped (%s)" % (surplus, self.drop_reasons))
        if unexpected_levels:
            self.finding("stored lines with unexpected levels: %s" % sorted(unexpected_levels))
        lost = sum(t["lost"] for t in totals.values())
        dups = sum(t["duplicated"] for t in totals.values())
        warn_dropped = sum(totals[l]["dropped"] for l in WARN_PLUS)
        if lost:
            self.finding("%d lines lost (written, not dropped by an agent, not stored)%s" %
                         (lost, "; WARN+ ids missing, e.g. %s" % missing_warn[:5]
                          if missing_warn else ""))
        if dups:
            dup_ids.sort()
            self.finding("%d lines stored more than once, e.g. %s ... %s (sids of each agent are "
                         "consecutive in its files)" % (dups, ", ".join(dup_ids[:3]),
                                                        ", ".join(dup_ids[-2:])))
        if warn_dropped:
            self.finding("%d WARN+ lines dropped by agents: %s" % (warn_dropped, self.drop_reasons))
        if missing_warn and not lost:
            self.finding("%d WARN+ ids missing: %s" % (len(missing_warn), missing_warn[:5]))
        if extra:
            self.finding("%d WARN+ ids stored that were never written" % extra)
        self.ok_counts = not lost and not dups and not warn_dropped and not missing_warn

    # -- report
    def phase_rows(self):
        rows = []
        for phase, (start, end) in self.phase_times.items():
            if phase == "verify":
                continue
            before, after = self.snapshots.get(phase, ({}, None))
            p99, n_ack = histogram_quantile(before, after or {}, 0.99) if after else (None, 0)
            lat = [ms for (ph, kind, ms, st) in self.searches if ph == phase and st == 200]
            errors = collections.Counter(str(st) for (ph, kind, ms, st) in self.searches
                                         if ph == phase and st != 200)
            rows.append({
                "phase": phase, "seconds": (end or now()) - start,
                "written": self.phase_written.get(phase, 0),
                "requests": n_ack, "ack_p99_ms": None if p99 is None else p99 * 1000,
                "searches": len(lat), "search_p50_ms": percentile(lat, 50),
                "search_p99_ms": percentile(lat, 99), "search_errors": dict(errors),
                "peak_rss_mib": self.rss.get(phase, 0) / 1024.0,
            })
        return rows

    def storm_rows(self):
        out = {}
        for kind in ("storm-identical", "storm-different"):
            lat = [ms for (ph, k, ms, st) in self.searches if k == kind and st == 200]
            statuses = collections.Counter(str(st) for (ph, k, ms, st) in self.searches
                                           if k == kind)
            out[kind] = {"ok": len(lat), "statuses": dict(statuses), "p50_ms": percentile(lat, 50),
                         "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else None}
        return out

    def report(self):
        o = self.observations
        phases = self.phase_rows()
        storm = self.storm_rows()
        lines = []
        lines.append("| phase | s | lines written | agent requests | ack p99 ms | searches | "
                     "search p50 ms | search p99 ms | search errors | peak RSS MiB |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for r in phases:
            lines.append("| %s | %.0f | %d | %d | %s | %d | %s | %s | %s | %.0f |" % (
                r["phase"], r["seconds"], r["written"], r["requests"], fmt_ms(r["ack_p99_ms"]),
                r["searches"], fmt_ms(r["search_p50_ms"]), fmt_ms(r["search_p99_ms"]),
                ", ".join("%s×%d" % kv for kv in sorted(r["search_errors"].items())) or "0",
                r["peak_rss_mib"]))
        lines.append("")
        lines.append("| lines | " + " | ".join(LEVELS) + " | total |")
        lines.append("|---|" + "---:|" * (len(LEVELS) + 1))
        labels = [("written", "sent (written to the agents' files)"), ("read", "read by agents"),
                  ("dropped", "dropped by agents"), ("acknowledged", "acknowledged"),
                  ("stored", "stored (found by search)"), ("duplicated", "duplicated"),
                  ("lost", "lost")]
        for key, label in labels:
            values = [self.totals[l][key] for l in LEVELS]
            lines.append("| %s | %s | %d |" % (label, " | ".join(str(v) for v in values),
                                               sum(values)))
        warn_dropped = sum(self.totals[l]["dropped"] for l in WARN_PLUS)
        debug_dropped = self.totals["DEBUG"]["dropped"]
        lines.append("")
        lines.append("| check | value |")
        lines.append("|---|---|")
        lost = sum(t["lost"] for t in self.totals.values())
        dups = sum(t["duplicated"] for t in self.totals.values())
        lines.append("| lost (must be 0) | %d |" % lost)
        lines.append("| duplicated (must be 0) | %d |" % dups)
        lines.append("| WARN+ dropped by agents (must be 0) | %d |" % warn_dropped)
        lines.append("| DEBUG dropped by agents | %d (INFO %d; by level/reason: %s) |" % (
            debug_dropped, self.totals["INFO"]["dropped"],
            ", ".join("%s %d" % kv for kv in self.drop_reasons.items()) or "none"))
        lines.append("| peak RSS of the server (VmHWM) | %.0f MiB |" % (self.hwm_kb / 1024.0))
        for kind, label in (("storm-identical", "%d identical searches" % self.p["identical"]),
                            ("storm-different", "%d different searches" % self.p["different"])):
            s = storm[kind]
            lines.append("| storm: %s | %d answered, p50 %s ms, p99 %s ms, max %s ms; %s |" % (
                label, s["ok"], fmt_ms(s["p50_ms"]), fmt_ms(s["p99_ms"]), fmt_ms(s["max_ms"]),
                ", ".join("%s×%d" % kv for kv in sorted(s["statuses"].items()))))
        lines.append("| SIGKILL → /readyz 200 | %s |" %
                     ", ".join(fmt_s(x) for x in o.get("kill_ready_s", [])))
        lines.append("| SIGKILL → every agent shipping again | %s |" %
                     ", ".join(fmt_s(x) for x in o.get("kill_resumed_s", [])))
        if "disk" in o:
            lines.append("| disk full | %s |" % o["disk"])
        else:
            lines.append("| disk full → ingest refused | %s (probe answers: %s) |" % (
                fmt_s(o.get("disk_refused_after_s")),
                ", ".join("%s×%d" % kv for kv in sorted(o["disk_probe_statuses"].items()))))
            lines.append("| /readyz while full | %s |" % "; ".join(
                "%s ×%d" % kv for kv in sorted(o["disk_readyz"].items())))
            lines.append("| WAL files before / at end of full / after | %s |" %
                         " / ".join(str(x) for x in o["disk_wal_files"]))
            lines.append("| agents' spools while full | at most %d batches; peak bytes %s |" % (
                o["disk_max_spooled_batches"], ", ".join(
                    "%s %.0f KiB of %s" % (a.name, b / 1024.0, a.spool_bytes)
                    for a, b in zip(self.agents, o["disk_spool_peak_bytes"]))))
            lines.append("| disk freed → writes accepted | %s |" % fmt_s(o.get("disk_accepted_s")))
            lines.append("| disk freed → /readyz 200 | %s |" % fmt_s(o.get("disk_ready_s")))
            lines.append("| disk freed → every agent shipping again | %s |" %
                         fmt_s(o.get("disk_resumed_s")))
        total = self.phase_times["verify"][1] - self.t0
        lines.append("| drill wall time | %.0f s |" % total)
        return "\n".join(lines), phases, storm

    def cleanup(self, keep):
        self.stop_flag.set()
        for a in self.agents:
            try:
                a.stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        if self.server:
            try:
                code = self.server.stop()
                if code not in (0, None):
                    self.log("server exited %s at SIGTERM" % code)
            except RuntimeError as e:
                self.log(str(e))
        if self.disk:
            self.disk.unmount()
        if keep:
            print("kept %s" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sawmill", required=True, help="path of the sawmill binary")
    parser.add_argument("--mode", choices=sorted(PROFILES), default="full")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--disk", choices=["auto", "tmpfs", "loop"], default="auto")
    parser.add_argument("--skip-disk", action="store_true",
                        help="no disk-full phase (when nothing can be mounted); the table says so")
    parser.add_argument("--kills", type=int, default=None,
                        help="SIGKILLs of the server in the kill phase, each followed by a restart "
                        "(default: 3 full, 2 quick and smoke)")
    parser.add_argument("--down", type=float, default=0,
                        help="seconds the server stays down after each SIGKILL (default: restarted "
                        "at once)")
    parser.add_argument("--drain-timeout", type=int, default=240)
    parser.add_argument("--workdir", default=None, help="parent of the drill's temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs, data)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    parser.add_argument("--markdown", help="write the tables as Markdown to this file")
    args = parser.parse_args()
    profile = dict(PROFILES[args.mode])
    if args.kills is not None:
        profile["kills"] = args.kills
    reap_stale_mounts()
    drill = Drill(args, profile)
    print("sawmill incident drill, mode %s: %d agents, %d lines/s each, burst x%d" %
          (args.mode, profile["agents"], profile["rate"], profile["burst"]), flush=True)
    # SIGTERM (a CTest timeout, a CI job cancelled) unwinds like Ctrl-C, so that the cleanup
    # below stops the processes and unmounts the file system.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        drill.run()
    except CannotRun as e:
        print("drill cannot run: %s" % e, flush=True)
        drill.cleanup(keep=args.keep)
        return 2
    except BaseException:
        drill.cleanup(keep=True)
        raise
    table, phases, storm = drill.report()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print("Incident drill (%s, %s, seed %d)" % (args.mode, date, args.seed))
    print(table)
    if drill.findings:
        print("\nFINDINGS:")
        for f in drill.findings:
            print("  - " + f)
    if drill.notes:
        print("\nNOTES (defects that do not fail the drill):")
        for n in drill.notes:
            print("  - " + n)
    failed = bool(drill.findings) or not drill.ok_counts
    print("\n%s" % ("FAIL" if failed else "PASS"), flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("`make drill` (mode %s, seed %d), %s: **%s**\n\n%s\n" % (
                args.mode, args.seed, date, "FAIL" if failed else "PASS", table))
            for title, items in (("Findings (fail the drill)", drill.findings),
                                 ("Notes", drill.notes)):
                if items:
                    f.write("\n%s:\n" % title + "".join("- %s\n" % i for i in items))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": args.mode, "date": date, "profile": profile, "phases": phases,
                       "storm": storm, "totals": drill.totals, "drop_reasons": drill.drop_reasons,
                       "observations": drill.observations, "hwm_mib": drill.hwm_kb / 1024.0,
                       "findings": drill.findings, "notes": drill.notes,
                       "events": drill.events}, f, indent=1,
                      default=str)
    drill.cleanup(keep=args.keep or failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
