"""The drill's server (drill.DrillServer) started on a port another sawmill holds: it must not
take the other server's /readyz 200 for its own. It is ready only once its own process logged
that it listens on the port (e2e_lib.Server.wait_ready): on a port given to it (the drill
restarts the server on the port its agents send to) it fails, naming the port taken; on a
port of its own picking it starts again on another one."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import drill  # noqa: E402
import e2e_lib  # noqa: E402
from e2e_lib import Server, check, request  # noqa: E402


def main(binary):
    root = tempfile.mkdtemp(prefix="sawmill_drill_port_")
    try:
        with Server(binary) as other:
            # The drill's restart: the port given, and another sawmill serves on it.
            given = drill.DrillServer(binary, os.path.join(root, "given"),
                                      os.path.join(root, "given.log"), port=other.port)
            try:
                given.start(timeout=30)
                started = True
            except RuntimeError as e:
                started = False
                check("Address already in use" in str(e), "not the port taken: %s" % e)
            finally:
                given.cleanup()
            check(not started, "the drill's server counted the other server's /readyz on %d as "
                  "its own: %s" % (other.port, given.read_log()))
            check(request(other.url + "/readyz")[0] == 200, "the other server stopped answering")

            # A first start, the port picked by free_port() and taken meanwhile: another port.
            handed = [other.port]
            real_free_port = e2e_lib.free_port
            e2e_lib.free_port = lambda: handed.pop() if handed else real_free_port()
            try:
                picked = drill.DrillServer(binary, os.path.join(root, "picked"),
                                           os.path.join(root, "picked.log"))
                check(picked.port == other.port, "the first pick is the taken port")
                try:
                    picked.start(timeout=30)
                    check(picked.port != other.port,
                          "started on the other server's port %d" % other.port)
                    check(picked.proc.poll() is None, "exited: %s" % picked.read_log())
                    check(request(picked.url + "/readyz")[0] == 200, "not ready")
                finally:
                    picked.cleanup()
            finally:
                e2e_lib.free_port = real_free_port
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("drill_server_port: OK (a given port taken failed; a picked one moved to %d)" %
          picked.port)


if __name__ == "__main__":
    main(sys.argv[1])
