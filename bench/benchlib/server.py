"""One `sawmill server` on a free loopback port, and the search request target."""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from benchlib.common import SAWMILL, WORK, free_port, proc_cpu_seconds, proc_peak_rss

class Server:
    """One `sawmill server` on a free loopback port."""

    def __init__(self, name, data_dir=None, args=()):
        self.name = name
        self.data = data_dir or os.path.join(WORK, f"data-{name}")
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.addr}"
        self.log_path = os.path.join(WORK, f"server-{name}.log")
        extra = os.environ.get("BENCH_SERVER_ARGS", "").split()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SAWMILL, "server", "--data", self.data, "--http", self.addr] + list(args) + extra,
            stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start: "
                                   f"{self.log_tail()}")
            try:
                if self.get("/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server not ready after 120 s: " + self.log_tail())

    def log_tail(self, n=600):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def request(self, method, path, body=None, timeout=600, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, timeout=600):
        return self.request("GET", path, timeout=timeout)

    def post(self, path, body=b"", timeout=600):
        return self.request("POST", path, body=body, timeout=timeout)

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def peak_rss(self):
        return proc_peak_rss(self.proc.pid)

    def flush(self):
        status, body = self.post("/api/v1/admin/flush")
        if status != 200:
            raise RuntimeError(f"flush answered {status}: {body[:300]!r}")

    def compact(self):
        """Asks for a compaction now; returns what happened (for the notes)."""
        status, body = self.post("/api/v1/admin/compact")
        if status == 200:
            return "compacted (POST /api/v1/admin/compact)"
        return f"compaction answered {status}: {body[:200]!r}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def search_target(q, **params):
    params = {"q": q, "all_time": "1", **params}
    return "/api/v1/search?" + urllib.parse.urlencode(params)
