"""Area "disk": bytes on disk after flush and compaction, beside zstd of the raw bytes."""

import os
import urllib.parse

from areas.ingest import ingest_file
from benchlib.common import (RESULTS, STATE, dir_bytes, disk_bytes, emit_table, fmt_bytes, fmt_int,
                             fmt_ratio, goal, log, put, settle)
from benchlib.corpus import dataset_raw, datasets, zstd_sizes
from benchlib.server import Server


def run_area(corpus, manifest):
    title = "Bytes on disk after flush and compaction, beside zstd of the same raw bytes"
    header = ["dataset", "raw", "Sawmill", "of which segments", "Sawmill ÷ raw", "zstd -3",
              "Sawmill ÷ zstd -3", "zstd -19", "Sawmill ÷ zstd -19", "ingest lines/s/core",
              "≤ zstd -3", "less the empty directory ÷ zstd -3", "less it ≤ zstd -3"]
    rows = []
    notes = []
    # What a data directory holds before any line (the catalog's tables and indexes, the node
    # id): a cost per server, not per dataset, measured the same way so the data's own bytes can
    # be told from it (the first goal counts it; the second does not).
    empty = None
    try:
        server = Server("disk-empty")
        try:
            server.flush()
            server.compact()
        finally:
            server.stop()
        empty, _ = disk_bytes(server.data)
        put("disk.empty_dir_bytes", empty)
    except Exception as e:
        notes.append(f"empty data directory: not measured: {e}")

    def row(name, raw_path, raw_bytes, ours, per_core, segments=None):
        z3, z19, note = zstd_sizes(raw_path, name)
        put(f"disk.raw_bytes.{name}", raw_bytes)
        put(f"disk.zstd3_per_raw_byte.{name}", z3 / raw_bytes)
        put(f"disk.zstd19_per_raw_byte.{name}", z19 / raw_bytes)
        if note:
            notes.append(f"{name}: zstd -19 {note}.")
        if ours is None:
            put(f"disk.bytes_per_raw_byte.{name}", None)
            rows.append([name, fmt_bytes(raw_bytes), "not measured", "—", "—", fmt_bytes(z3), "—",
                         fmt_bytes(z19), "—", "—", "—", "—", "—"])
            return
        put(f"disk.bytes_per_raw_byte.{name}", ours / raw_bytes)
        put(f"disk.bytes.{name}", ours)
        put(f"disk.segment_bytes.{name}", segments)
        status = goal("disk", f"{name}: on disk ≤ zstd -3 of the raw text",
                      f"{ours / z3:.2f}× zstd -3", ours <= z3)
        own = own_status = "—"
        if empty is not None:
            own = fmt_ratio((ours - empty) / z3)
            own_status = goal("disk", f"{name}: on disk less an empty data directory "
                              f"({empty:,} bytes) ≤ zstd -3 of the raw text",
                              f"{(ours - empty) / z3:.2f}× zstd -3", ours - empty <= z3)
        rows.append([name, fmt_bytes(raw_bytes), f"{ours:,}",
                     "—" if segments is None else f"{segments:,}", f"{ours / raw_bytes:.3f}",
                     f"{z3:,}", fmt_ratio(ours / z3), fmt_bytes(z19), fmt_ratio(ours / z19),
                     fmt_int(per_core), status, own, own_status])

    for name in datasets():
        raw_path, lines = dataset_raw(name)
        raw_bytes = os.path.getsize(raw_path)
        ours = per_core = segments = None
        try:
            server = Server("disk-" + name)
            try:
                log(f"disk: {name} ({lines:,} lines)")
                r = ingest_file(server, raw_path, query="?" + urllib.parse.urlencode(
                    {"service": name}))
                per_core = r["lines_acked"] / r["cpu_s"] if r["cpu_s"] > 0 else None
                server.flush()
                server.compact()
                settle(server.data)
            finally:
                server.stop()
            ours, _ = disk_bytes(server.data)
            segments = dir_bytes(os.path.join(server.data, "segments"))
            if r["errors"]:
                notes.append(f"{name}: {r['errors']} batches failed: {r['first_error']}")
        except Exception as e:  # one dataset must not stop the others
            notes.append(f"{name}: not measured: {e}")
        row(name, raw_path, raw_bytes, ours, per_core, segments)

    ours = segments = None
    if "corpus_data" in STATE:
        ours, wal = disk_bytes(STATE["corpus_data"])
        segments = dir_bytes(os.path.join(STATE["corpus_data"], "segments"))
        notes.append(f"corpus: WAL left after flush {fmt_bytes(wal)} (not counted).")
    else:
        notes.append("corpus: not measured: the ingest area did not run or failed.")
    row("corpus", corpus, os.path.getsize(corpus), ours, RESULTS.get("ingest", {}).get(
        "lines_per_s_per_core"), segments)
    notes.append("Sawmill = every file of the data directory except `wal/` (segments, index, "
                 "blooms, catalog), after `POST /api/v1/admin/flush`, `POST /api/v1/admin/compact` "
                 "and once the segment files stopped changing. Datasets are "
                 "ingested as their files' lines over HTTP, one fresh server each.")
    if empty is not None:
        notes.append(f"An empty data directory (a fresh server, flushed, compacted and stopped "
                     f"before any line) holds {empty:,} bytes (the catalog's tables and "
                     f"indexes): every dataset's directory includes them; the last two columns "
                     f"leave them out.")
    emit_table(title, header, rows, notes)

