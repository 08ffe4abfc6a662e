"""VictoriaLogs as a peer: built from VL_SRC (default tag v0.3.0-victorialogs, July 2023, the
newest whose go.mod Debian 12's Go 1.19 builds; its modules are vendored), one process on
loopback with a temporary -storageDataPath and a retention long enough for the corpus's times.

The corpus goes to /insert/jsonline as it is: _msg_field=message, _time_field=ts, and the
stream fields service and host (the source of a line, as its docs advise); level, trace_id and
user_id are ordinary fields. v0.3.0's LogsQL has filters only: no stats pipes and no limit, so
/select/logsql/query streams every match. "Newest 100" is therefore answered by streaming all
matches (the client keeps the newest 100), a filter's count by counting the streamed lines (the
table marks these), and the two aggregations cannot be asked at all.
"""

import json
import os
import urllib.parse

from benchlib.common import WORK, dir_bytes, free_port
from peers.build import peer_binary
from peers.common import PeerProcess, line_batches, send_batches, settle_dir

DEFAULT_REV = "v0.3.0-victorialogs"
NO_STATS = "v0.3.0 has no stats pipes"


class VictoriaLogs:
    name = "VictoriaLogs"

    def __init__(self):
        self.binary, self.rev = peer_binary("VictoriaLogs", "VL_SRC", DEFAULT_REV,
                                            "./app/victoria-logs", "victoria-logs", cgo=True)
        tag = os.environ.get("VL_SRC", "").partition("@")[2] or DEFAULT_REV
        self.version = f"VictoriaLogs {tag} ({self.rev})"
        self.data = os.path.join(WORK, "peer-victorialogs")
        os.makedirs(self.data, exist_ok=True)
        self.proc = None

    def start(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = PeerProcess("victorialogs", [
            self.binary, f"-storageDataPath={self.data}", f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y", "-futureRetention=100y", "-loggerLevel=WARN"],
            self.url + "/health")

    def ingest(self, corpus):
        path = ("/insert/jsonline?" + urllib.parse.urlencode(
            {"_stream_fields": "service,host", "_msg_field": "message", "_time_field": "ts"}))
        return send_batches("127.0.0.1", self.port, path, corpus, line_batches(corpus),
                            headers={"Content-Type": "application/stream+json"})

    def store_bytes(self):
        return dir_bytes(self.data)

    def persist(self):
        """v0.3.0 has no flush request: it writes in-memory parts every 5 s
        (-inmemoryDataFlushInterval); wait until the files stop changing."""
        settle_dir(self.store_bytes, timeout=300, quiet_s=6)

    def restart(self):
        """A clean stop writes whatever is left; after the restart queries read from disk."""
        self.proc.stop()
        self.proc = None
        self.start()
        settle_dir(self.store_bytes, timeout=120, quiet_s=5)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    # ---- queries (LogsQL of v0.3.0)
    def queries(self, m):
        trace, rare, common, svc = (m["needle_trace_id"], m["rare_word"], m["common_word"],
                                    m["error_service"])
        filters = {"trace": f"trace_id:{trace}", "rare": f"i({rare})", "common": f"i({common})",
                   "svc": f'_stream:{{service="{svc}"}} level:ERROR'}

        def newest(f):
            return (f + "  (every match streamed; client keeps the newest 100)", self._url(f),
                    _newest_100)

        def count(f):
            return (f + "  (every match streamed; client counts) †", self._url(f), _line_count)

        return {
            "trace_needle": newest(filters["trace"]),
            "rare_word": newest(filters["rare"]),
            "common_word": newest(filters["common"]),
            "service_error": newest(filters["svc"]),
            "count_by_minute_level": None,
            "top_error_services": None,
            "trace_count": count(filters["trace"]),
            "rare_count": count(filters["rare"]),
            "common_count": count(filters["common"]),
            "service_error_count": count(filters["svc"]),
        }

    def _url(self, q):
        return self.url + "/select/logsql/query?" + urllib.parse.urlencode({"query": q})


def _line_count(body):
    return body.count(b"\n")


def _newest_100(body):
    return min(100, body.count(b"\n"))
