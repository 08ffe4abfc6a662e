"""Grafana Loki as a peer: built from LOKI_SRC (default tag v2.7.4, the newest whose go.mod
Debian 12's Go 1.19 builds), one process on loopback (all targets), filesystem storage in a
temporary directory, results and chunk caches off, no usage reports.

Streams: the labels are service and level (50 × 4 streams, the usual advice: few labels, the
rest of the line stays text); each pushed line is the corpus line itself, with the corpus's
time as the entry's time. Loki answers LogQL: line filters for words and trace ids, label
matchers for service and level, metric queries (count_over_time) for the counts.

Two settings differ from Loki's defaults, both in its favour on one 2-core machine:
split_queries_by_interval is 24h (the default 30m cut a 24 h query into ~50 subqueries, each
decompressing every chunk overlapping its half hour: 27 times the lines processed, measured), and
a word is the line filter `|~ "(?i)word"` (case-insensitive substring, which Loki turns into a
fast contains; `\\bword\\b` as a regular expression was 3 times slower). The answers' counts show
whether the substring found more lines than Sawmill's whole word.
"""

import calendar
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from benchlib.common import WORK, dir_bytes, free_port, log
from peers.build import peer_binary
from peers.common import BATCH_LINES, PeerProcess, send_batches, settle_dir

DEFAULT_REV = "v2.7.4"

CONFIG = """\
auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {http_port}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {grpc_port}
  log_level: warn
  http_server_read_timeout: 10m
  http_server_write_timeout: 10m
  grpc_server_max_recv_msg_size: 268435456
  grpc_server_max_send_msg_size: 268435456
common:
  path_prefix: {data}
  storage:
    filesystem:
      chunks_directory: {data}/chunks
      rules_directory: {data}/rules
  replication_factor: 1
  instance_addr: 127.0.0.1
  instance_interface_names: [lo]
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    min_ready_duration: 0s
    final_sleep: 0s
  wal:
    enabled: true
    dir: {data}/wal
    flush_on_shutdown: true
querier:
  max_concurrent: 4
frontend:
  address: 127.0.0.1
schema_config:
  configs:
    - from: 2020-10-24
      store: boltdb-shipper
      object_store: filesystem
      schema: v12
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: false
  creation_grace_period: 1000h
  ingestion_rate_mb: 4096
  ingestion_burst_size_mb: 4096
  per_stream_rate_limit: 1GB
  per_stream_rate_limit_burst: 2GB
  max_query_length: 0
  max_entries_limit_per_query: 1000000
  max_global_streams_per_user: 0
  max_streams_per_user: 0
  max_query_series: 100000
  retention_period: 0s
  split_queries_by_interval: 24h
query_range:
  cache_results: false
chunk_store_config:
  chunk_cache_config:
    embedded_cache:
      enabled: false
analytics:
  reporting_enabled: false
ruler:
  enable_api: false
"""


def _ns(ts, cache={}):
    """Nanoseconds since the epoch of an RFC 3339 UTC time like 2026-11-29T00:00:00.607137Z."""
    head = ts[:19]
    secs = cache.get(head)
    if secs is None:
        secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
        cache[head] = secs
    frac = ts[20:-1] if len(ts) > 20 and ts[19] == "." else ""
    return secs * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def push_bodies(corpus, out_path):
    """Loki push bodies (JSON), one per BATCH_LINES corpus lines, written to out_path;
    returns their (offset, length)."""
    batches = []
    with open(corpus, "rb") as src, open(out_path, "wb") as dst:
        pending = []

        def flush():
            streams = {}
            for raw in pending:
                rec = json.loads(raw)
                key = (rec.get("service", ""), rec.get("level", ""))
                streams.setdefault(key, []).append([str(_ns(rec["ts"])), raw.decode()])
            body = json.dumps({"streams": [
                {"stream": {"service": s, "level": lv}, "values": v}
                for (s, lv), v in streams.items()]}, separators=(",", ":")).encode()
            batches.append((dst.tell(), len(body)))
            dst.write(body)
            pending.clear()

        for line in src:
            line = line.rstrip(b"\n")
            if line:
                pending.append(line)
            if len(pending) == BATCH_LINES:
                flush()
        if pending:
            flush()
    return batches


class Loki:
    name = "Loki"

    def __init__(self):
        self.binary, self.rev = peer_binary("Grafana Loki", "LOKI_SRC", DEFAULT_REV,
                                            "./cmd/loki", "loki", cgo=False)
        self.version = f"Loki {os.environ.get('LOKI_SRC', '').partition('@')[2] or DEFAULT_REV} ({self.rev})"
        self.data = os.path.join(WORK, "peer-loki")
        os.makedirs(self.data, exist_ok=True)
        self.proc = None

    def start(self):
        self.port = free_port()
        config = os.path.join(WORK, "peer-loki.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.format(http_port=self.port, grpc_port=free_port(), data=self.data))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = PeerProcess("loki", [self.binary, "-config.file", config, "-target", "all"],
                                self.url + "/ready")

    def ingest(self, corpus):
        bodies = os.path.join(WORK, "peer-loki-push.json")
        log("peers: Loki push bodies")
        batches = push_bodies(corpus, bodies)
        return send_batches("127.0.0.1", self.port, "/loki/api/v1/push", bodies, batches,
                            headers={"Content-Type": "application/json"})

    def store_bytes(self):
        """Chunks and the shipped index (what the store holds); the WAL, the ingester's
        not-yet-shipped index copy and the querier's download cache are left out."""
        return dir_bytes(os.path.join(self.data, "chunks"))

    def persist(self):
        """Flushes every chunk to the store (POST /flush) and waits until the files stop
        changing."""
        status, body = http_post(self.url + "/flush")
        if status not in (200, 204):
            raise RuntimeError(f"Loki /flush answered {status}: {body[:200]!r}")
        settle_dir(self.store_bytes, timeout=300, quiet_s=5)

    def restart(self):
        """A clean stop ships the index; after the restart queries read the store only (the
        corpus's times are days old, older than what the querier asks the ingester for)."""
        self.proc.stop()
        self.proc = None
        self.start()
        settle_dir(self.store_bytes, timeout=60, quiet_s=3)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    # ---- queries (LogQL)
    def queries(self, m):
        ws = _ns(m["window_start"])
        start = ws - 3600 * 10**9
        end = ws + (m["window_seconds"] + 3600) * 10**9
        rng = f"[{(end - start) // 10**9}s]"
        trace, rare, common, svc = (m["needle_trace_id"], m["rare_word"], m["common_word"],
                                    m["error_service"])
        all_streams = '{service=~".+"}'
        f_trace = f'{all_streams} |= "{trace}" | json trace_id="trace_id" | trace_id="{trace}"'
        f_rare = f'{all_streams} |~ "(?i){rare}"'
        f_common = f'{all_streams} |~ "(?i){common}"'
        f_svc = f'{{service="{svc}", level="ERROR"}}'

        def logs(q):
            return (q + "  (newest 100)", self._range_url(q, start, end, limit=100), _lines)

        def count(q):
            expr = f"sum(count_over_time({q} {rng}))"
            return (expr, self._instant_url(expr, end), _vector_sum)

        per_minute = 'sum by (level) (count_over_time({service=~".+"} [1m]))'
        top = f'topk(10, sum by (service) (count_over_time({{level="ERROR"}} {rng})))'
        return {
            "trace_needle": logs(f_trace),
            "rare_word": logs(f_rare),
            "common_word": logs(f_common),
            "service_error": logs(f_svc),
            "count_by_minute_level": (per_minute + "  (step 1m over the corpus's 24 h ± 1 h)",
                                      self._matrix_url(per_minute, start, end),
                                      _matrix_sum),
            "top_error_services": (top, self._instant_url(top, end), _vector_sum),
            "trace_count": count(f_trace),
            "rare_count": count(f_rare),
            "common_count": count(f_common),
            "service_error_count": count(f_svc),
        }

    def _range_url(self, q, start, end, limit):
        return self.url + "/loki/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": q, "start": start, "end": end, "limit": limit, "direction": "backward"})

    def _instant_url(self, q, at):
        return self.url + "/loki/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": at})

    def _matrix_url(self, q, start, end):
        # Points at start + 1m ... end + 1m: each counts the minute before it, so every line of
        # the window is in exactly one point.
        return self.url + "/loki/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": q, "start": start + 60 * 10**9, "end": end + 60 * 10**9, "step": "60"})


def http_post(url):
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _lines(body):
    doc = json.loads(body)
    return sum(len(s.get("values", [])) for s in doc["data"]["result"])


def _vector_sum(body):
    doc = json.loads(body)
    return int(sum(float(s["value"][1]) for s in doc["data"]["result"]))


def _matrix_sum(body):
    doc = json.loads(body)
    return int(sum(float(v[1]) for s in doc["data"]["result"] for v in s["values"]))
