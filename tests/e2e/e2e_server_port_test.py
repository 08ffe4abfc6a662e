"""e2e_lib.Server itself: the port free_port() handed out may be taken before the server binds
it, also by another sawmill (a test running beside), which answers /readyz with 200 while the
server started on it fails to bind and exits. Server.start must end with its own process
serving on its own port: it takes a 200 only after its process logged that it listens there,
and starts again on another port when it could not bind."""

import sys

import e2e_lib
from e2e_lib import Server, check, request


def main(binary):
    with Server(binary) as other:
        handed = [other.port]
        real_free_port = e2e_lib.free_port
        # The next port picked is the other server's; every later pick is free.
        e2e_lib.free_port = lambda: handed.pop() if handed else real_free_port()
        try:
            ours = Server(binary)
            check(ours.port == other.port, "the first pick is the taken port")
            with ours:
                check(ours.port != other.port,
                      "started on the other server's port %d (its /readyz taken for ours)" %
                      other.port)
                check(ours.proc.poll() is None, "our server exited: %s" % ours.read_log())
                status, _, _ = request(ours.url + "/readyz")
                check(status == 200, "our server on %d answered /readyz %d" % (ours.port, status))
                check("Address already in use" in ours.read_log(100000),
                      "the first start did not find the port taken: %s" % ours.read_log())
        finally:
            e2e_lib.free_port = real_free_port
    print("e2e_server_port: OK (started again on %d after %d was taken)" % (ours.port,
                                                                           other.port))


if __name__ == "__main__":
    main(sys.argv[1])
