"""`partitions` is fixed for a store at its first start (docs/cluster.md "One partition count
per store"): a server killed with lines in segments and in its WAL and started again with another
count exits 1 with a message naming both counts, the catalog and the fix; started with the
recorded count it finds every acknowledged line once, also by searches that fix service and host
(which read one partition)."""

import subprocess
import sys

from e2e_lib import Server, check

HOSTS = 12
PER_HOST = 20


def ingest(server, round_name):
    for h in range(HOSTS):
        body = "".join("parts %s h%d i%d\n" % (round_name, h, i) for i in range(PER_HOST))
        status, _, answer = server.ingest(body, params={"service": "parts", "host": "h%d" % h})
        check(status == 200, "ingest %s host h%d: %d %s" % (round_name, h, status, answer))


def main(binary):
    server = Server(binary, extra_args=["--partitions", "4"]).start()
    ingest(server, "flushed")
    server.flush()                 # in segments, and still in the open WAL file
    ingest(server, "unflushed")    # only in the WAL
    server.kill9()

    result = subprocess.run([binary, "server", "--data", server.data_dir, "--http",
                             "127.0.0.1:%d" % server.port, "--partitions", "3"],
                            capture_output=True, text=True, timeout=60)
    check(result.returncode == 1, "another partition count was not refused: exit %d, %s" %
          (result.returncode, result.stderr[-2000:]))
    for want in ("partitions = 3", "partitions = 4", "catalog.db", "--partitions"):
        check(want in result.stderr, "the refusal does not say %r: %s" % (want, result.stderr))

    restarted = Server(binary, data_dir=server.data_dir, port=server.port,
                       extra_args=["--partitions", "4"]).start()
    try:
        status, answer = restarted.search("parts", limit="10000")
        check(status == 200 and not answer.get("partial"), "search: %d %s" % (status, answer))
        seen = {}
        for hit in answer["hits"]:
            seen[hit["message"]] = seen.get(hit["message"], 0) + 1
        want = 2 * HOSTS * PER_HOST
        twice = [m for m, n in seen.items() if n > 1]
        check(len(seen) == want and not twice,
              "%d distinct lines of %d, %d of them more than once (%s)" %
              (len(seen), want, len(twice), twice[:3]))
        for h in range(HOSTS):
            n = restarted.count("service=parts host=h%d" % h, whole=True)
            check(n == 2 * PER_HOST, "service=parts host=h%d counts %d, not %d" %
                  (h, n, 2 * PER_HOST))
        check(restarted.stop() == 0, "exit code")
    finally:
        restarted.cleanup()
        server.cleanup()
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
