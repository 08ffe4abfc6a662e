"""Query deadlines and cancellation against the real server: a slow search stops at
--query-timeout and answers partial naming the limit; a client that hangs up mid-search stops
the work (the server's CPU goes idle) and is counted; queries over the size limits are 400s
that say what and where."""

import json
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse

from e2e_lib import Server, check, metric_value, request

LINES = 120
LINE_BYTES = 200 * 1024
# The largest regular expression the parser accepts is about 300 of these alternatives: nested
# quantifiers that keep RE2 off its fast path over long lines of random text (about 0.1 s per
# 200 KB line each). Two of them per query: several seconds of work per core unbounded.
ALTERNATIVES = "|".join("(a%d(b+c*)+)+d" % i for i in range(300))
SLOW_QUERY = 'message~"%s" OR message~"x%s" | count' % (ALTERNATIVES, ALTERNATIVES)
# The server's CPU from the hang-up until the cancellation is counted (the search returned).
MAX_CPU_TO_STOP = 0.5


def random_lines(n, size):
    """Lines of letters and digits that never match the regexes above (no 'd')."""
    table = bytes(b"abc0123456789 ab"[i % 16] for i in range(256))
    return [os.urandom(size).translate(table) for _ in range(n)]


def search_url(server, q, **params):
    params = dict(params)
    params["q"] = q
    params.setdefault("all_time", "1")
    return server.url + "/api/v1/search?" + urllib.parse.urlencode(params)


def cpu_seconds(pid):
    """utime + stime of the process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def expect_400(server, q, *parts):
    status, _, body = request(search_url(server, q), timeout=60)
    answer = json.loads(body)
    check(status == 400, "expected 400 for a query of %d bytes, got %d %s" %
          (len(q), status, body[:300]))
    for part in parts:
        check(part in answer["error"], "%r not in the error %r" % (part, answer["error"][:500]))
    check("position" in answer, "the answer names the position: %s" % body[:300])
    return answer


def main(binary):
    lines = random_lines(LINES, LINE_BYTES)
    data_dir = tempfile.mkdtemp(prefix="sawmill_e2e_limits_")
    try:
        run(binary, data_dir, lines)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        try:
            os.unlink(data_dir + ".log")
        except OSError:
            pass
    print("e2e_query_limits: OK")


def run(binary, data_dir, lines):
    with Server(binary, data_dir=data_dir, extra_args=["--query-timeout", "1s"]) as s:
        for start in range(0, LINES, 10):
            status, _, body = s.ingest(b"\n".join(lines[start:start + 10]) + b"\n",
                                       params={"service": "api"})
            check(status == 200, "ingest: %d %s" % (status, body))
        s.flush()
        check(s.count("service=api") == LINES, "all %d long lines stored" % LINES)

        # 1. The deadline: partial, the limit named, answered within the limit plus slack.
        before = metric_value(s.metrics(), "sawmill_queries_cancelled_total", reason="deadline")
        started = time.monotonic()
        status, _, body = request(search_url(s, SLOW_QUERY), timeout=120)
        elapsed = time.monotonic() - started
        answer = json.loads(body)
        check(status == 200, "slow query: %d %s" % (status, body[:300]))
        check(answer["partial"] is True, "a query stopped by the deadline is partial: %s" %
              body[:500])
        check(any("1 s time limit (query_timeout)" in w for w in answer["warnings"]),
              "the warning names the limit: %s" % answer["warnings"])
        check(answer["stats"]["rows_scanned"] < LINES,
              "it stopped before the end: %s" % answer["stats"])
        check(elapsed < 1 + 4, "answered %.1f s after the start (limit 1 s)" % elapsed)
        after = metric_value(s.metrics(), "sawmill_queries_cancelled_total", reason="deadline")
        check(after == before + 1, "deadline stops are counted: %s -> %s" % (before, after))
        print("deadline: partial answer after %.2f s (limit 1 s), %d of %d rows" %
              (elapsed, answer["stats"]["rows_scanned"], LINES))

        # 3. Size limits: clear 400s that say what and where.
        expect_400(s, "a" * 40000, "the query is 40000 bytes long; at most 32768 are allowed")
        ors = " OR ".join("w%d" % i for i in range(1500))
        answer = expect_400(s, ors, "more than 1000 alternatives in one OR")
        check(answer["position"] == ors.index("w1000"), "position of the 1001st: %s" % answer)
        words = "|".join("w%d" % i for i in range(1500))
        answer = expect_400(s, 'service=api message~"%s"' % words,
                            "has 1500 alternatives ('|'); at most 1000 are allowed")
        check(answer["position"] == len("service=api message~"), "regex position: %s" % answer)
        big = "|".join("(a%d(b+c*)+)+d" % i for i in range(500))
        expect_400(s, 'message~"%s"' % big, "instructions; at most 5000 are allowed")
        expect_400(s, 'message~"%s" OR message~"x%s" OR host~"y%s"' %
                   (ALTERNATIVES, ALTERNATIVES, ALTERNATIVES),
                   "the query's regular expressions compile to")
        print("limits: 400s for text, OR alternatives, regex alternatives and program size")

    # 2. A client that hangs up: the work stops and the server goes idle.
    with Server(binary, data_dir=data_dir, extra_args=["--query-timeout", "10m"]) as s:
        pid = s.proc.pid
        before = metric_value(s.metrics(), "sawmill_queries_cancelled_total",
                              reason="client_gone")
        target = search_url(s, SLOW_QUERY, cache="0")[len(s.url):]
        sock = socket.create_connection(("127.0.0.1", s.port))
        cpu_start = cpu_seconds(pid)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target).encode())
        # Hang up once the search has visibly been working (the machine may be busy).
        sent = time.monotonic()
        busy = 0
        while busy < 0.5 and time.monotonic() < sent + 15:
            time.sleep(0.1)
            busy = cpu_seconds(pid) - cpu_start
        running = time.monotonic() - sent
        check(busy >= 0.5, "the search was running (%.2f s of CPU in %.1f s)" % (busy, running))
        sock.close()
        hung_up = time.monotonic()
        cpu_hung_up = cpu_seconds(pid)
        # Counted when the search has returned (query_engine.cc): the work has stopped then. The
        # wall time to it grows with the machine's load; the server's CPU in it does not much.
        counted = before
        while time.monotonic() < hung_up + 30 and counted < before + 1:
            counted = metric_value(s.metrics(), "sawmill_queries_cancelled_total",
                                   reason="client_gone")
            if counted < before + 1:
                time.sleep(0.1)
        stopped = time.monotonic() - hung_up
        cpu_to_stop = cpu_seconds(pid) - cpu_hung_up
        check(counted == before + 1, "the cancellation is counted: %s -> %s" % (before, counted))
        # 0.01-0.09 s of CPU (0.1-0.5 s wall) in 6 runs two at a time at load 9-10 (session
        # 19); a server that saw the hang-up 3 s late (a probe) took 1.29 s there. 0.5 s: more
        # than 5 x what was seen, and about a second of the search left running at that load.
        check(cpu_to_stop < MAX_CPU_TO_STOP,
              "the search went on after the hang-up: %.2f s of CPU (%.1f s) before the "
              "cancellation was counted; at most %.1f s" % (cpu_to_stop, stopped,
                                                            MAX_CPU_TO_STOP))
        # Idle from 3 s after the hang-up, or from the count if a loaded machine took longer.
        time.sleep(max(0.0, 3.0 - stopped))
        idle_start = cpu_seconds(pid)
        time.sleep(2.0)
        idle = cpu_seconds(pid) - idle_start
        check(idle < 0.3, "the server went idle after the client left: %.2f s of CPU in the 2 s "
              "starting %.1f s after the hang-up" % (idle, max(3.0, stopped)))
        status, answer = s.search("service=api | count")
        check(status == 200 and answer["rows"][0]["count"] == LINES,
              "the server still answers: %s" % answer)
        print("client gone: %.2f s of CPU in %.1f s while running; stopped after %.2f s of CPU "
              "(%.2f s); %.2f s in 2 s from %.1f s after the hang-up" %
              (busy, running, cpu_to_stop, stopped, idle, max(3.0, stopped)))


if __name__ == "__main__":
    main(sys.argv[1])
