"""`sawmill server --cold-store s3://BUCKET/PREFIX` against a real S3 API (the ctest fixture
s3_store: OpenStack Swift's s3api on loopback): the server checks the store at start, takes the
endpoint and keys from the standard AWS_* variables, and stops with a clear error for wrong keys,
a missing bucket or a bad URL."""

import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import urllib.request

from e2e_lib import Server, check, request


def fixture_env(shared_dir, store_dir):
    """The fixture's AWS_* variables, as `s3-swift.sh env DIR` prints them."""
    out = subprocess.run(["bash", os.path.join(shared_dir, "scripts", "s3-swift.sh"), "env",
                          store_dir], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, "no S3 API under %s (the fixture s3_store must run first): %s" %
          (store_dir, out.stderr))
    env = {}
    for line in out.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export "):].split("=", 1)
            env[name] = value.strip("'")
    return env


def create_bucket(env, bucket):
    """PUT /bucket, signed with SigV4 (the server never creates buckets)."""
    endpoint = env["AWS_ENDPOINT_URL"]
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.utcnow()
    amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    canonical = "PUT\n/%s\n\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n" \
                "host;x-amz-content-sha256;x-amz-date\n%s" % (bucket, host, payload, amzdate,
                                                               payload)
    region = env["AWS_REGION"]
    scope = "%s/%s/s3/aws4_request" % (day, region)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amzdate, scope,
                                                hashlib.sha256(canonical.encode()).hexdigest())
    key = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;" \
           "x-amz-date, Signature=%s" % (env["AWS_ACCESS_KEY_ID"], scope, signature)
    req = urllib.request.Request("%s/%s" % (endpoint, bucket), method="PUT", data=b"", headers={
        "x-amz-date": amzdate, "x-amz-content-sha256": payload, "Authorization": auth})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        check(e.code == 409, "create bucket %s: %d %s" % (bucket, e.code, e.read()[:300]))


def run_server(binary, args, env, timeout=60):
    return subprocess.run([binary, "server", "--http", "127.0.0.1:0"] + args,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **env))


def main(binary, shared_dir, store_dir):
    env = fixture_env(shared_dir, store_dir)
    create_bucket(env, "sawmill-e2e")
    aws = {k: v for k, v in env.items() if k.startswith("AWS_")}
    os.environ.update(aws)
    prefix = "e2e-%d" % os.getpid()

    # Keys and endpoint from the standard variables: the server starts, ingests and searches.
    with Server(binary, extra_args=["--cold-store", "s3://sawmill-e2e/" + prefix]) as s:
        status, _, body = s.ingest(b"hello cold world\n")
        check(status == 200, "ingest: %d %s" % (status, body))
        check(s.count("hello") == 1, "search")
        check("cold store: s3://sawmill-e2e/" + prefix in s.read_log(),
              "the log names the cold store: %s" % s.read_log())
        check(os.path.isdir(os.path.join(s.data_dir, "cold-cache")),
              "the cold cache is under the data directory")
        check("sawmill_cold_cache_bytes" in s.metrics() and
              "sawmill_cold_store_requests_total" in s.metrics(), "cold store metrics")
        # Search progress: a search sent with progress_id reports cold stats; the progress
        # endpoint says it is no longer running once answered; a bad id is refused.
        status, answer = s.search("hello", progress_id="cli-1234")
        check(status == 200 and answer["stats"]["cold_segments"] == 0 and
              "cold_bytes_fetched" in answer["stats"], "search with progress_id: %s" % answer)
        status, _, body = request(s.url + "/api/v1/search/progress?id=cli-1234")
        check(status == 200 and json.loads(body) == {"running": False}, "progress: %s" % body)
        status, answer = s.search("hello", progress_id="not ok!")
        check(status == 400 and "progress_id" in answer["error"], "bad progress_id: %s" % answer)
        check(s.stop() == 0, "exit code")

    tmp = os.path.join(os.getcwd(), "cold_store_e2e_%d" % os.getpid())
    os.makedirs(tmp, exist_ok=True)
    # Wrong secret: exit 1 at start, saying the store refused the keys.
    result = run_server(binary, ["--data", tmp, "--cold-store", "s3://sawmill-e2e/" + prefix],
                        dict(aws, AWS_SECRET_ACCESS_KEY="wrong"))
    check(result.returncode == 1 and "HTTP 403" in result.stderr and
          "refused the credentials" in result.stderr,
          "wrong secret: exit %d, %s" % (result.returncode, result.stderr))
    # A bucket that does not exist.
    result = run_server(binary, ["--data", tmp, "--cold-store", "s3://no-such-bucket-e2e/x"], aws)
    check(result.returncode == 1 and "404 NoSuchBucket" in result.stderr and
          "bucket" in result.stderr,
          "missing bucket: exit %d, %s" % (result.returncode, result.stderr))
    # No keys at all: the message names the variables.
    no_keys = dict(aws, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
    result = run_server(binary, ["--data", tmp, "--cold-store", "s3://sawmill-e2e/x"], no_keys)
    check(result.returncode == 1 and "AWS_ACCESS_KEY_ID" in result.stderr,
          "no keys: exit %d, %s" % (result.returncode, result.stderr))
    # Not an s3:// URL: a usage error naming the option.
    result = run_server(binary, ["--data", tmp, "--cold-store", "/mnt/archive"], aws)
    check(result.returncode == 2 and "cold_store" in result.stderr and
          "s3://" in result.stderr, "bad URL: exit %d, %s" % (result.returncode, result.stderr))
    subprocess.run(["rm", "-rf", tmp])
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
