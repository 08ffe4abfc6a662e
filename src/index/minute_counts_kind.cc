// Index kind "minute_counts" (segment format version 19): per row block, how many of its rows
// fall in each minute of ts and of ingest_ts, per level (index_kind.h MinuteCounts). The
// 8,192-row blocks of a busy store span minutes, so the block list's min/max times cannot
// answer `count by bucket(1m), level`; these counts answer it, and every bucket of whole
// minutes, for each block a filter matches whole, without reading a column
// (docs/format/segment.md "Minute counts", docs/performance.md "Session 20: aggregations from
// block statistics").
//
// Serialized block (integers are varints, signed ones zigzag), version 1:
//   minute_counts := section_count section*
//   section       := name(lp) body(lp)          (a reader skips a section it does not know)
//   body "ts", "ingest_ts" := block_count minutes_block*
//   minutes_block := 0                                      no counts (too many minutes)
//                  | minutes first_minute_delta levels count*(minutes x popcount(levels))
//   body "service" := block_count value_count value(lp)* services_block*
//   services_block := cell_count (service_id x 8 + level, count)*
// "minutes" is the number of minutes from the block's first to its last (both included: at
// most MinuteCounts::kMaxMinutes), "first_minute_delta" the block's first minute less the
// previous block's with counts (the first block's: less 0), "levels" a bit per Level value
// present in the block, and the counts minute by minute, in each minute one per level of
// "levels" from the lowest. The "service" values are the segment's distinct services, sorted;
// a block's cells are its (service, level) pairs holding rows, ascending, with their rows. A
// reader checks each block's counts against the block list: their sum is its rows, its first and
// last minutes those of its min and max time.
#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "common/coding.h"
#include "index/index_kind.h"

namespace sawmill::index {

namespace {

constexpr uint32_t kVersion = 1;
constexpr std::string_view kFields[] = {"ts", "ingest_ts"};

int64_t MinuteOf(int64_t t) {
  const int64_t m = MinuteCounts::kMinuteNs;
  return t / m - ((t % m != 0) && (t < 0));
}

bool Answers(const FieldPredicate& /*p*/) { return false; }  // asked through BlockMinutes only

class MinuteCountsBuilder final : public IndexBuilder {
 public:
  explicit MinuteCountsBuilder(const BuildOptions& options) : on_(options.minute_counts) {}

  void AddBlock(const Record* rows, uint32_t count) override {
    if (!on_) return;
    ++blocks_;
    for (size_t f = 0; f < 2; ++f) Count(rows, count, f == 0, &out_[f]);
    CountServices(rows, count);
  }

  void Finish(std::vector<IndexPart>* parts) override {
    if (!on_ || blocks_ == 0) return;
    IndexPart part;
    part.version = kVersion;
    std::string blob, body;
    PutVarint32(&blob, 3);
    for (size_t f = 0; f < 2; ++f) {
      PutLengthPrefixed(&blob, kFields[f]);
      body.clear();
      PutVarint32(&body, blocks_);
      body.append(out_[f]);
      PutLengthPrefixed(&blob, body);
    }
    // The services sorted; each block's cells renumbered and ascending.
    std::vector<uint32_t> order(names_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return names_[a] < names_[b]; });
    std::vector<uint32_t> id(names_.size());
    for (uint32_t i = 0; i < order.size(); ++i) id[order[i]] = i;
    body.clear();
    PutVarint32(&body, blocks_);
    PutVarint32(&body, static_cast<uint32_t>(names_.size()));
    for (uint32_t i : order) PutLengthPrefixed(&body, names_[i]);
    std::vector<std::pair<uint64_t, uint32_t>> cells;
    for (uint32_t b = 0; b < blocks_; ++b) {
      cells.clear();
      for (uint32_t c = cell_at_[b]; c < cell_at_[b + 1]; ++c) {
        const auto& [key, n] = cells_of_blocks_[c];
        cells.emplace_back(uint64_t{id[key >> 3]} * 8 + (key & 7), n);
      }
      std::sort(cells.begin(), cells.end());
      PutVarint32(&body, static_cast<uint32_t>(cells.size()));
      for (const auto& [key, n] : cells) {
        PutVarint64(&body, key);
        PutVarint32(&body, n);
      }
    }
    PutLengthPrefixed(&blob, "service");
    PutLengthPrefixed(&blob, body);
    part.blobs.push_back(std::move(blob));
    parts->push_back(std::move(part));
  }

 private:
  void Count(const Record* rows, uint32_t count, bool ts, std::string* out) {
    int64_t& previous = previous_first_[ts ? 0 : 1];
    if (count == 0) {
      PutVarint32(out, 0);
      return;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    uint32_t mask = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const int64_t m = MinuteOf(ts ? rows[i].ts : rows[i].ingest_ts);
      lo = std::min(lo, m);
      hi = std::max(hi, m);
      mask |= 1u << (static_cast<uint32_t>(rows[i].level) % kLevelCount);
    }
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    if (span > MinuteCounts::kMaxMinutes) {
      PutVarint32(out, 0);
      return;
    }
    // Each level's rank among the present ones.
    uint32_t rank[kLevelCount] = {};
    uint32_t present = 0;
    for (int l = 0; l < kLevelCount; ++l) {
      if (mask & (1u << l)) rank[l] = present++;
    }
    cells_.assign(span * present, 0);
    for (uint32_t i = 0; i < count; ++i) {
      const int64_t m = MinuteOf(ts ? rows[i].ts : rows[i].ingest_ts);
      const uint32_t l = static_cast<uint32_t>(rows[i].level) % kLevelCount;
      ++cells_[static_cast<uint64_t>(m - lo) * present + rank[l]];
    }
    PutVarint64(out, span);
    PutVarsint64(out,
                 static_cast<int64_t>(static_cast<uint64_t>(lo) - static_cast<uint64_t>(previous)));
    previous = lo;
    PutVarint32(out, mask);
    for (uint32_t c : cells_) PutVarint32(out, c);
  }

  // The block's rows per (service, level); rows of one service are mostly neighbours.
  void CountServices(const Record* rows, uint32_t count) {
    if (cell_at_.empty()) cell_at_.push_back(0);
    block_cells_.clear();
    uint32_t last = UINT32_MAX;
    std::string_view last_name;
    for (uint32_t i = 0; i < count; ++i) {
      if (last == UINT32_MAX || rows[i].service != last_name) {
        auto [it, added] = ids_.try_emplace(rows[i].service, static_cast<uint32_t>(names_.size()));
        if (added) names_.push_back(rows[i].service);
        last = it->second;
        last_name = names_[last];
      }
      ++block_cells_[uint64_t{last} * 8 + static_cast<uint32_t>(rows[i].level) % kLevelCount];
    }
    for (const auto& [key, n] : block_cells_) cells_of_blocks_.emplace_back(key, n);
    cell_at_.push_back(static_cast<uint32_t>(cells_of_blocks_.size()));
  }

  bool on_;
  uint32_t blocks_ = 0;
  std::string out_[2];
  int64_t previous_first_[2] = {0, 0};
  std::vector<uint32_t> cells_;
  // Services: the segment's, numbered as met; per block its (id x 8 + level, rows).
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::unordered_map<uint64_t, uint32_t> block_cells_;
  std::vector<std::pair<uint64_t, uint32_t>> cells_of_blocks_;
  std::vector<uint32_t> cell_at_;
};

// Each section is parsed when first asked for (a `* | count` reads the service section only,
// a bucket count on ts the ts section only) and kept for the reader's life; damage (DataLoss)
// is kept too, while a failed read (an IOError of the disk, a cold fetch that timed out) is
// not, so a later query reads again (second reader, session 20: LOW-7).
class MinuteCountsView final : public IndexView {
 public:
  explicit MinuteCountsView(std::shared_ptr<const IndexSource> source)
      : source_(std::move(source)) {}

  Result<std::shared_ptr<const MinuteCounts>> BlockMinutes(
      std::string_view time_field) const override {
    for (size_t f = 0; f < std::size(kFields); ++f) {
      if (kFields[f] != time_field) continue;
      std::lock_guard<std::mutex> lock(mu_);
      return Cached<MinuteCounts>(&fields_[f], [&](std::string_view* body, uint32_t blocks,
                                                   const std::string& where, MinuteCounts* out) {
        return ParseField(body, time_field, blocks, where, out);
      });
    }
    return std::shared_ptr<const MinuteCounts>();
  }

  Result<std::shared_ptr<const ServiceLevelCounts>> BlockServiceLevels() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return Cached<ServiceLevelCounts>(
        &services_,
        [&](std::string_view* body, uint32_t blocks, const std::string& where,
            ServiceLevelCounts* out) { return ParseServices(body, blocks, where, out); });
  }

 private:
  // A section's parsed counts (or null: the segment has no such section), or its damage.
  template <typename T>
  struct Part {
    bool done = false;
    Status status;
    std::shared_ptr<const T> counts;
  };

  // "*part" once parsed; else the section named as "part" is (kFields, "service") read and
  // parsed by "parse", whose result is kept unless the read failed other than as damage.
  template <typename T, typename Parse>
  Result<std::shared_ptr<const T>> Cached(Part<T>* part, Parse parse) const {
    if (!part->done) {
      std::shared_ptr<T> counts;
      Status st = ReadSection(SectionName(part), [&](std::string_view* body, uint32_t blocks,
                                                     const std::string& where) {
        counts = std::make_shared<T>();
        RETURN_IF_ERROR(parse(body, blocks, where, counts.get()));
        return Status::OK();
      });
      if (!st.ok() && !st.IsDataLoss()) return st;  // not kept: asked again next time
      part->done = true;
      part->status = st;
      part->counts = std::move(counts);
    }
    if (!part->status.ok()) return part->status;
    return part->counts;
  }

  std::string_view SectionName(const Part<MinuteCounts>* part) const {
    return kFields[part - fields_];
  }
  std::string_view SectionName(const Part<ServiceLevelCounts>*) const { return "service"; }

  // Reads the kind block and gives the body of the section "wanted" (after its block count,
  // checked against the segment's), its block count and where the block is, to "use"; a
  // segment without that section is OK with "use" not called. Every section before it is
  // walked over; the ones after it are not read.
  template <typename Use>
  Status ReadSection(std::string_view wanted, Use use) const {
    if (source_->parts().size() != 1) return Status::DataLoss("minute_counts: not one block");
    std::string raw;
    RETURN_IF_ERROR(source_->Read(0, 0, &raw));
    const std::string where = source_->Where(0, 0);
    std::string_view in(raw);
    uint32_t sections = 0;
    if (!GetVarint32(&in, &sections)) return Status::DataLoss(where + ": bad section count");
    for (uint32_t f = 0; f < sections; ++f) {
      std::string_view name, body;
      uint32_t blocks = 0;
      if (!GetLengthPrefixed(&in, &name) || !GetLengthPrefixed(&in, &body)) {
        return Status::DataLoss(where + ": section " + std::to_string(f) + " truncated");
      }
      if (name != wanted) continue;  // (a later build's sections too)
      if (!GetVarint32(&body, &blocks)) {
        return Status::DataLoss(where + ": field '" + std::string(name) + "' truncated");
      }
      if (blocks != source_->block_count()) {
        return Status::DataLoss(where + ": field '" + std::string(name) + "' has " +
                                std::to_string(blocks) + " blocks, the segment " +
                                std::to_string(source_->block_count()));
      }
      RETURN_IF_ERROR(use(&body, blocks, where));
      if (!body.empty()) {
        return Status::DataLoss(where + ": field '" + std::string(name) +
                                "': bytes after its last block");
      }
      return Status::OK();
    }
    if (!in.empty()) return Status::DataLoss(where + ": bytes after the last section");
    return Status::OK();
  }

  Status ParseServices(std::string_view* in, uint32_t blocks, const std::string& where,
                       ServiceLevelCounts* out) const {
    uint32_t values = 0;
    if (!GetVarint32(in, &values) || values > in->size()) {
      return Status::DataLoss(where + ": field 'service': bad value count");
    }
    out->services.reserve(values);
    for (uint32_t v = 0; v < values; ++v) {
      std::string_view value;
      if (!GetLengthPrefixed(in, &value) ||
          (v > 0 && value <= std::string_view(out->services.back()))) {
        return Status::DataLoss(where + ": field 'service': value " + std::to_string(v) +
                                " truncated or out of order");
      }
      out->services.emplace_back(value);
    }
    out->at.resize(blocks + 1);
    for (uint32_t b = 0; b < blocks; ++b) {
      auto bad = [&](const std::string& what) {
        return Status::DataLoss(where + ": field 'service' block " + std::to_string(b) + ": " +
                                what);
      };
      out->at[b] = static_cast<uint32_t>(out->cells.size());
      uint32_t cells = 0;
      if (!GetVarint32(in, &cells) || cells > in->size()) return bad("truncated");
      uint64_t sum = 0;
      for (uint32_t c = 0; c < cells; ++c) {
        uint64_t key = 0;
        uint32_t n = 0;
        if (!GetVarint64(in, &key) || !GetVarint32(in, &n)) return bad("truncated");
        if (key / 8 >= values || key % 8 >= static_cast<uint64_t>(kLevelCount)) {
          return bad("a cell names no service or level");
        }
        sum += n;
        out->cells.push_back(ServiceLevelCounts::Cell{static_cast<uint32_t>(key / 8),
                                                      static_cast<uint32_t>(key % 8), n});
      }
      uint32_t first_row = 0, rows = 0;
      if (source_->BlockRows(b, &first_row, &rows) && sum != rows) {
        return bad("counts add up to " + std::to_string(sum) + ", the block holds " +
                   std::to_string(rows) + " rows");
      }
    }
    out->at[blocks] = static_cast<uint32_t>(out->cells.size());
    return Status::OK();
  }

  Status ParseField(std::string_view* in, std::string_view name, uint32_t blocks,
                    const std::string& where, MinuteCounts* out) const {
    const bool ts = name == "ts";
    out->known.resize(blocks);
    out->first_minute.resize(blocks);
    out->minutes.resize(blocks);
    out->levels.resize(blocks);
    out->at.resize(blocks + 1);
    int64_t previous = 0;
    for (uint32_t b = 0; b < blocks; ++b) {
      auto bad = [&](const std::string& what) {
        return Status::DataLoss(where + ": field '" + std::string(name) + "' block " +
                                std::to_string(b) + ": " + what);
      };
      out->at[b] = static_cast<uint32_t>(out->cells.size());
      uint64_t minutes = 0;
      if (!GetVarint64(in, &minutes)) return bad("truncated");
      if (minutes == 0) continue;
      int64_t delta = 0;
      uint32_t mask = 0;
      if (minutes > MinuteCounts::kMaxMinutes || !GetVarsint64(in, &delta) ||
          !GetVarint32(in, &mask) || mask == 0 || mask >= (1u << kLevelCount)) {
        return bad("bad header");
      }
      const int64_t first =
          static_cast<int64_t>(static_cast<uint64_t>(previous) + static_cast<uint64_t>(delta));
      previous = first;
      const uint64_t cells = minutes * static_cast<uint64_t>(std::popcount(mask));
      uint64_t sum = 0;
      const char* const from = in->data();
      for (uint64_t c = 0; c < cells; ++c) {
        uint32_t n = 0;
        if (!GetVarint32(in, &n)) return bad("truncated");
        sum += n;
      }
      out->cells.append(from, static_cast<size_t>(in->data() - from));
      uint32_t first_row = 0, rows = 0;
      if (source_->BlockRows(b, &first_row, &rows)) {
        const IndexSource::BlockTimes t = source_->Times(b);
        const int64_t lo = ts ? t.min_ts : t.min_ingest_ts;
        const int64_t hi = ts ? t.max_ts : t.max_ingest_ts;
        if (sum != rows) {
          return bad("counts add up to " + std::to_string(sum) + ", the block holds " +
                     std::to_string(rows) + " rows");
        }
        if (MinuteOf(lo) != first ||
            static_cast<uint64_t>(MinuteOf(hi)) - static_cast<uint64_t>(first) + 1 != minutes) {
          return bad("minutes do not match the block's times");
        }
      }
      out->known[b] = true;
      out->first_minute[b] = first;
      out->minutes[b] = static_cast<uint32_t>(minutes);
      out->levels[b] = static_cast<uint8_t>(mask);
    }
    out->at[blocks] = static_cast<uint32_t>(out->cells.size());
    out->cells.shrink_to_fit();
    return Status::OK();
  }

  std::shared_ptr<const IndexSource> source_;
  mutable std::mutex mu_;  // guards the parts
  mutable Part<MinuteCounts> fields_[std::size(kFields)];
  mutable Part<ServiceLevelCounts> services_;
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& options) {
  return std::make_unique<MinuteCountsBuilder>(options);
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  // Read on first use (BlockMinutes), so that damage reaches the query that asks, named.
  return std::unique_ptr<IndexView>(std::make_unique<MinuteCountsView>(std::move(source)));
}

}  // namespace

void MinuteCounts::Counts(uint32_t b, std::vector<uint32_t>* out) const {
  const size_t n = size_t{minutes[b]} * static_cast<size_t>(std::popcount(levels[b]));
  out->resize(n);
  const char* p = cells.data() + at[b];
  const char* const limit = cells.data() + at[b + 1];
  for (size_t i = 0; i < n; ++i) {
    if (p < limit && static_cast<unsigned char>(*p) < 0x80) {  // one byte: nearly every count
      (*out)[i] = static_cast<unsigned char>(*p++);
      continue;
    }
    uint64_t v = 0;
    ParseVarint64(&p, limit, &v);  // (checked when parsed)
    (*out)[i] = static_cast<uint32_t>(v);
  }
}

size_t MinuteCounts::ResidentBytes() const {
  return sizeof(*this) + known.capacity() / 8 + first_minute.capacity() * sizeof(int64_t) +
         minutes.capacity() * sizeof(uint32_t) + levels.capacity() +
         at.capacity() * sizeof(uint32_t) + cells.capacity();
}

extern const IndexKind kMinuteCountsKind;
const IndexKind kMinuteCountsKind{
    "minute_counts", kVersion, IndexLayout::kKindBlock, false, &Answers, &NewBuilder, &Open};

}  // namespace sawmill::index
