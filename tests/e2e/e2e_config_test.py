"""`sawmill server --config FILE`: the file sets options, flags win over it, a bad file is a
usage error that says where."""

import os
import subprocess
import sys
import tempfile

from e2e_lib import Server, check, free_port


def main(binary):
    tmp = tempfile.mkdtemp(prefix="sawmill_config_")
    config = os.path.join(tmp, "sawmill.yaml")
    with open(config, "w") as f:
        f.write("# test\nhttp: 127.0.0.1:%d\nmax_body: 1KiB\nmax_line: 100\n" % free_port())
    with Server(binary, extra_args=["--config", config]) as s:
        status, _, body = s.ingest(b"z" * 2048 + b"\n")
        check(status == 413 and b"1 KiB" in body, "max_body from the file: %d %s" % (status, body))
        status, _, body = s.ingest(b"w" * 500 + b"\n")
        check(status == 200 and b'"truncated":1' in body, "max_line from the file: %s" % body)
        check(s.stop() == 0, "exit code")
    with Server(binary, extra_args=["--config", config, "--max-body", "4KiB"]) as s:
        status, _, body = s.ingest(b"z" * 2048 + b"\n")
        check(status == 200, "the flag did not win over the file: %d %s" % (status, body))
        s.stop()
    with open(config, "w") as f:
        f.write("data: /tmp/x\nmax_bodyy: 1KiB\n")
    result = subprocess.run([binary, "server", "--config", config], capture_output=True,
                            text=True, timeout=30)
    check(result.returncode == 2 and "line 2" in result.stderr and "max_bodyy" in result.stderr,
          "unknown key: exit %d, %s" % (result.returncode, result.stderr))
    result = subprocess.run([binary, "server"], capture_output=True, text=True, timeout=30)
    check(result.returncode == 2 and "--data" in result.stderr, "missing --data: %s" %
          result.stderr)
    result = subprocess.run([binary, "server", "--data", tmp, "--http", "999.1.1.1:80"],
                            capture_output=True, text=True, timeout=30)
    check(result.returncode != 0 and "999.1.1.1" in result.stderr, "bad address: %s" %
          result.stderr)
    print("PASS")


if __name__ == "__main__":
    main(sys.argv[1])
