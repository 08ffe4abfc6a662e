"""Connection guards of the real server: a client that drips its request is closed within
read_timeout, one address cannot take every connection, a web page cannot post to a server on
loopback (Host and Origin checks), and every datagram of a UDP syslog burst is either stored or
counted as dropped by the kernel."""

import socket
import sys
import time

from e2e_lib import Server, check, free_port, metric_value, request


def drip_until_closed(port, data, gap):
    """Sends "data" a byte every "gap" seconds until the server closes the connection;
    returns the seconds from the first byte to the close (None after 20 s)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(gap)
    start = time.time()
    try:
        for i in range(100000):
            if time.time() - start > 20:
                return None
            try:
                sock.send(data[i % len(data):i % len(data) + 1])
            except OSError:
                return time.time() - start  # reset by the server
            try:
                if sock.recv(1) == b"":
                    return time.time() - start
            except socket.timeout:
                pass
            except OSError:
                return time.time() - start
    finally:
        sock.close()
    return None


def connect_from(source, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(30)
    return sock


def get(sock, path="/healthz", host="127.0.0.1"):
    """One GET on an open connection; returns (status, body)."""
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
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
    return int(head.split()[1]), rest


def metrics_from(source, port):
    sock = connect_from(source, port)
    try:
        status, body = get(sock, "/metrics")
    finally:
        sock.close()
    check(status == 200, "/metrics from %s: %s" % (source, status))
    return body.decode()


def main(binary):
    syslog_port = free_port()
    args = ["--read-timeout", "1s", "--idle-timeout", "60s",
            "--max-connections-per-address", "3", "--connection-cap-exempt", "10.255.0.0/16",
            "--syslog", "127.0.0.1:%d" % syslog_port, "--syslog-udp-buffer", "4KiB"]
    with Server(binary, extra_args=args) as s:
        # Start-up says once where syslog listens (it used to say it twice).
        # (/readyz answers before syslog starts: wait for its line, then a little longer.)
        def syslog_lines():
            return [line for line in s.read_log().splitlines()
                    if "listening" in line and "syslog" in line]
        deadline = time.time() + 10
        while not syslog_lines() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        said = syslog_lines()
        check(len(said) == 1 and said[0].endswith(
            "syslog: listening on 127.0.0.1:%d (TCP and UDP)" % syslog_port),
              "syslog listening lines: %r" % said)
        # A request dripping in: closed read_timeout after its first byte, not idle_timeout.
        took = drip_until_closed(s.port, b"POST /api/v1/ingest HTTP/1.1\r\nX-Drip: " + b"a" * 200,
                                 0.1)
        # The upper bound leaves a loaded machine 4 s to run the timer and the close; a
        # timeout that each byte restarted would never close (None after 20 s).
        check(took is not None and 0.9 <= took <= 5,
              "header drip: closed after %s s (read_timeout 1 s)" % took)
        # The server counts the timeout in the handler that runs after the socket is closed:
        # under load the client can see the close first, so give the count a moment.
        deadline = time.time() + 10
        while (metric_value(s.metrics(), "sawmill_http_connection_timeouts_total",
                            phase="request") < 1 and time.time() < deadline):
            time.sleep(0.05)
        check(metric_value(s.metrics(), "sawmill_http_connection_timeouts_total",
                           phase="request") >= 1, "the request timeout was not counted")

        # One address holding its cap of connections: the next from it gets 429, another
        # address is still served.
        # The server frees an address's slot when it has finished with a closed connection,
        # which under load can be a moment after the client saw the close (the drip above, the
        # metrics requests): until then the three may not all fit, so retry for a while.
        deadline = time.time() + 10
        while True:
            held = [connect_from("127.0.0.1", s.port) for _ in range(3)]
            statuses = [get(sock)[0] for sock in held]
            if statuses == [200] * 3 or time.time() > deadline:
                break
            for sock in held:
                sock.close()
            time.sleep(0.1)
        check(statuses == [200] * 3, "held connections: %s" % statuses)
        # Metrics are read from a third address: one more connection from 127.0.0.1 would be
        # refused while the three are held (or until the server has let them go).
        refused_before = metric_value(metrics_from("127.0.0.3", s.port),
                                      "sawmill_http_connections_refused_total",
                                      reason="per_address")
        extra = connect_from("127.0.0.1", s.port)
        status, body = get(extra)
        check(status == 429 and b"too many connections from 127.0.0.1" in body,
              "past the per-address cap: %s %s" % (status, body))
        extra.close()
        other = connect_from("127.0.0.2", s.port)
        status, body = get(other)
        check(status == 200, "another address was locked out: %s %s" % (status, body))
        other.close()
        for sock in held:
            sock.close()
        check(metric_value(metrics_from("127.0.0.3", s.port),
                           "sawmill_http_connections_refused_total",
                           reason="per_address") > refused_before, "the refusal was not counted")
        # Closed, the slots come back: 127.0.0.1 is served again (the rest of the test uses it).
        deadline = time.time() + 10
        while True:
            sock = connect_from("127.0.0.1", s.port)
            status, _ = get(sock)
            sock.close()
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(status == 200, "127.0.0.1 still refused after closing its connections: %s" % status)

        # A web page cannot post: DNS rebinding (a foreign Host), a cross-site form (a foreign
        # Origin), the admin routes.
        foreign = "evil.example:%d" % s.port
        status, _, body = s.ingest("rebindmark\n", headers={"Host": foreign,
                                                             "Origin": "http://" + foreign})
        check(status == 403 and b"does not name this server" in body,
              "DNS rebinding: %d %s" % (status, body))
        status, _, body = s.ingest("crosssitemark\n", headers={"Origin": "https://evil.example",
                                                                "Content-Type": "text/plain"})
        check(status == 403 and b"cross-origin request refused" in body,
              "cross-site POST: %d %s" % (status, body))
        status, _, body = request(s.url + "/api/v1/admin/flush", method="POST", body=b"",
                                  headers={"Origin": "https://evil.example"})
        check(status == 403, "cross-site admin: %d %s" % (status, body))
        # Same origin and clients without Origin are served.
        status, _, body = s.ingest("sameoriginmark\n", headers={"Origin": s.url})
        check(status == 200, "same origin: %d %s" % (status, body))
        check(s.count("rebindmark") + s.count("crosssitemark") == 0,
              "a refused request was stored")
        check(s.count("sameoriginmark") == 1, "the same-origin request was not stored")

        # A UDP syslog burst into a 4 KiB receive buffer: stored + counted drops == sent.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for i in range(20000):
            try:
                udp.sendto(b"<13>1 - burst app - - - udpburstmark %d" % i,
                           ("127.0.0.1", syslog_port))
                sent += 1
            except OSError:
                pass
        udp.close()
        # Datagrams are counted as received when parsed, and searchable once their batch is
        # stored: wait until every datagram is stored or counted as dropped.
        deadline = time.time() + 60
        while True:
            text = s.metrics()
            received = metric_value(text, "sawmill_syslog_messages_total", transport="udp")
            dropped = metric_value(text, "sawmill_syslog_dropped_total", reason="kernel_buffer")
            stored = s.count("udpburstmark")
            if stored + dropped >= sent or time.time() > deadline:
                break
            time.sleep(0.2)
        text = s.metrics()  # again, now that everything has arrived
        received = metric_value(text, "sawmill_syslog_messages_total", transport="udp")
        dropped = metric_value(text, "sawmill_syslog_dropped_total", reason="kernel_buffer")
        refused = metric_value(text, "sawmill_syslog_dropped_total", reason="storage_refused")
        print("UDP burst: sent %d, stored %d, kernel drops %d, refused %d"
              % (sent, stored, dropped, refused))
        check(dropped > 0, "a 20,000-datagram burst did not overflow a 4 KiB buffer")
        check(refused == 0 and stored == received,
              "received %d but stored %d" % (received, stored))
        check(stored + dropped == sent,
              "sent %d, stored %d + counted drops %d" % (sent, stored, dropped))
        check(s.stop() == 0, "exit code")
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
