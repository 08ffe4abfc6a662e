"""A server process started and stopped for a measurement (Process: `sawmill server` and the
peers of bench/peers), one `sawmill server` on a free loopback port, and the search request
target."""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from benchlib.common import SAWMILL, WORK, free_port, proc_cpu_seconds, proc_peak_rss


class Process:
    """A server process on loopback (`sawmill server` or a peer of bench/peers), its output in
    log_path; the constructor returns once GET ready_url answers 200, or raises with the log's
    tail when the process exits first or is not ready within "timeout" seconds."""

    def __init__(self, name, cmd, log_path, ready_url, timeout=120, cwd=None):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=cwd)
        what = f"{name} ({os.path.basename(cmd[0])})"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {self.proc.returncode} at start: "
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:  # refused, timed out, or an HTTP error status
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{what} not ready after {timeout} s: {self.log_tail()}")

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=800):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def peak_rss(self):
        return proc_peak_rss(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


class Server(Process):
    """One `sawmill server` on a free loopback port."""

    def __init__(self, name, data_dir=None, args=()):
        self.data = data_dir or os.path.join(WORK, f"data-{name}")
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.addr}"
        extra = os.environ.get("BENCH_SERVER_ARGS", "").split()
        super().__init__(name, [SAWMILL, "server", "--data", self.data, "--http", self.addr] +
                         list(args) + extra, os.path.join(WORK, f"server-{name}.log"),
                         self.url + "/readyz")

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


def search_target(q, **params):
    params = {"q": q, "all_time": "1", **params}
    return "/api/v1/search?" + urllib.parse.urlencode(params)
