"""Every error a client can make against the native API, over real HTTP: what it answers and
what ends up stored."""

import gzip
import json
import socket
import sys
import threading

from e2e_lib import Server, check, metric_value, request


def post_raw(port, headers, body_chunks, content_length):
    """Streams a body while reading the answer, like a client that does not wait for
    100-continue; returns (status, body)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = "POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n" % (
        port, content_length)
    head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
    sock.sendall(head.encode())

    def send_body():
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server may stop reading once it answered

    sender = threading.Thread(target=send_body)
    sender.start()
    sock.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    sender.join(60)
    sock.close()
    return status, rest


def main(binary):
    with Server(binary) as s:
        def stored(word):
            return s.count(word)

        # Malformed JSON lines: stored raw and flagged; good lines around them are fine.
        status, _, body = s.ingest('{"msg":"good1 jsonmark"}\n{"msg": broken jsonmark\n'
                                   '{"msg":"good2 jsonmark"}\n',
                                   headers={"Content-Type": "application/x-ndjson"})
        answer = json.loads(body)
        check(status == 200 and answer["accepted"] == 3 and answer["parse_failed"] == 1,
              "malformed JSON: %d %s" % (status, answer))
        _, found = s.search("jsonmark")
        broken = [h for h in found["hits"] if "broken" in h["message"]]
        check(len(broken) == 1 and broken[0]["message"] == '{"msg": broken jsonmark'
              and "parse_failed" in broken[0]["flags"], "malformed line stored: %s" % broken)

        # Bad compression: 400 naming the problem, nothing stored.
        for encoding, payload in (("gzip", b"\x1f\x8b\x08\x00garbage badgzipmark"),
                                  ("zstd", b"\x28\xb5\x2f\xfd garbage badzstdmark"),
                                  ("lz4", b"not lz4 at all badlz4mark")):
            status, _, body = s.ingest(payload, headers={"Content-Encoding": encoding})
            check(status == 400, "bad %s: %d %s" % (encoding, status, body))
            check(encoding in json.loads(body)["error"], "bad %s: %s" % (encoding, body))
        check(stored("badgzipmark") + stored("badzstdmark") + stored("badlz4mark") == 0,
              "an undecodable body was partly stored")
        # A good gzip body works.
        status, _, body = s.ingest(gzip.compress(b"zipped gzipokmark\n"),
                                   headers={"Content-Encoding": "gzip"})
        check(status == 200 and stored("gzipokmark") == 1, "gzip body: %d %s" % (status, body))

        # 70 MiB body: 413 with a message, nothing stored, and the server keeps serving.
        chunk = (b"bigbodymark " + b"x" * 1000 + b"\n") * 1024
        n_chunks = (70 << 20) // len(chunk) + 1
        status, body = post_raw(s.port, {"Content-Type": "text/plain"},
                                (chunk for _ in range(n_chunks)), len(chunk) * n_chunks)
        check(status == 413, "70 MiB body: %d %s" % (status, body[:200]))
        check("64 MiB" in json.loads(body)["error"], "413 message: %s" % body)
        check(stored("bigbodymark") == 0, "part of a refused body was stored")
        check(request(s.url + "/healthz")[0] == 200, "server unhealthy after 413")

        # Invalid UTF-8: stored with U+FFFD, flagged.
        status, _, body = s.ingest(b"bad \xff\xfe bytes utf8mark\n")
        check(status == 200, "invalid UTF-8: %d %s" % (status, body))
        _, found = s.search("utf8mark")
        hit = found["hits"][0]
        check("\ufffd" in hit["message"] and "invalid_utf8" in hit.get("flags", []),
              "invalid UTF-8 stored as %s" % hit)

        # A 1 MiB line: truncated to the 256 KiB limit and flagged.
        status, _, body = s.ingest(b"longlinemark " + b"y" * (1 << 20) + b"\n")
        answer = json.loads(body)
        check(status == 200 and answer["truncated"] == 1, "1 MiB line: %d %s" % (status, answer))
        _, found = s.search("longlinemark")
        hit = found["hits"][0]
        check(len(hit["message"].encode()) <= 256 * 1024 and "truncated" in hit["flags"],
              "1 MiB line stored with %d bytes, flags %s" % (len(hit["message"]),
                                                            hit.get("flags")))

        # An empty body: nothing to store is not an error.
        status, _, body = s.ingest(b"")
        check(status == 200 and json.loads(body) == {"accepted": 0, "skipped": 0, "truncated": 0,
                                                     "parse_failed": 0},
              "empty body: %d %s" % (status, body))
        # Blank lines only: skipped and counted.
        status, _, body = s.ingest(b"\n  \n\t\n")
        check(json.loads(body)["skipped"] == 3, "blank lines: %s" % body)

        # Wrong content types: 415 with what to do instead.
        for content_type, payload in (("multipart/form-data; boundary=xx", b"--xx\r\nformmark"),
                                      ("image/png", b"\x89PNG formmark"),
                                      ("application/gzip", b"formmark")):
            status, _, body = s.ingest(payload, headers={"Content-Type": content_type})
            check(status == 415, "%s: %d %s" % (content_type, status, body))
            check("not accepted" in json.loads(body)["error"], "%s: %s" % (content_type, body))
        # Binary sent as application/octet-stream: 400 naming the byte.
        status, _, body = s.ingest(b"\x00\x01\x02 formmark",
                                   headers={"Content-Type": "application/octet-stream"})
        check(status == 400 and "NUL byte at byte 0" in json.loads(body)["error"],
              "binary body: %d %s" % (status, body))
        check(stored("formmark") == 0, "a refused body was stored")

        # A query syntax error: 400 with the position.
        status, answer = s.search("level=")
        check(status == 400 and answer.get("position") == 6 and "error" in answer,
              "syntax error: %d %s" % (status, answer))
        status, answer = s.search("x", limit="abc")
        check(status == 400 and "limit" in answer["error"], "bad limit: %s" % answer)

        # An unknown route: 404 JSON.
        status, _, body = request(s.url + "/api/v1/nothing")
        check(status == 404 and json.loads(body)["error"].startswith("no route"),
              "unknown route: %d %s" % (status, body))
        # Context of an id that does not exist: 404.
        status, _, body = request(s.url + "/api/v1/context?id=999999999")
        check(status == 404, "context of a missing id: %d %s" % (status, body))

        # Metrics saw all of it.
        metrics = s.metrics()
        check(metric_value(metrics, "sawmill_http_requests_total", route="/api/v1/ingest",
                           code="415") == 3, "415s not counted")
        check(metric_value(metrics, "sawmill_ingest_lines_flagged_total",
                           reason="parse_failed") >= 1, "parse_failed not counted")
        check(metric_value(metrics, "sawmill_ingest_lines_flagged_total",
                           reason="truncated") >= 1, "truncated not counted")
        check(metric_value(metrics, "sawmill_http_requests_total", code="413") >= 1,
              "413 not counted")
        check(s.stop() == 0, "server did not exit 0 after SIGTERM")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
