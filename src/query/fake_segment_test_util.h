// Test-only: an in-memory SegmentReader with exact postings and exact "blooms" (sets), so the
// query engine's planner and executor can be tested without the segment format, and a
// Snapshot built from records split into memtable chunks and such segments.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/hash.h"
#include "index/tokenizer.h"
#include "storage/engine.h"

namespace sawmill::query::testing {

class FakeSegmentReader final : public segment::SegmentReader {
 public:
  FakeSegmentReader(uint64_t id, uint32_t partition, std::vector<Record> records,
                    uint32_t block_rows)
      : records_(std::move(records)) {
    std::stable_sort(records_.begin(), records_.end(), [](const Record& a, const Record& b) {
      return std::tie(a.service, a.host, a.ts) < std::tie(b.service, b.host, b.ts);
    });
    info_.id = id;
    info_.partition = partition;
    info_.rows = records_.size();
    info_.tenant = records_.empty() ? "" : records_[0].tenant;
    info_.min_ts = info_.min_ingest_ts = INT64_MAX;
    info_.max_ts = info_.max_ingest_ts = INT64_MIN;
    info_.min_seq = UINT64_MAX;
    for (uint32_t row = 0; row < records_.size(); ++row) {
      const Record& r = records_[row];
      if (row % block_rows == 0) {
        blocks_.push_back(segment::BlockInfo{row, 0, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN});
        block_tokens_.emplace_back();
      }
      segment::BlockInfo& b = blocks_.back();
      ++b.rows;
      b.min_ts = std::min(b.min_ts, r.ts);
      b.max_ts = std::max(b.max_ts, r.ts);
      b.min_ingest_ts = std::min(b.min_ingest_ts, r.ingest_ts);
      b.max_ingest_ts = std::max(b.max_ingest_ts, r.ingest_ts);
      info_.min_ts = std::min(info_.min_ts, r.ts);
      info_.max_ts = std::max(info_.max_ts, r.ts);
      info_.min_ingest_ts = std::min(info_.min_ingest_ts, r.ingest_ts);
      info_.max_ingest_ts = std::max(info_.max_ingest_ts, r.ingest_ts);
      info_.min_seq = std::min(info_.min_seq, r.seq);
      info_.max_seq = std::max(info_.max_seq, r.seq);
      postings_["service"][r.service].add(row);
      postings_["host"][r.host].add(row);
      postings_["level"][std::string(LevelName(r.level))].add(row);
      if (!r.trace_id.empty()) postings_["trace_id"][r.trace_id].add(row);
      if (!r.user_id.empty()) postings_["user_id"][r.user_id].add(row);
      auto& tokens = block_tokens_.back();
      index::ForEachWord(r.message, [&](std::string_view w) {
        tokens.insert("message\x1f" + std::string(w));
        segment_tokens_.insert("message\x1f" + std::string(w));
      });
      for (const char* f : {"trace_id", "span_id", "user_id"}) {
        const std::string& v = std::string(f) == "trace_id"  ? r.trace_id
                               : std::string(f) == "span_id" ? r.span_id
                                                             : r.user_id;
        if (v.empty()) continue;
        tokens.insert(std::string(f) + "\x1f" + v);
        segment_tokens_.insert(std::string(f) + "\x1f" + v);
      }
      for (const auto& [k, v] : r.fields) {
        if (std::find(field_names_.begin(), field_names_.end(), k) == field_names_.end()) {
          field_names_.push_back(k);
        }
      }
    }
  }

  const segment::SegmentInfo& info() const override { return info_; }
  const std::vector<segment::BlockInfo>& blocks() const override { return blocks_; }
  const std::vector<std::string>& field_names() const override { return field_names_; }

  Result<std::optional<roaring::Roaring>> MatchingRows(
      const index::FieldPredicate& p) const override {
    if (!index_error_.ok()) return index_error_;
    if (p.op != index::FieldPredicate::Op::kEquals) return std::optional<roaring::Roaring>();
    auto f = postings_.find(std::string(p.field));
    if (f == postings_.end()) {
      if (p.field == "trace_id" || p.field == "user_id")
        return std::optional<roaring::Roaring>(roaring::Roaring());
      return std::optional<roaring::Roaring>();
    }
    auto v = f->second.find(std::string(p.value));
    if (v == f->second.end()) return std::optional<roaring::Roaring>(roaring::Roaring());
    return std::optional<roaring::Roaring>(v->second);
  }
  Result<std::optional<std::vector<std::string>>> FieldValues(std::string_view field,
                                                              bool /*builtin*/) const override {
    auto f = postings_.find(std::string(field));
    if (f == postings_.end()) {
      if (field == "trace_id" || field == "user_id") {
        return std::optional<std::vector<std::string>>(std::vector<std::string>{});
      }
      return std::optional<std::vector<std::string>>();
    }
    std::vector<std::string> out;
    for (const auto& [v, _] : f->second) out.push_back(v);
    return std::optional<std::vector<std::string>>(out);
  }
  Result<bool> SegmentMayMatch(const index::FieldPredicate& p) const override {
    std::string key;
    if (!TokenKey(p, &key)) return true;
    return segment_tokens_.count(key) > 0;
  }
  Result<bool> BlockMayMatch(uint32_t block, const index::FieldPredicate& p) const override {
    if (p.op == index::FieldPredicate::Op::kTimeWithin) {
      const segment::BlockInfo& b = blocks_[block];
      bool ts = p.field == "ts";
      return (ts ? b.max_ts : b.max_ingest_ts) >= p.from_ns &&
             (ts ? b.min_ts : b.min_ingest_ts) < p.to_ns;
    }
    std::string key;
    if (!TokenKey(p, &key)) return true;
    return block_tokens_[block].count(key) > 0;
  }
  // The "blooms": message words, and trace_id, span_id and user_id values.
  static bool TokenKey(const index::FieldPredicate& p, std::string* key) {
    using Op = index::FieldPredicate::Op;
    if (p.op == Op::kWord && p.field == "message") {
      *key = "message\x1f" + std::string(p.value);
      return true;
    }
    if (p.op != Op::kEquals || p.value.empty() ||
        (p.field != "trace_id" && p.field != "span_id" && p.field != "user_id")) {
      return false;
    }
    *key = std::string(p.field) + "\x1f" + std::string(p.value);
    return true;
  }

  // Makes ReadBlock(block) fail with DataLoss, as a checksum mismatch would.
  void CorruptBlock(uint32_t block) {
    FailBlock(block, Status::DataLoss("checksum mismatch in column message of block " +
                                      std::to_string(block)));
  }
  // Makes every MatchingRows question fail with "st": DataLoss as a damaged index block, postings
  // or block list give, or an IOError as a failed read of the index.
  void FailIndex(Status st) { index_error_ = std::move(st); }
  // Makes the block statistics (BlockMinuteCounts, BlockServiceLevels) fail with "st", as a
  // damaged minute_counts kind block (DataLoss) or a failed read of it (IOError) would.
  void FailStatistics(Status st) { statistics_error_ = std::move(st); }
  Result<std::shared_ptr<const index::MinuteCounts>> BlockMinuteCounts(bool ts) const override {
    if (!statistics_error_.ok()) return statistics_error_;
    return segment::SegmentReader::BlockMinuteCounts(ts);
  }
  Result<std::shared_ptr<const index::ServiceLevelCounts>> BlockServiceLevels() const override {
    if (!statistics_error_.ok()) return statistics_error_;
    return segment::SegmentReader::BlockServiceLevels();
  }
  // Makes ReadBlock(block) fail with "st" (e.g. an IOError, as a failed disk or network read).
  void FailBlock(uint32_t block, Status st) {
    corrupt_block_ = static_cast<int64_t>(block);
    block_error_ = std::move(st);
  }

  Status ReadBlock(uint32_t block, uint32_t mask, std::vector<Record>* out,
                   segment::ReadStats* stats) const override {
    if (static_cast<int64_t>(block) == corrupt_block_) return block_error_;
    const segment::BlockInfo& b = blocks_[block];
    ++stats->blocks_read;
    for (uint32_t row = b.first_row; row < b.first_row + b.rows; ++row) {
      const Record& src = records_[row];
      Record r;
      r.tenant = src.tenant;
      if (mask & segment::kColTs) r.ts = src.ts;
      if (mask & segment::kColIngestTs) r.ingest_ts = src.ingest_ts;
      if (mask & segment::kColSeq) r.seq = src.seq;
      if (mask & segment::kColService) r.service = src.service;
      if (mask & segment::kColHost) r.host = src.host;
      if (mask & segment::kColLevel) r.level = src.level;
      if (mask & segment::kColTraceId) r.trace_id = src.trace_id;
      if (mask & segment::kColSpanId) r.span_id = src.span_id;
      if (mask & segment::kColUserId) r.user_id = src.user_id;
      if (mask & segment::kColMessage) r.message = src.message;
      if (mask & segment::kColFields) r.fields = src.fields;
      if (mask & segment::kColFlags) r.flags = src.flags;
      stats->bytes_read_compressed += r.ApproximateSize() / 3;
      stats->bytes_read_raw += r.ApproximateSize();
      out->push_back(std::move(r));
    }
    return Status::OK();
  }

 private:
  std::vector<Record> records_;
  segment::SegmentInfo info_;
  std::vector<segment::BlockInfo> blocks_;
  std::vector<std::string> field_names_;
  std::map<std::string, std::map<std::string, roaring::Roaring>> postings_;
  std::vector<std::set<std::string>> block_tokens_;
  std::set<std::string> segment_tokens_;
  int64_t corrupt_block_ = -1;
  Status block_error_;
  Status index_error_;       // OK: the index answers
  Status statistics_error_;  // OK: no statistics (as a segment older than version 19)
};

// Splits "records" (in seq order) into "segments" fake segments per partition and keeps the
// newest "memtable_rows" in memtable chunks, like the storage engine would.
inline std::shared_ptr<storage::Snapshot> MakeSnapshot(const std::string& tenant,
                                                       const std::vector<Record>& records,
                                                       uint32_t partitions, size_t segments,
                                                       size_t memtable_rows, uint32_t block_rows) {
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = tenant;
  size_t flushed = records.size() > memtable_rows ? records.size() - memtable_rows : 0;
  std::map<uint32_t, std::vector<Record>> by_partition;
  for (size_t i = 0; i < flushed; ++i) {
    by_partition[PartitionOf(records[i].service, records[i].host, partitions)].push_back(
        records[i]);
  }
  uint64_t id = 1;
  for (auto& [p, recs] : by_partition) {
    size_t per = (recs.size() + segments - 1) / segments;
    for (size_t start = 0; start < recs.size(); start += per) {
      std::vector<Record> part(
          recs.begin() + static_cast<long>(start),
          recs.begin() + static_cast<long>(std::min(recs.size(), start + per)));
      auto reader = std::make_shared<FakeSegmentReader>(id++, p, std::move(part), block_rows);
      storage::SegmentHandle h;
      h.info = reader->info();
      h.tier = "hot";
      h.store = "local";
      h.object = "segments/hot/" + h.info.tenant + "/" + std::to_string(p) + "/" +
                 std::to_string(h.info.id) + ".seg";
      h.open = [reader]() -> Result<std::shared_ptr<segment::SegmentReader>> {
        return std::shared_ptr<segment::SegmentReader>(reader);
      };
      snap->segments.push_back(std::move(h));
    }
  }
  std::map<uint32_t, std::vector<Record>> mem;
  for (size_t i = flushed; i < records.size(); ++i) {
    mem[PartitionOf(records[i].service, records[i].host, partitions)].push_back(records[i]);
  }
  for (auto& [p, recs] : mem) {
    storage::MemtableView view;
    view.partition = p;
    view.chunks.push_back(storage::RecordChunk::FromRecords(recs));
    snap->memtables.push_back(std::move(view));
  }
  return snap;
}

}  // namespace sawmill::query::testing

namespace sawmill::query::testing {

// A storage::Engine that serves a fixed snapshot (for QueryEngine tests without storage).
class FakeEngine final : public storage::Engine {
 public:
  explicit FakeEngine(std::shared_ptr<storage::Snapshot> snapshot)
      : snapshot_(std::move(snapshot)) {}
  Status Append(std::string_view, std::vector<Record>*) override {
    return Status::Unavailable("read-only");
  }
  Status AppendIdempotent(std::string_view, std::vector<Record>*,
                          const storage::IdempotencyKey&) override {
    return Status::Unavailable("read-only");
  }
  std::optional<storage::IdempotencyKey> FindIdempotencyKey(std::string_view,
                                                            std::string_view) const override {
    return std::nullopt;
  }
  Status Flush() override { return Status::OK(); }
  Status CompactNow() override { return Status::OK(); }
  std::shared_ptr<const storage::Snapshot> GetSnapshot(std::string_view tenant) const override {
    ++snapshots;
    if (tenant != snapshot_->tenant) {
      auto empty = std::make_shared<storage::Snapshot>();
      empty->tenant = std::string(tenant);
      return empty;
    }
    return snapshot_;
  }
  void ReportCorruption(uint64_t segment_id, const Status&) override {
    corrupt_reports.push_back(segment_id);
  }
  Result<std::set<uint64_t>> RetiredSegmentIds() override { return retired; }
  storage::EngineStats stats() const override { return {}; }
  Status Close() override { return Status::OK(); }

  mutable std::atomic<int> snapshots{0};  // GetSnapshot calls: one per executed query
  std::vector<uint64_t> corrupt_reports;  // segment ids given to ReportCorruption
  std::set<uint64_t> retired;             // what RetiredSegmentIds answers

 private:
  std::shared_ptr<storage::Snapshot> snapshot_;
};

}  // namespace sawmill::query::testing
