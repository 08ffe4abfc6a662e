"""Builds a peer from a local Go source and caches the binary (nothing is ever downloaded).

A source is given by an environment variable (LOKI_SRC, VL_SRC) in one of two forms:
  /path/to/checkout          a source tree (its go.mod at the top), built as it is;
  /path/to/git-dir[@REV]     a git directory (bare or not): REV (default: the peer's tested
                             tag) is extracted into the cache and built.
The build runs `go build` with GOPROXY=off, GOFLAGS=-mod=vendor and GOTOOLCHAIN=local, so a
source without its vendored modules fails instead of fetching them. The binary is cached under
BUILD/peers/ by its source revision and reused by later runs.
"""

import hashlib
import os
import shutil
import subprocess

from benchlib.common import BUILD, log


class PeerUnavailable(Exception):
    """The peer cannot run here; the message says why and what to set."""


def _git(gitdir, *args, **kw):
    return subprocess.run(["git", "--git-dir", gitdir] + list(args), capture_output=True, **kw)


def _git_dir(path):
    """The git directory of "path" (bare or a checkout's .git), or None."""
    for cand in (path, os.path.join(path, ".git")):
        if os.path.isfile(os.path.join(cand, "HEAD")) and os.path.isdir(os.path.join(cand, "objects")):
            return cand
    return None


def _extract(gitdir, rev, out):
    """Writes the tree of "rev" into "out". Blobs the git directory does not hold (a partial
    mirror leaves out some large files) are skipped and returned: the build tells whether the
    binary needed them."""
    listing = _git(gitdir, "ls-tree", "-r", "-z", rev)
    if listing.returncode != 0:
        raise PeerUnavailable(f"{gitdir} has no revision {rev}: "
                              f"{listing.stderr.decode(errors='replace').strip()}")
    entries = []
    for rec in listing.stdout.split(b"\0"):
        if rec:
            meta, path = rec.split(b"\t", 1)
            mode, kind, sha = meta.split()
            if kind == b"blob":
                entries.append((mode, sha, path.decode()))
    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    missing = []
    cat = subprocess.Popen(["git", "--git-dir", gitdir, "cat-file", "--batch"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for mode, sha, path in entries:
            cat.stdin.write(sha + b"\n")
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if len(header) < 3 or header[1] == b"missing":
                missing.append(path)
                continue
            data = cat.stdout.read(int(header[2]))
            cat.stdout.read(1)
            dst = os.path.join(tmp, path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if mode == b"120000":
                os.symlink(data.decode(), dst)
            else:
                with open(dst, "wb") as f:
                    f.write(data)
                if mode == b"100755":
                    os.chmod(dst, 0o755)
    finally:
        cat.stdin.close()
        cat.wait()
    os.replace(tmp, out)
    return missing


def peer_binary(name, env_var, default_rev, package, out_name, cgo=False, ldflags=""):
    """The path of the peer's binary, built from $env_var if not cached yet.
    Raises PeerUnavailable with the reason (no source given, no Go, build failed)."""
    spec = os.environ.get(env_var, "").strip()
    if not spec:
        raise PeerUnavailable(f"not run (set {env_var}=<git dir>[@{default_rev}] or "
                              f"<source checkout>; see docs/performance.md)")
    path, _, rev = spec.partition("@")
    path = os.path.abspath(path)
    gitdir = _git_dir(path)
    cache = os.path.join(BUILD, "peers")
    os.makedirs(cache, exist_ok=True)
    if os.path.isfile(os.path.join(path, "go.mod")) and not rev:
        src = path  # a checkout: built as it is
        head = _git(gitdir, "rev-parse", "--short=12", "HEAD") if gitdir else None
        ident = head.stdout.decode().strip() if head and head.returncode == 0 else "tree"
        ident = f"{ident}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"
        missing = []
    elif gitdir:
        rev = rev or default_rev
        r = _git(gitdir, "rev-parse", "--short=12", rev + "^{commit}")
        if r.returncode != 0:
            raise PeerUnavailable(f"{env_var}: {gitdir} has no revision {rev}")
        ident = r.stdout.decode().strip()
        src = os.path.join(cache, f"src-{out_name}-{ident}")
        missing = []
        if not os.path.isdir(src) and not os.access(os.path.join(cache, f"{out_name}-{ident}"),
                                                    os.X_OK):
            log(f"peers: extracting {name} {rev} ({ident}) from {gitdir}")
            missing = _extract(gitdir, rev, src)
    else:
        raise PeerUnavailable(f"{env_var}={spec}: neither a source checkout (go.mod) nor a git "
                              "directory")
    binary = os.path.join(cache, f"{out_name}-{ident}")
    if os.access(binary, os.X_OK):
        return binary, ident
    go = shutil.which("go")
    if not go:
        raise PeerUnavailable("not run: no `go` (Debian's golang-go; scripts/install-deps.sh)")
    env = dict(os.environ, GOPROXY="off", GOFLAGS="-mod=vendor", GOTOOLCHAIN="local",
               GOSUMDB="off", GOCACHE=os.path.join(cache, "gocache"),
               GOPATH=os.path.join(cache, "gopath"), CGO_ENABLED="1" if cgo else "0")
    log(f"peers: building {name} ({ident}) with {go}; this takes minutes once, then it is cached")
    cmd = ["nice", "-n", "10", go, "build", "-trimpath", "-o", binary + ".tmp"]
    if ldflags:
        cmd += ["-ldflags", ldflags]
    r = subprocess.run(cmd + [package], cwd=src, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        note = f" (the source lacks {len(missing)} files: {', '.join(missing[:3])})" if missing else ""
        raise PeerUnavailable(f"not run: building {name} from {spec} failed{note}: "
                              f"{r.stderr.strip()[-600:]}")
    os.replace(binary + ".tmp", binary)
    return binary, ident
