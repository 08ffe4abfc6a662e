"""The segment catalog in a real PostgreSQL (`sawmill server --catalog postgresql://...`): every
flushed segment is a row there, not in DIR/catalog.db; kill -9 and restart keep every
acknowledged line exactly once; a second server on the same catalog refuses to start; a
catalog that cannot be reached stops the start with a message naming it (issue 20, first step).

Needs the ctest fixture pg_server (src/catalog/CMakeLists.txt): argv[2] is its directory."""

import os
import sys

from e2e_lib import Server, check, create_database, drop_database, free_port, psql


def lines_of(server, word):
    status, answer = server.search(word, limit="10000")
    check(status == 200, "search %s: %d %s" % (word, status, answer))
    check(not answer["partial"], "partial answer: %s" % answer.get("warnings"))
    seen = {}
    for hit in answer["hits"]:
        seen[hit["message"]] = seen.get(hit["message"], 0) + 1
    return seen


def main(binary, pg_dir):
    with open(os.path.join(pg_dir, "url")) as f:
        admin_url = f.read().strip()
    database = "e2e_catalog_%d" % os.getpid()
    url = create_database(admin_url, database)
    catalog = ["--catalog", url]
    try:
        server = Server(binary, extra_args=catalog).start()
        expected = []
        try:
            for batch in range(3):
                body = "".join("pgcat b%d i%d\n" % (batch, i) for i in range(50))
                status, _, answer = server.ingest(body, params={"service": "pgcat"})
                check(status == 200, "ingest: %d %s" % (status, answer))
                expected += ["pgcat b%d i%d" % (batch, i) for i in range(50)]
                server.flush()
            rows = psql(url, "SELECT count(*), coalesce(sum(rows), 0) FROM segments")
            segments, stored = (int(x) for x in rows.split("|"))
            check(segments >= 1 and stored == len(expected),
                  "PostgreSQL lists %d segments with %d rows; %d lines were flushed" %
                  (segments, stored, len(expected)))
            check(not os.path.exists(os.path.join(server.data_dir, "catalog.db")),
                  "a SQLite catalog was written although --catalog names PostgreSQL")
            print("catalog in PostgreSQL: %d segments, %d rows" % (segments, stored))

            # One server per catalog: a second one (another data directory) must not start.
            other = Server(binary, extra_args=catalog)
            try:
                other.start(timeout=60)
                check(False, "a second server started on the same PostgreSQL catalog")
            except RuntimeError as e:
                check("in use by another sawmill server" in str(e),
                      "the second server's refusal does not say why:\n%s" % e)
            finally:
                other.cleanup()

            # Lines acknowledged but not flushed are in the local WAL; kill -9, restart.
            body = "".join("pgcat wal i%d\n" % i for i in range(40))
            status, _, answer = server.ingest(body, params={"service": "pgcat"})
            check(status == 200, "ingest: %d %s" % (status, answer))
            expected += ["pgcat wal i%d" % i for i in range(40)]
            server.kill9()
            restarted = Server(binary, data_dir=server.data_dir, port=server.port,
                               extra_args=catalog).start()
            try:
                seen = lines_of(restarted, "pgcat")
                missing = [m for m in expected if seen.get(m, 0) == 0]
                twice = [m for m, n in seen.items() if n > 1]
                check(not missing, "%d acknowledged lines lost, e.g. %s" % (len(missing),
                                                                           missing[:3]))
                check(not twice, "%d lines twice, e.g. %s" % (len(twice), twice[:3]))
                restarted.flush()
                stored = int(psql(url, "SELECT coalesce(sum(rows), 0) FROM segments"))
                check(stored == len(expected),
                      "after replay and flush PostgreSQL counts %d rows, expected %d" %
                      (stored, len(expected)))
                print("kill -9 and restart: all %d lines once; catalog rows %d" %
                      (len(expected), stored))
            finally:
                restarted.cleanup()
        finally:
            server.cleanup()

        # A catalog that cannot be reached: the start fails and says which one, without the
        # password, whether in the user info or as a query parameter.
        for dead in ("postgresql://sawmill:hunter2@127.0.0.1:%d/sawmill" % free_port(),
                     "postgresql://sawmill@127.0.0.1:%d/sawmill?password=hunter2" % free_port()):
            unreachable = Server(binary, extra_args=["--catalog", dead])
            try:
                unreachable.start(timeout=90)
                check(False, "the server started without its catalog")
            except RuntimeError as e:
                text = str(e)
                check("127.0.0.1" in text and "cannot connect" in text,
                      "the failure does not name the catalog:\n%s" % text)
                check("hunter2" not in text, "the password is in the log:\n%s" % text)
            finally:
                unreachable.cleanup()
        print("unreachable catalog: refused with a clear message")
    finally:
        drop_database(admin_url, database)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
