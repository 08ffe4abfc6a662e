"""A search over segments really moved to S3 (the ctest fixture s3_store: OpenStack Swift's s3api
on loopback): ingest (generated lines and a real dataset), `sawmill admin tiers move --to cold`,
and the same searches answer exactly the same lines as before the move (a differential test).
The first search over cold data fetches its byte ranges from the store (stats.cold_bytes_fetched,
the store's request counter moves); the second is answered from the local cold cache
(stats.cold_bytes_cached, no request to the store). The segment files are gone from the data
directory, and a restart keeps it all (the cache is kept too)."""

import datetime
import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from e2e_cold_store_test import create_bucket, fixture_env
from e2e_lib import Server, check, ingest_tier_corpus, metric_value, search_answers, tier_table

QUERIES = [
    "*",
    "level=ERROR",
    "service=payments",
    "timeout",
    "user_id=u7",
    "status>=500",
    "* | count by service, level",
    "service=loghub_Linux",
    "session opened",
]


def answers(s):
    return search_answers(s, QUERIES, cache="0")


tiers = tier_table


def requests_sent(s):
    return metric_value(s.metrics(), "sawmill_cold_store_requests_total") or 0


def s3(env, method, key, query, body=b""):
    """One SigV4-signed request to the fixture's S3 API, as any S3 client sends it: what the
    test uses to leave an unfinished multipart upload behind and to list them."""
    endpoint = env["AWS_ENDPOINT_URL"]
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    path = "/" + urllib.parse.quote(key, safe="/-_.~")
    canonical_query = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                          urllib.parse.quote(v, safe="-_.~"))
                               for k, v in sorted(query.items()))
    canonical = "%s\n%s\n%s\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n" \
                "host;x-amz-content-sha256;x-amz-date\n%s" % (method, path, canonical_query, host,
                                                               payload, amzdate, payload)
    region = env["AWS_REGION"]
    scope = "%s/%s/s3/aws4_request" % (day, region)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amzdate, scope,
                                                hashlib.sha256(canonical.encode()).hexdigest())
    signing = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;" \
           "x-amz-date, Signature=%s" % (env["AWS_ACCESS_KEY_ID"], scope, signature)
    url = endpoint + path + ("?" + canonical_query if canonical_query else "")
    req = urllib.request.Request(url, method=method, data=body if method in ("PUT", "POST")
                                 else None, headers={"x-amz-date": amzdate,
                                                     "x-amz-content-sha256": payload,
                                                     "Authorization": auth})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=60) as answer:
        return answer.read().decode()


def leave_upload_behind(env, key):
    """Starts a multipart upload and sends its first part, then never completes nor aborts it
    (what a server killed mid-upload leaves). Returns its upload id."""
    answer = s3(env, "POST", key, {"uploads": ""})
    upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", answer).group(1)
    s3(env, "PUT", key, {"partNumber": "1", "uploadId": upload_id}, b"x" * (1 << 20))
    return upload_id


def unfinished_uploads(env, key_prefix):
    answer = s3(env, "GET", "sawmill-e2e", {"uploads": "", "prefix": key_prefix})
    return re.findall(r"<UploadId>([^<]+)</UploadId>", answer)


def main(binary, shared, store_dir):
    env = fixture_env(shared, store_dir)
    create_bucket(env, "sawmill-e2e")
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    prefix = "cold-search-%d" % os.getpid()
    # An upload a killed server left behind: aborted by the reconciliation at start.
    left = leave_upload_behind(env, "sawmill-e2e/%s/default/999999.seg" % prefix)
    check(unfinished_uploads(env, prefix + "/") == [left], "the upload left behind is listed")
    # Swift reports an upload's Initiated time rounded up to the next whole second, so with a
    # grace of 0 s an upload begun less than a second before the server starts still looks
    # younger than the grace (and is rightly left alone): let that second pass.
    time.sleep(1.5)
    args = ["--cold-store", "s3://sawmill-e2e/" + prefix, "--tier-interval", "0",
            "--compaction", "off", "--cold-store-upload-grace", "0s"]
    s = Server(binary, extra_args=args).start()
    try:
        check(unfinished_uploads(env, prefix + "/") == [],
              "the upload left behind was not aborted at start: %s" % s.read_log())
        check("999999.seg?uploadId=" + left in s.read_log(), "no log line names the aborted "
              "upload: %s" % s.read_log())
        check(metric_value(s.metrics(), "sawmill_cold_store_incomplete_uploads_aborted_total") == 1,
              "the aborted upload is not counted")
        print("start: the unfinished upload left behind was aborted, logged and counted")
        ingest_tier_corpus(binary, s, shared)
        before = answers(s)
        check(len(before["*"]) > 2000, "lines before: %d" % len(before["*"]))
        check(len(before["level=ERROR"]) > 0 and len(before["session opened"]) > 0,
              "the queries must find something: %s" % {q: len(v) for q, v in before.items()})

        result = subprocess.run([binary, "admin", "tiers", "move", "--older-than", "0s", "--to",
                                 "cold", "--server", s.url], capture_output=True, text=True,
                                timeout=600)
        check(result.returncode == 0, "tiers move: %s%s" % (result.stdout, result.stderr))
        cold = tiers(s)
        check(cold["hot"]["segments"] == 0 and cold["warm"]["segments"] == 0 and
              cold["cold"]["segments"] > 0 and cold["cold"]["rows"] == len(before["*"]),
              "not everything went cold: %r" % cold)
        check(not any(f for _, _, fs in os.walk(os.path.join(s.data_dir, "segments")) for f in fs),
              "segment files left in the data directory after everything went cold")
        check(not os.path.exists(os.path.join(s.data_dir, "cold")),
              "cold objects in the data directory, not in S3")
        uploaded = metric_value(s.metrics(), "sawmill_cold_store_bytes_uploaded_total") or 0
        check(uploaded >= cold["cold"]["bytes"], "uploaded %s of %d cold bytes" % (
            uploaded, cold["cold"]["bytes"]))

        # First time: the ranges come from S3. Second time: from the cold cache, no request.
        # (The first may also take from the cache a range it already fetched: a small warm
        # block is one shared frame (format version 8), which the level filter and then the
        # rows both read.)
        q = "level=ERROR"
        sent = requests_sent(s)
        status, first = s.search(q, limit="10000", cache="0")
        check(status == 200, "cold search: %d %s" % (status, first))
        stats = first["stats"]
        check(stats["cold_segments"] == cold["cold"]["segments"] and
              stats["cold_bytes_fetched"] > 0 and
              stats["cold_bytes_fetched"] <= stats["cold_bytes"],
              "first cold search stats: %s" % stats)
        check(requests_sent(s) > sent, "the first cold search sent no request to S3")
        check(sorted((h["id"], h["message"]) for h in first["hits"]) == before[q],
              "the first cold search answers differently")
        sent = requests_sent(s)
        status, second = s.search(q, limit="10000", cache="0")
        stats2 = second["stats"]
        check(status == 200 and stats2["cold_bytes_fetched"] == 0 and
              stats2["cold_bytes_cached"] >= stats2["bytes_read_compressed"] > 0,
              "second cold search stats: %s (first: %s)" % (stats2, stats))
        check(requests_sent(s) == sent, "the second search sent %d requests to S3" % (
            requests_sent(s) - sent))
        check(second["hits"] == first["hits"], "the cached search answers differently")
        print("cold search: first %d bytes fetched, second %d bytes from the cache, 0 requests" %
              (stats["cold_bytes_fetched"], stats2["cold_bytes_cached"]))

        after = answers(s)
        for q in QUERIES:
            check(after[q] == before[q], "query %r answers differently after the move to S3" % q)
        check(s.stop() == 0, "exit code")
        s.start()
        check(answers(s) == before, "answers changed by a restart")
        check(tiers(s)["cold"]["segments"] == cold["cold"]["segments"], "tiers after restart")
        print("%d queries answer the same lines before and after the move to S3" % len(QUERIES))
        check(s.stop() == 0, "exit code")

        # Periodically too: an upload left behind while the server runs is aborted by the next
        # tier round (every second here; nothing is left to move).
        s.extra_args = args[:2] + ["--tier-interval", "1s", "--compaction", "off",
                                   "--cold-store-upload-grace", "10s"]
        s.start()
        left = leave_upload_behind(env, "sawmill-e2e/%s/default/888888.seg" % prefix)
        # (S3 may state an upload's start to the second: checked well inside the grace, which
        # is long enough that a loaded machine's pauses before the look do not reach it; after
        # 3 s, so that tier rounds, every second, came by: one ignoring the grace aborts it.)
        time.sleep(3)
        check(unfinished_uploads(env, prefix + "/") == [left],
              "an upload younger than the grace period was aborted")
        deadline = time.time() + 60
        while unfinished_uploads(env, prefix + "/"):
            check(time.time() < deadline, "the upload left behind was never aborted: %s" %
                  s.read_log())
            time.sleep(0.5)
        check("888888.seg?uploadId=" + left in s.read_log(), "no log line for the periodic abort")
        check(metric_value(s.metrics(), "sawmill_cold_store_incomplete_uploads_aborted_total") == 1,
              "the periodic abort is not counted")
        check(answers(s) == before, "answers changed by the periodic sweep")
        print("running: an upload left behind was aborted by a tier round after its grace period")
    except Exception:
        sys.stderr.write("server log:\n" + s.read_log() + "\n")
        raise
    finally:
        s.stop()
        s.cleanup()
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
