"""Time zones on the server: `?tz=` on the ingest doors, `timezone`, `timezone_by_service` and
`timezone_by_tenant` in the configuration (docs/ingest.md "Time zones"), on real lines."""

import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

from e2e_lib import Server, check, request

# loghub_2k/Zookeeper/Zookeeper_2k.log lines 1-2 (log4j, no zone; July: Berlin is UTC+2).
ZK = [
    "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
    "2015-07-29 19:04:12,394 - INFO  [/10.10.34.11:3888:QuorumCnxManager$Listener@493] - Received connection request /10.10.34.11:45307",
]
ZK_UTC = ["2015-07-29T17:41:44.747000000Z", "2015-07-29T19:04:12.394000000Z"]
ZK_BERLIN = ["2015-07-29T15:41:44.747000000Z", "2015-07-29T17:04:12.394000000Z"]
# elastic_apache_access/apache_logs line 1: the offset is written, no default zone moves it.
APACHE = ('83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-'
          '2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/'
          'logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/'
          '537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"')
# mordor_windows_events/covenant_psremoting_command_2020-08-06115603.json: NXLog's local
# EventReceivedTime of the first event; Logstash's @timestamp of it is 2020-08-06T15:56:07.158Z.
NXLOG_LOCAL = "2020-08-06 11:56:07"
NXLOG_NEW_YORK = "2020-08-06T15:56:07.000000000Z"


def times(s, service, headers=None):
    params = urllib.parse.urlencode({"q": "service=%s" % service, "all_time": "1",
                                     "cache": "0"})
    status, _, body = request(s.url + "/api/v1/search?" + params, headers=headers or {})
    check(status == 200, "search %s: %d %s" % (service, status, body))
    return {h["message"]: h["ts"] for h in json.loads(body)["hits"]}


def ingest(s, service, lines, headers=None, **params):
    params["service"] = service
    status, _, body = s.ingest("\n".join(lines) + "\n", params=params, headers=headers)
    check(status == 200, "ingest %s %r: %d %s" % (service, params, status, body))


def main(binary):
    tmp = tempfile.mkdtemp(prefix="sawmill_timezone_")
    config = os.path.join(tmp, "sawmill.yaml")
    with open(config, "w") as f:
        f.write("timezone_by_service: {zookeeper: Europe/Berlin}\n"
                "timezone_by_tenant:\n  acme: America/New_York\n")
    with Server(binary, extra_args=["--config", config]) as s:
        # No zone configured for the service: UTC, as before.
        ingest(s, "plain", ZK)
        # The service's zone from the configuration.
        ingest(s, "zookeeper", ZK)
        # ?tz= on the request.
        ingest(s, "asked", ZK, tz="Europe/Berlin")
        # ?tz= wins over the service's zone.
        ingest(s, "zookeeper2", ZK, tz="UTC")
        # A written offset wins over ?tz=.
        ingest(s, "apache", [APACHE], tz="Europe/Berlin")
        # The tenant's zone from the configuration.
        acme = {"X-Scope-OrgID": "acme"}
        ingest(s, "nxlog", [NXLOG_LOCAL + " received"], headers=acme)
        # Elasticsearch _bulk: a zone-less @timestamp under ?tz=.
        bulk = "".join('{"index":{}}\n' + json.dumps({"@timestamp": line[:23], "message": line,
                                                       "service": "esbulk"}) + "\n"
                       for line in ZK)
        status, _, body = request(s.url + "/_bulk?tz=Europe%2FBerlin", method="POST",
                                  body=bulk.encode(),
                                  headers={"Content-Type": "application/x-ndjson"})
        check(status == 200 and b'"errors":false' in body, "bulk: %d %s" % (status, body))

        # `sawmill ingest --tz` passes it on.
        result = subprocess.run([binary, "ingest", "--server", s.url, "--service", "cli", "-q",
                                 "--tz", "Europe/Berlin"], input="\n".join(ZK) + "\n",
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, "sawmill ingest --tz: %s" % result.stderr)

        expect_berlin = dict(zip(ZK, ZK_BERLIN))
        expect_utc = dict(zip(ZK, ZK_UTC))
        for service, expected in (("plain", expect_utc), ("zookeeper", expect_berlin),
                                  ("asked", expect_berlin), ("zookeeper2", expect_utc),
                                  ("esbulk", expect_berlin), ("cli", expect_berlin)):
            got = times(s, service)
            check(got == expected, "%s: expected %r, got %r" % (service, expected, got))
            print("ok: %s: %s" % (service, sorted(got.values())))
        got = times(s, "apache")
        check(list(got.values()) == ["2015-05-17T10:05:03.000000000Z"],
              "a written +0000 must win over tz: %r" % got)
        got = times(s, "nxlog", headers=acme)
        check(list(got.values()) == [NXLOG_NEW_YORK],
              "tenant acme reads local times in America/New_York: %r" % got)
        print("ok: written offset kept; tenant zone applied")

        # A bad ?tz= is refused with 400 naming the parameter and the value, at every door.
        for path, body in (("/api/v1/ingest", b"x\n"),
                           ("/_bulk", b'{"index":{}}\n{"message":"x"}\n'),
                           ("/loki/api/v1/push",
                            b'{"streams":[{"stream":{"service":"x"},"values":[["1","x"]]}]}')):
            status, _, answer = request(s.url + path + "?tz=Europe%2FBerln", method="POST",
                                        body=body, headers={"Content-Type": "application/json"})
            check(status == 400 and b"tz: time zone 'Europe/Berln'" in answer,
                  "%s with a bad tz: %d %s" % (path, status, answer))
        status, _, answer = s.ingest("x\n", params={"tz": "../../etc/passwd"})
        check(status == 400 and b"'.' or '..' path component" in answer,
              "path in tz: %d %s" % (status, answer))
        print("ok: bad tz refused: %s" % answer.decode())
        check(s.stop() == 0, "exit code")

    # A zone the database does not know stops the server at start, naming the option.
    with open(config, "w") as f:
        f.write("data: %s\ntimezone_by_service: {kafka: Europe/Berln}\n" % os.path.join(tmp, "d"))
    result = subprocess.run([binary, "server", "--config", config], capture_output=True,
                            text=True, timeout=30)
    check(result.returncode == 2 and
          "timezone_by_service: kafka: time zone 'Europe/Berln'" in result.stderr,
          "unknown zone in the config: exit %d, %s" % (result.returncode, result.stderr))
    print("ok: " + result.stderr.strip())
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
