"""A syslog listener that cannot start once the storage engine is open (its port taken): the
server exits 1 saying which address, after stopping what had started in the order of a normal
shutdown. The node leaves the nodes table (before, the engine was closed with retention, the disk
watch, alerting and the node's registration still running, and the node stayed registered as
live), and the data directory opens again with every acknowledged line."""

import os
import socket
import sqlite3
import subprocess
import sys

from e2e_lib import Server, check, free_port

LINES = 300


def main(binary):
    first = Server(binary).start()
    data_dir = first.data_dir
    try:
        body = "".join("abortrun line %d\n" % i for i in range(LINES))
        status, _, answer = first.ingest(body, params={"service": "abort"})
        check(status == 200, "ingest: %d %s" % (status, answer))
        first.kill9()  # the lines are in the write-ahead log only: the next start replays them

        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [binary, "server", "--data", data_dir, "--http", "127.0.0.1:%d" % free_port(),
             "--syslog", "127.0.0.1:%d" % port], capture_output=True, text=True, timeout=120)
        taken.close()
        said = "sawmill server: --syslog: syslog: cannot listen on TCP 127.0.0.1:%d" % port
        check(result.returncode == 1 and said in result.stderr,
              "occupied syslog port: exit %d, %s" % (result.returncode, result.stderr))

        catalog = sqlite3.connect(os.path.join(data_dir, "catalog.db"))
        live = catalog.execute("SELECT id FROM nodes").fetchall()
        gone = catalog.execute("SELECT id FROM node_gone").fetchall()
        catalog.close()
        check(live == [], "the node is still registered as live after its failed start: %r" % live)
        check(len(gone) == 1, "the node's leaving was not recorded: %r" % gone)
        check("[info] stopped" in result.stdout,
              "no shutdown after the failed start: %s" % result.stdout)

        with Server(binary, data_dir=data_dir) as again:
            n = again.count("abortrun", whole=True)
            check(n == LINES, "after the failed start: %d of %d acknowledged lines" % (n, LINES))
            status, _, answer = again.ingest("abortrun after\n", params={"service": "abort"})
            check(status == 200, "ingest after: %d %s" % (status, answer))
            check(again.stop() == 0, "exit code after")
    finally:
        first.cleanup()
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
