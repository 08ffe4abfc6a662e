"""The generated corpus (bench_gen_corpus), the real datasets and their zstd baselines."""

import json
import os

from benchlib.common import (CORPUS_DIR, GEN, GENERATOR_VERSION, REAL, WORK, ZSTD19_SAMPLE,
                             fmt_bytes, log, run)

def ensure_corpus(lines, max_line_bytes=0):
    """The corpus file and its manifest, generated once and reused while N and the generator
    version match. "max_line_bytes" > 0: the fixed-size-lines variant (a separate file)."""
    os.makedirs(CORPUS_DIR, exist_ok=True)
    stem = f"corpus-{lines}" if not max_line_bytes else f"lines{max_line_bytes}-{lines}"
    path = os.path.join(CORPUS_DIR, stem + ".ndjson")
    manifest_path = path + ".manifest.json"
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
        if (manifest.get("generator_version") == GENERATOR_VERSION and
                manifest.get("lines") == lines and os.path.getsize(path) == manifest.get("bytes")):
            log(f"corpus: reusing {path}")
            return path, manifest
    except (OSError, ValueError):
        pass
    log(f"corpus: generating {lines:,} lines into {path}")
    cmd = [GEN, "--lines", str(lines), "--out", path, "--data", REAL]
    if max_line_bytes:
        cmd += ["--max-line-bytes", str(max_line_bytes)]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("bench_gen_corpus failed: " + r.stderr.strip())
    with open(manifest_path) as f:
        return path, json.load(f)


def corpus_head(corpus, lines, path):
    """Writes the first "lines" lines of the corpus to "path"; returns path."""
    with open(corpus, "rb") as src, open(path, "wb") as dst:
        for i, line in enumerate(src):
            if i >= lines:
                break
            dst.write(line)
    return path


def dataset_files(name):
    out = []
    for dirpath, _, filenames in os.walk(os.path.join(REAL, name)):
        for fn in filenames:
            if fn == "LICENSE" or fn.endswith("_structured.csv") or fn.endswith("_templates.csv"):
                continue
            out.append(os.path.join(dirpath, fn))
    return sorted(out)


def datasets():
    try:
        return sorted(d for d in os.listdir(REAL) if os.path.isdir(os.path.join(REAL, d)))
    except OSError:
        return []


def dataset_raw(name):
    """One file with the dataset's files, each ending in a newline."""
    path = os.path.join(WORK, "raw", name + ".log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = 0
    with open(path, "wb") as dst:
        for fn in dataset_files(name):
            with open(fn, "rb") as src:
                data = src.read()
            if data and not data.endswith(b"\n"):
                data += b"\n"
            lines += data.count(b"\n")
            dst.write(data)
    return path, lines


# zstd sizes depend only on the bytes, so they are cached by (name, size, hash of the head).
BASELINE_CACHE = os.path.join(CORPUS_DIR, "zstd-sizes.json")


def zstd_sizes(path, key):
    try:
        with open(BASELINE_CACHE) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    size = os.path.getsize(path)
    full_key = f"{key}:{size}"
    if full_key in cache:
        return cache[full_key]["zstd3"], cache[full_key]["zstd19"], cache[full_key]["zstd19_note"]
    log(f"zstd -3 and -19 of {os.path.basename(path)} ({fmt_bytes(size)})")
    z3 = int(run(["bash", "-c", f"zstd -3 -q -c '{path}' | wc -c"]).stdout)
    if size > ZSTD19_SAMPLE:
        # Four evenly spaced chunks, compressed together, stand for the whole file.
        chunk = ZSTD19_SAMPLE // 4
        step = (size - chunk) // 3
        parts = "; ".join(f"tail -c +{i * step + 1} '{path}' | head -c {chunk}" for i in range(4))
        sample = int(run(["bash", "-c", f"{{ {parts}; }} | zstd -19 -q -c | wc -c"]).stdout)
        z19 = int(sample * size / (4 * chunk))
        note = f"estimated from 4 evenly spaced chunks, {fmt_bytes(4 * chunk)} in all"
    else:
        z19 = int(run(["bash", "-c", f"zstd -19 -q -c '{path}' | wc -c"]).stdout)
        note = ""
    cache[full_key] = {"zstd3": z3, "zstd19": z19, "zstd19_note": note}
    os.makedirs(CORPUS_DIR, exist_ok=True)
    with open(BASELINE_CACHE, "w") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    return z3, z19, note


def corpus_zst(corpus):
    """zstd -3 of the corpus, for the `zstdcat | rg` baseline (kept beside the corpus)."""
    path = corpus + ".zst"
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(corpus):
        log("compressing the corpus with zstd -3 for the zstdcat baseline")
        tmp = path + ".tmp"
        r = run(["zstd", "-3", "-q", "-f", "-o", tmp, corpus])
        if r.returncode != 0:
            raise RuntimeError("zstd failed: " + r.stderr)
        os.replace(tmp, path)
    return path

