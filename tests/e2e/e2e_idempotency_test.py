"""Idempotency-Keys survive kill -9, flushes and restarts of the real server: a batch retried
under its key after the crash is not stored again (the client gets the first answer), the same
key with another body is 422, and senders that retry every batch until it is acknowledged across
a kill -9 end up with every line exactly once (also the batches in flight at the kill)."""

import gzip
import json
import sys
import threading
import time

from e2e_lib import Server, check, metric_value

LINES = 25


def body_of(tag, lines=LINES):
    return "".join("idem%s line %d\n" % (tag, i) for i in range(lines))


def ingest(server, body, key, gzip_it=False, params=None):
    headers = {"Idempotency-Key": key}
    data = body.encode()
    if gzip_it:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    return server.ingest(data, params=params or {"service": "idem"}, headers=headers)


def single_batch_across_kill(binary):
    server = Server(binary).start()
    try:
        status, headers, first = ingest(server, body_of("a"), "agent-1-1", gzip_it=True)
        check(status == 200, "first send: %d %s" % (status, first))
        # Killed right after the 200: the key is only in the WAL now.
        server.kill9()
        restarted = Server(binary, data_dir=server.data_dir, port=server.port).start()
        try:
            check(restarted.count('idema') == LINES, "lines after restart: %d" %
                  restarted.count('idema'))
            # The retry (sent uncompressed this time: the key names the decoded batch).
            status, headers, again = ingest(restarted, body_of("a"), "agent-1-1")
            check(status == 200, "retry after restart: %d %s" % (status, again))
            check(again == first, "retry answer %s differs from the first %s" % (again, first))
            check(headers.get("Idempotent-Replayed") == "true",
                  "no Idempotent-Replayed header: %s" % headers)
            check(restarted.count('idema') == LINES,
                  "retry stored the batch again: %d lines" % restarted.count('idema'))
            # Same key, different body: refused, says why, stores nothing.
            status, _, error = ingest(restarted, body_of("b", 3), "agent-1-1")
            check(status == 422, "different body under a used key: %d %s" % (status, error))
            message = json.loads(error)["error"]
            check("Idempotency-Key 'agent-1-1' was already used for a different batch" in message,
                  "unclear 422 message: %s" % message)
            check(restarted.count('idemb') == 0, "the different body was stored")
            # Different query parameters are a different batch too.
            status, _, _ = ingest(restarted, body_of("a"), "agent-1-1", params={"service": "x"})
            check(status == 422, "same body, other service, same key: %d" % status)

            # After a flush the WAL file that held the key is deleted: the catalog keeps it.
            restarted.flush()
            restarted.kill9()
            third = Server(binary, data_dir=server.data_dir, port=server.port).start()
            try:
                status, _, again = ingest(third, body_of("a"), "agent-1-1")
                check(status == 200 and again == first,
                      "retry after flush + kill: %d %s" % (status, again))
                check(third.count('idema') == LINES, "stored twice after flush + kill")
                status, _, _ = ingest(third, body_of("b", 3), "agent-1-1")
                check(status == 422, "different body after flush + kill: %d" % status)
                keys = metric_value(third.metrics(), "sawmill_idempotency_keys")
                check(keys >= 1, "sawmill_idempotency_keys is %s" % keys)
                check(third.stop() == 0, "server did not exit 0 after SIGTERM")
            finally:
                third.cleanup()
        finally:
            restarted.cleanup()
        print("single batch: retried after kill -9 and after flush + kill -9, stored once; "
              "another body under the key is 422")
    finally:
        server.cleanup()


def retrying_senders_across_kill(binary, senders=3, batches=30, lines=20):
    """Each sender sends its batches in order and retries each one (same key, same body) until
    it gets a 200, across the kill -9 and restart of the server."""
    server = Server(binary).start()
    port, data_dir = server.port, server.data_dir
    acked = [0] * senders
    replayed = [0]  # batches stored before the kill whose answer was lost, retried after it
    lock = threading.Lock()
    errors = []

    def sender(sid):
        for b in range(batches):
            body = "".join("retrying s%d b%d i%d\n" % (sid, b, i) for i in range(lines))
            while True:
                try:
                    status, headers, answer = server_ref[0].ingest(
                        body, params={"service": "retry"},
                        headers={"Idempotency-Key": "sender%d-%d" % (sid, b)}, timeout=10)
                except OSError:
                    time.sleep(0.05)  # the server is down or died mid-request: retry
                    continue
                if status == 200:
                    if headers.get("Idempotent-Replayed") == "true":
                        with lock:
                            replayed[0] += 1
                    got = json.loads(answer)["accepted"]
                    if got != lines:
                        with lock:
                            errors.append("batch %d/%d answered accepted=%d" % (sid, b, got))
                    break
                if status not in (503,):
                    with lock:
                        errors.append("batch %d/%d: %d %s" % (sid, b, status, answer))
                    return
                time.sleep(0.05)
            with lock:
                acked[sid] += 1

    server_ref = [server]
    threads = [threading.Thread(target=sender, args=(s,)) for s in range(senders)]
    restarted = None
    try:
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            with lock:
                if sum(acked) >= senders * batches // 3:
                    break
            time.sleep(0.005)
        server.kill9()
        restarted = Server(binary, data_dir=data_dir, port=port)
        server_ref[0] = restarted
        restarted.start()
        for t in threads:
            t.join(120)
        check(not any(t.is_alive() for t in threads), "senders did not finish")
        check(not errors, "sender errors: %s" % errors[:5])
        status, answer = restarted.search("retrying", limit="10000")
        check(status == 200, "search: %d %s" % (status, answer))
        seen = {}
        for hit in answer["hits"]:
            seen[hit["message"]] = seen.get(hit["message"], 0) + 1
        expected = senders * batches * lines
        duplicated = [m for m, n in seen.items() if n > 1]
        check(not duplicated, "%d lines stored twice, e.g. %s" % (len(duplicated),
                                                                duplicated[:3]))
        check(len(seen) == expected, "%d distinct lines stored, expected %d" % (len(seen),
                                                                              expected))
        print("retrying senders: %d batches sent across kill -9 (%d of them stored before the "
              "kill and answered from their key after it), %d lines each stored once"
              % (senders * batches, replayed[0], expected))
        check(restarted.stop() == 0, "server did not exit 0 after SIGTERM")
    finally:
        if restarted is not None:
            restarted.cleanup()
        server.cleanup()


def main(binary):
    single_batch_across_kill(binary)
    retrying_senders_across_kill(binary)
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
