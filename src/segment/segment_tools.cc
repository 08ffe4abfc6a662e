#include "segment/segment_tools.h"

#include <cinttypes>
#include <cstdio>

#include "common/coding.h"
#include "common/json_string.h"
#include "index/bloom.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"
#include "segment/segment_file_reader.h"

namespace sawmill::segment {

namespace {

// Built-in columns whose blocks hold integers (segment/builtin_fields.h).
bool IsIntColumn(ColumnId id) {
  if (id >= ColumnId::kBuiltinCount) return false;
  FieldType type = BuiltinFieldOf(id).type;
  return type != FieldType::kString && type != FieldType::kInternal;
}

std::string Fmt(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

// "s" as a JSON string, cut to its first "max" bytes with the size noted inside the quotes.
std::string Quote(std::string_view s, size_t max = 200) {
  std::string out = JsonString(s.substr(0, max));
  if (s.size() > max) out.insert(out.size() - 1, Fmt("...(%zu bytes)", s.size()));
  return out;
}

}  // namespace

Status VerifySegment(Env* env, const std::string& path, VerifyReport* report) {
  auto opened = SegmentFileReader::OpenFile(env, path);
  if (!opened.ok()) {
    if (opened.status().IsDataLoss()) {
      report->problems.push_back(opened.status().message());
      return Status::OK();
    }
    return opened.status();
  }
  const SegmentFileReader& reader = **opened;
  const Footer& footer = reader.footer();
  std::string raw;
  auto note = [&](const Status& s) {
    if (!s.ok()) report->problems.push_back(s.message());
    return s.ok();
  };
  for (uint32_t b = 0; b < footer.blocks.size(); ++b) {
    bool block_ok = true;
    SegmentFileReader::FrameCache frames;  // the block's shared frame, checked once
    bool frame_reported = false;
    std::vector<int64_t> block_times;  // the block's ts, once decoded
    for (const ColumnMeta& col : footer.columns) {
      const BlockRef& ref = col.blocks[b];
      std::string what = "column '" + col.name + "' block " + std::to_string(b);
      if (!ref.present()) continue;
      ++report->blocks_checked;
      Status s = reader.ReadPhysical(ref, what, &raw, nullptr, &frames);
      if (!s.ok()) {
        // A damaged shared frame fails each of its columns: reported once, with the first.
        if (!ref.packed || !frame_reported) note(s);
        frame_reported = frame_reported || ref.packed;
        block_ok = false;
        continue;
      }
      // A field column holds at most one value per row; the overflow column's count is
      // checked against the layout by ReadBlock below.
      size_t max_values = footer.blocks[b].rows;
      // A split block's sub-blocks (each checked above) are decoded by ReadBlock below.
      if (col.id == ColumnId::kFieldOverflow || ref.is_split()) continue;
      if (IsIntColumn(col.id)) {
        // (Version 25) A seq block stored against the rows' ts whose ts block did not read is
        // not checked here either: the ts damage is the problem reported.
        if (block_times.size() != footer.blocks[b].rows && TsLineNeedsRowTimes(raw)) continue;
        std::vector<int64_t> ints;
        RowTimesScope scope(block_times.data(), block_times.size());
        s = DecodeIntColumn(raw, max_values, &ints);
        if (col.id == ColumnId::kTs) block_times = std::move(ints);
      } else {
        // A message stored against its rows' times whose ts block did not read is not checked
        // here: the ts damage is the problem reported (once, naming the ts block).
        if (block_times.size() != footer.blocks[b].rows && TimeTextNeedsRowTimes(raw)) continue;
        // (Version 26) A trace id block decoded with its block's filter: the ReadBlock below
        // checks it so.
        if (IsFilteredHex(raw)) continue;
        std::vector<std::string_view> views;
        std::string arena;
        // (Version 13) A message whose times are stored against the rows' ts (the ts column
        // comes first in the directory).
        RowTimesScope scope(block_times.data(), block_times.size());
        s = DecodeStringColumn(raw, max_values, &views, &arena);
      }
      if (!s.ok()) {
        block_ok = false;
        report->problems.push_back("segment " + path + ": " + what + " at offset " +
                                   std::to_string(ref.offset) + ": " + s.message());
      }
    }
    if (block_ok) {
      std::vector<Record> rows;
      note(reader.ReadBlock(b, kColAll, &rows, nullptr));
    }
  }
  for (const IndexMeta& idx : footer.indexes) {
    ++report->blocks_checked;
    auto loaded = reader.LoadIndex(idx.field);
    if (!note(loaded.status())) continue;
    if (!loaded.ok()) continue;
    // (Format version 16) Block lists: every list decodes, names the segment's blocks, and
    // counts no more rows in a block than the block holds; every value's rows decode.
    std::string problem;
    if ((*loaded)->block_lists() && (*loaded)->block_count() != footer.blocks.size()) {
      problem = "block lists of " + std::to_string((*loaded)->block_count()) +
                " blocks in a segment of " + std::to_string(footer.blocks.size());
    }
    std::vector<index::BlockEntry> entries;
    for (const std::string& value : (*loaded)->Values()) {
      if (!problem.empty()) break;
      if (!(*loaded)->Listed(value)) {
        auto rows = (*loaded)->Lookup(value);
        if (!rows.ok()) problem = "value " + Quote(value, 60) + ": " + rows.status().message();
        continue;
      }
      Status s = (*loaded)->LookupBlocks(value, &entries);
      if (!s.ok()) problem = "value " + Quote(value, 60) + ": " + s.message();
      for (const index::BlockEntry& e : entries) {
        if (problem.empty() && e.rows > footer.blocks[e.block].rows) {
          problem = "value " + Quote(value, 60) + " in " + std::to_string(e.rows) +
                    " rows of block " + std::to_string(e.block) + ", which holds " +
                    std::to_string(footer.blocks[e.block].rows);
        }
      }
    }
    if (!problem.empty()) {
      report->problems.push_back("segment " + path + ": index '" + idx.field + "' " + problem);
    }
  }
  for (const BloomMeta& bloom : footer.blooms) {
    report->blocks_checked += 2;
    std::string what = "segment bloom '" + bloom.field + "'";
    if (bloom.segment_filter.present() &&
        note(reader.ReadPhysical(bloom.segment_filter, what, &raw, nullptr)) &&
        !index::BloomView(raw).valid()) {
      report->problems.push_back("segment " + path + ": " + what + ": malformed filter");
    }
    what = "block blooms '" + bloom.field + "'";
    if (!note(reader.ReadPhysical(bloom.block_filters, what, &raw, nullptr))) continue;
    std::string_view in(raw);
    uint64_t count = 0;
    bool good = GetVarint64(&in, &count) && count == footer.blocks.size();
    for (uint64_t b = 0; good && b < count; ++b) {
      std::string_view filter;
      good = GetLengthPrefixed(&in, &filter) && index::BloomView(filter).valid();
    }
    if (!good || !in.empty()) {
      report->problems.push_back("segment " + path + ": " + what + ": malformed filters");
    }
  }
  for (const KindIndexMeta& k : footer.kind_indexes) {
    ++report->blocks_checked;
    std::string what = "index kind '" + k.kind + "'";
    if (!note(reader.ReadPhysical(k.ref, what, &raw, nullptr))) continue;
    // A kind this build does not know was written by a newer one: its checksum is all we check.
    const index::IndexKind* kind = index::FindIndexKind(k.kind);
    if (kind == nullptr || kind->layout != index::IndexLayout::kKindBlock) continue;
    auto opened =
        index::OpenKindBlock(*kind, k.version, raw, static_cast<uint32_t>(footer.blocks.size()));
    if (!opened.ok()) {
      report->problems.push_back("segment " + path + ": " + what + " at offset " +
                                 std::to_string(k.ref.offset) + ": " + opened.status().message());
    }
  }
  return Status::OK();
}

Status DumpSegment(Env* env, const std::string& path, size_t rows, std::string* out) {
  auto opened = SegmentFileReader::OpenFile(env, path);
  if (!opened.ok()) {
    // A file that does not open may still say which segment it is (format 2 header).
    auto id = ReadSegmentIdentity(env, path);
    if (id.ok()) {
      *out += "segment " + path + " (does not open; its header identity:)\n";
      *out +=
          Fmt("  id %" PRIu64 ", tenant %s, partition %u, %" PRIu64 " rows, seq [%" PRIu64
              ", %" PRIu64 "]\n",
              id->id, Quote(id->tenant).c_str(), id->partition, id->rows, id->min_seq, id->max_seq);
    }
    return opened.status();
  }
  const auto& reader = *opened;
  const Footer& f = reader->footer();
  const SegmentInfo& i = f.info;
  *out += "segment " + path + "\n";
  *out +=
      Fmt("  format version %u, %" PRIu64 " bytes on disk, %" PRIu64 " raw bytes (%.2fx)%s\n",
          f.version, i.file_bytes, i.raw_bytes,
          i.file_bytes ? static_cast<double>(i.raw_bytes) / static_cast<double>(i.file_bytes) : 0.0,
          f.version >= 2 ? ", identity in header and footer agree" : ", no header identity");
  *out +=
      Fmt("  id %" PRIu64 ", tenant %s, partition %u, %" PRIu64 " rows in %zu blocks of <= %u\n",
          i.id, Quote(i.tenant).c_str(), i.partition, i.rows, f.blocks.size(), f.block_rows);
  *out += Fmt("  ts [%" PRId64 ", %" PRId64 "], ingest_ts [%" PRId64 ", %" PRId64 "], seq [%" PRIu64
              ", %" PRIu64 "]\n",
              i.min_ts, i.max_ts, i.min_ingest_ts, i.max_ingest_ts, i.min_seq, i.max_seq);
  *out += "blocks:\n";
  for (size_t b = 0; b < f.blocks.size(); ++b) {
    const BlockInfo& bi = f.blocks[b];
    *out += Fmt("  %zu: rows %u..%u ts [%" PRId64 ", %" PRId64 "] ingest_ts [%" PRId64 ", %" PRId64
                "]\n",
                b, bi.first_row, bi.first_row + bi.rows - 1, bi.min_ts, bi.max_ts, bi.min_ingest_ts,
                bi.max_ingest_ts);
  }
  *out += "columns:                          blocks    stored bytes       raw bytes   ratio\n";
  uint64_t total_stored = 0;
  for (const ColumnMeta& c : f.columns) {
    uint64_t stored = 0, raw = 0, present = 0;
    for (const BlockRef& r : c.blocks) {
      stored += StoredShare(r);  // a packed block: its share of the shared frame
      raw += r.raw_size;
      present += r.present();
      if (!r.packed) total_stored += r.size;
    }
    std::string name = c.id == ColumnId::kDynamic ? "fields." + c.name : c.name;
    *out += Fmt("  %-30s %7" PRIu64 " %15" PRIu64 " %15" PRIu64 " %7.2f\n", name.c_str(), present,
                stored, raw, stored ? static_cast<double>(raw) / static_cast<double>(stored) : 0.0);
  }
  // Version 8: the shared frames, whose shares the packed columns above show.
  uint64_t frames = 0, frame_stored = 0, frame_raw = 0;
  for (const BlockRef& r : f.frames) {
    frames += r.present();
    frame_stored += r.size;
    frame_raw += r.raw_size;
  }
  if (frames > 0) {
    *out += Fmt("  %-30s %7" PRIu64 " %15" PRIu64 " %15" PRIu64 " %7.2f\n", "(shared frames)",
                frames, frame_stored, frame_raw,
                static_cast<double>(frame_raw) / static_cast<double>(frame_stored));
  }
  total_stored += frame_stored;
  // Version 9: the column blocks split into sub-blocks (counted in their columns above).
  uint64_t sub_blocks = 0;
  for (const auto& subs : f.splits) sub_blocks += subs.size();
  if (!f.splits.empty()) {
    *out += Fmt("  %-30s %7zu blocks in %" PRIu64 " sub-blocks\n", "(split column blocks)",
                f.splits.size(), sub_blocks);
  }
  *out += Fmt("  %-30s %7s %15" PRIu64 "\n", "(all columns)", "", total_stored);
  *out += "index:\n";
  for (const IndexMeta& idx : f.indexes) {
    *out += Fmt("  %-20s %8" PRIu64 " values %10" PRIu64 " bytes", idx.field.c_str(),
                idx.distinct_values, idx.ref.size);
    auto loaded = reader->LoadIndex(idx.field);
    if (!loaded.ok()) {
      *out += "  CORRUPT: " + loaded.status().message() + "\n";
      continue;
    }
    std::vector<std::string> values = (*loaded)->Values();
    std::string sample;
    std::vector<index::BlockEntry> entries;
    size_t listed = 0, rice = 0;
    for (const std::string& value : values) {
      listed += (*loaded)->Listed(value) ? 1 : 0;
      rice += (*loaded)->RiceCoded(value) ? 1 : 0;
    }
    for (size_t v = 0; v < values.size() && v < 5; ++v) {
      uint64_t rows = 0;
      if ((*loaded)->Listed(values[v])) {
        if ((*loaded)->LookupBlocks(values[v], &entries).ok()) {
          for (const index::BlockEntry& e : entries) rows += e.rows;
        }
      } else {
        auto rows_of = (*loaded)->Lookup(values[v]);
        rows = rows_of.ok() ? rows_of->cardinality() : 0;
      }
      // (Version 5) The block map: a user's blocks, its rows unknown.
      sample +=
          (v ? ", " : "") + Quote(values[v], 40) +
          ((*loaded)->block_map() ? Fmt(" in %zu blocks", entries.size()) : Fmt("=%" PRIu64, rows));
    }
    *out +=
        ((*loaded)->block_map()     ? std::string("  block map,")
         : (*loaded)->block_lists() ? Fmt("  block lists %zu,", listed)
                                    : std::string()) +
        ((*loaded)->version() >= index::kInvertedIndexRestVersion ? Fmt(" rice-coded %zu,", rice)
                                                                  : std::string()) +
        "  e.g. " + sample + (values.size() > 5 ? ", ..." : "") + "\n";
  }
  *out += "blooms:\n";
  for (const BloomMeta& b : f.blooms) {
    *out += Fmt("  %-20s %8" PRIu64 " distinct tokens, segment filter %" PRIu64
                " bytes, block filters %" PRIu64 " bytes\n",
                b.field.c_str(), b.distinct_tokens, b.segment_filter.size, b.block_filters.size);
  }
  *out += "index kinds:\n";
  for (const KindIndexMeta& k : f.kind_indexes) {
    *out += Fmt("  %-20s version %u %10" PRIu64 " bytes%s\n", k.kind.c_str(), k.version, k.ref.size,
                index::FindIndexKind(k.kind) == nullptr ? " (unknown to this build)" : "");
  }
  *out += Fmt("first %zu rows:\n", rows);
  size_t shown = 0;
  for (uint32_t b = 0; b < f.blocks.size() && shown < rows; ++b) {
    std::vector<Record> recs;
    RETURN_IF_ERROR(reader->ReadBlock(b, kColAll, &recs, nullptr));
    for (const Record& r : recs) {
      if (shown++ >= rows) break;
      *out +=
          Fmt("  #%u ts=%" PRId64 " ingest_ts=%" PRId64 " seq=%" PRIu64,
              f.blocks[b].first_row + static_cast<uint32_t>(shown - 1), r.ts, r.ingest_ts, r.seq);
      *out += " service=" + Quote(r.service) + " host=" + Quote(r.host) +
              " level=" + std::string(LevelName(r.level));
      if (!r.trace_id.empty()) *out += " trace_id=" + Quote(r.trace_id);
      if (!r.span_id.empty()) *out += " span_id=" + Quote(r.span_id);
      if (!r.user_id.empty()) *out += " user_id=" + Quote(r.user_id);
      if (r.flags != 0) *out += Fmt(" flags=%u", r.flags);
      for (const auto& [k, v] : r.fields) *out += " " + k + "=" + Quote(v, 60);
      *out += " message=" + Quote(r.message) + "\n";
    }
  }
  return Status::OK();
}

}  // namespace sawmill::segment
