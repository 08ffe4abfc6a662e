"""What the peers share: a peer process on loopback, the HTTP sender that feeds every system
(Sawmill included) the same batches, and timed queries. Python 3 standard library only."""

import http.client
import os
import threading
import time
import urllib.error
import urllib.request

from benchlib.common import WORK
from benchlib.server import Process

BATCH_LINES = 1000
CLIENTS = 8
RETRIES = 5


class PeerProcess(Process):
    """A peer's server process, its output in WORK/peer-<name>.log."""

    def __init__(self, name, cmd, ready_url, cwd=None, timeout=180):
        super().__init__(name, cmd, os.path.join(WORK, f"peer-{name}.log"), ready_url,
                         timeout=timeout, cwd=cwd)


def line_batches(path, lines_per_batch=BATCH_LINES):
    """(offset, length) of each run of "lines_per_batch" whole lines of the file."""
    out = []
    with open(path, "rb") as f:
        start, n, pos = 0, 0, 0
        for line in f:
            pos += len(line)
            n += 1
            if n == lines_per_batch:
                out.append((start, pos - start))
                start, n = pos, 0
        if n:
            out.append((start, pos - start))
    return out


def send_batches(host, port, path, body_file, batches, headers=None, clients=CLIENTS):
    """POSTs each (offset, length) slice of body_file to path from "clients" keep-alive
    connections; returns {"batches", "errors", "first_error", "retries", "first_retry",
    "seconds"}. A batch answered 429 or 5xx, or cut off, is sent again (as shippers do: Loki
    answers 500 when its distributor loses its gRPC connection to the ingester under load) up to
    RETRIES times after a short pause; the retries are counted and reported. A batch still
    refused is an error: the caller refuses a run with errors."""
    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "first_error": None, "done": 0, "retries": 0,
             "first_retry": None}
    hdrs = dict(headers or {})

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=600)
        with open(body_file, "rb") as f:
            while True:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(batches):
                    break
                off, length = batches[i]
                f.seek(off)
                body = f.read(length)
                for attempt in range(RETRIES + 1):
                    retry = False
                    try:
                        conn.request("POST", path, body=body, headers=hdrs)
                        resp = conn.getresponse()
                        answer = resp.read()
                        ok = 200 <= resp.status < 300
                        retry = resp.status == 429 or resp.status >= 500
                        why = f"{resp.status}: {answer[:300]!r}"
                    except (OSError, http.client.HTTPException) as e:
                        ok, retry, why = False, True, f"{type(e).__name__}: {e}"
                        conn.close()
                        conn = http.client.HTTPConnection(host, port, timeout=600)
                    if ok or not retry or attempt == RETRIES:
                        break
                    with lock:
                        state["retries"] += 1
                        state["first_retry"] = state["first_retry"] or why
                    time.sleep(0.5 * (attempt + 1))
                with lock:
                    if ok:
                        state["done"] += 1
                    else:
                        state["errors"] += 1
                        state["first_error"] = state["first_error"] or why
        conn.close()

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"batches": state["done"], "errors": state["errors"],
            "first_error": state["first_error"], "retries": state["retries"],
            "first_retry": state["first_retry"], "seconds": time.perf_counter() - t}


def http_get(url, timeout=600):
    """(status, body) of GET url."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def timed_runs(url, runs, budget_s, min_runs=5, warmup=2):
    """Wall times in ms of GET url (answer read whole), after "warmup" untimed runs; stops
    early once budget_s seconds have passed and min_runs are done. Returns (times, last body).
    A run that does not answer 200 raises."""
    body = b""
    for _ in range(warmup):
        status, body = http_get(url)
        if status != 200:
            raise RuntimeError(f"answered {status}: {body[:300].decode(errors='replace')}")
    times = []
    start = time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        status, body = http_get(url)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"answered {status}: {body[:300].decode(errors='replace')}")
        if len(times) >= min_runs and time.perf_counter() - start > budget_s:
            break
    return times, body


def settle_dir(size_fn, timeout=120.0, quiet_s=3.0):
    """Waits until size_fn() has not changed for quiet_s seconds (background merges done), at
    most "timeout" seconds; returns the seconds waited."""
    t = time.time()
    last, since = None, time.time()
    while time.time() - t < timeout:
        now = size_fn()
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet_s:
            break
        time.sleep(0.5)
    return time.time() - t
