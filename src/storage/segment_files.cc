#include "storage/segment_files.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <chrono>
#include <optional>
#include <thread>

#include "objstore/read_ahead.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"
#include "segment/segment_file_reader.h"

namespace sawmill::storage {

std::string SharedSegmentName(std::string_view tenant, uint64_t id) {
  return PathComponent(tenant) + "/" + std::to_string(id) + ".seg";
}

std::string PathComponent(std::string_view s) {
  if (s.empty()) return "%";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c) || c == '_' || c == '-' || (c == '.' && i > 0)) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string SegmentRelPath(const std::string& tier, const std::string& tenant, uint32_t partition,
                           uint64_t id) {
  return "segments/" + tier + "/" + PathComponent(tenant) + "/" + std::to_string(partition) + "/" +
         std::to_string(id) + ".seg";
}

catalog::SegmentRow RowFromInfo(const segment::SegmentInfo& info, std::string path,
                                std::string tier, int64_t now_ns) {
  catalog::SegmentRow row;
  row.id = info.id;
  row.tenant = info.tenant;
  row.partition = info.partition;
  row.min_ts = info.min_ts;
  row.max_ts = info.max_ts;
  row.min_ingest_ts = info.min_ingest_ts;
  row.max_ingest_ts = info.max_ingest_ts;
  row.min_seq = info.min_seq;
  row.max_seq = info.max_seq;
  row.rows = info.rows;
  row.bytes = info.file_bytes;
  row.raw_bytes = info.raw_bytes;
  row.tier = std::move(tier);
  row.path = std::move(path);
  row.state = std::string(catalog::kStateActive);
  row.created_ns = now_ns;
  return row;
}

namespace {

// Whether built-in column "id" holds integers (ts, ingest_ts, seq, level, flags).
bool IsIntColumn(segment::ColumnId id) {
  if (id >= segment::ColumnId::kBuiltinCount) return false;
  const segment::FieldType type = segment::BuiltinFieldOf(id).type;
  return type != segment::FieldType::kString && type != segment::FieldType::kInternal;
}

// The identity and every block of a segment read back, each physical block checked (checksum,
// decompression) and every column block decoded as a search decodes it: the integer columns
// (every int encoding: ts as rice-runs, seq as permuted runs, ...) whole, each value count the
// block's rows and ts and ingest_ts within the block's range the writer computed from the values
// before encoding them; the text columns through the reader (sub-blocks, the message's times
// against the block's ts); the dynamic fields as ReadBlock builds them. A planted encoder fault
// (segment/writer_test_hook.h) is thus found here, before the segment counts as written, not by
// the first search that reads the block. "add" gets the seq of every row. A copy (ReadBack::
// kCopied) leaves out the encoder's invariants: the ts and ingest_ts ranges.
template <class Add>
Status VerifyEveryBlock(const segment::SegmentFileReader& reader, const segment::SegmentInfo& want,
                        uint64_t rows, ReadBack check, Add add,
                        const std::function<bool()>& stop = nullptr) {
  const std::string& path = reader.path();
  const segment::SegmentInfo& got = reader.info();
  if (got.id != want.id || got.tenant != want.tenant || got.partition != want.partition ||
      got.rows != rows) {
    return Status::DataLoss("segment " + path + " read back as segment " + std::to_string(got.id) +
                            " with " + std::to_string(got.rows) + " rows, not segment " +
                            std::to_string(want.id) + " with " + std::to_string(rows));
  }
  using segment::ColumnId;
  const segment::Footer& footer = reader.footer();
  const size_t builtin = segment::BuiltinColumnCount(reader.format_version());
  std::string raw;
  std::vector<int64_t> ints, times;
  segment::TextBuffer text;
  std::vector<std::string_view> views;
  std::vector<Record> records;
  for (uint32_t b = 0; b < footer.blocks.size(); ++b) {
    if (stop && stop()) {
      return Status::Unavailable("read-back of segment " + path + " abandoned at block " +
                                 std::to_string(b) + ": stopping");
    }
    const segment::BlockInfo& block = footer.blocks[b];
    segment::SegmentFileReader::FrameCache frames;  // the block's shared frame, read once
    std::optional<segment::RowTimesScope> scope;    // the block's ts, once decoded
    bool fields = false;
    for (size_t col = 0; col < footer.columns.size(); ++col) {
      const segment::ColumnMeta& column = footer.columns[col];
      const segment::BlockRef& ref = column.blocks[b];
      const std::string what = "column '" + column.name + "' block " + std::to_string(b);
      auto loss = [&](const std::string& why) {
        return Status::DataLoss("segment " + path + ": " + what + " at offset " +
                                std::to_string(ref.offset) + " read back: " + why);
      };
      if (col >= builtin || column.id == ColumnId::kFieldOverflow) {
        // The dynamic fields: their value counts follow the layout (ReadBlock, below).
        RETURN_IF_ERROR(reader.ReadPhysical(ref, what, &raw, nullptr, &frames));
        fields = fields || ref.present();
        continue;
      }
      if (!IsIntColumn(column.id)) {
        RETURN_IF_ERROR(
            reader.ReadTextColumn(col, b, block.rows, nullptr, &text, &views, nullptr, &frames));
        continue;
      }
      if (!ref.present()) return loss("the block is missing");
      RETURN_IF_ERROR(reader.ReadPhysical(ref, what, &raw, nullptr, &frames));
      ints.clear();
      Status s = segment::DecodeIntColumn(raw, block.rows, &ints);
      if (!s.ok()) return loss(s.message());
      if (ints.size() != block.rows) {
        return loss("holds " + std::to_string(ints.size()) + " values, not " +
                    std::to_string(block.rows));
      }
      if (check == ReadBack::kEncoded &&
          (column.id == ColumnId::kTs || column.id == ColumnId::kIngestTs)) {
        const bool ts = column.id == ColumnId::kTs;
        const int64_t lo = ts ? block.min_ts : block.min_ingest_ts;
        const int64_t hi = ts ? block.max_ts : block.max_ingest_ts;
        for (uint32_t i = 0; i < block.rows; ++i) {
          if (ints[i] < lo || ints[i] > hi) {
            return loss("row " + std::to_string(i) + " holds " + std::to_string(ints[i]) +
                        ", outside the block's range " + std::to_string(lo) + ".." +
                        std::to_string(hi));
          }
        }
      }
      if (column.id == ColumnId::kTs) {
        // The message's times may be stored against them: handed to its decoding.
        times.swap(ints);
        scope.emplace(times.data(), times.size(),
                      static_cast<const segment::SegmentReader*>(&reader), b);
      } else if (column.id == ColumnId::kSeq) {
        for (int64_t seq : ints) add(static_cast<uint64_t>(seq));
      } else if (column.id == ColumnId::kLevel) {
        for (int64_t v : ints) {
          if (v < 0 || v >= kLevelCount) return loss("level " + std::to_string(v));
        }
      }
    }
    if (fields) RETURN_IF_ERROR(reader.ReadBlock(b, segment::kColFields, &records, nullptr));
  }
  for (const segment::IndexMeta& index : footer.indexes) {
    RETURN_IF_ERROR(reader.ReadPhysical(index.ref, "index '" + index.field + "'", &raw, nullptr));
  }
  for (const segment::BloomMeta& bloom : footer.blooms) {
    RETURN_IF_ERROR(reader.ReadPhysical(bloom.segment_filter, "bloom", &raw, nullptr));
    RETURN_IF_ERROR(reader.ReadPhysical(bloom.block_filters, "bloom", &raw, nullptr));
  }
  return Status::OK();
}

// Calls "add" with the seq of every row of "reader", reading only the seq column (as values,
// block by block; no Record is built).
template <class Add>
Status ForEachSeq(const segment::SegmentReader& reader, Add add) {
  segment::BlockColumns columns;
  constexpr size_t kSeqSlot = std::countr_zero(static_cast<uint32_t>(segment::kColSeq));
  for (uint32_t b = 0; b < reader.blocks().size(); ++b) {
    RETURN_IF_ERROR(reader.ReadColumnValues(b, segment::kColSeq, &columns, nullptr));
    for (uint32_t i = 0; i < columns.rows; ++i) {
      add(static_cast<uint64_t>(columns.ints[kSeqSlot][i]));
    }
  }
  return Status::OK();
}

// A read-back reads every block of the segment, one range after the other: through a remote
// store each range was a request (twenty-odd for even a small segment, seconds per flush under
// load). Read through windows of this size instead: one request for a segment up to 16 MiB.
constexpr uint64_t kReadBackWindow = 16 << 20;

Result<std::shared_ptr<segment::SegmentFileReader>> OpenForReadBack(
    const std::shared_ptr<objstore::ObjectStore>& store, const std::string& name) {
  return segment::SegmentFileReader::OpenObject(objstore::ReadAhead(store, kReadBackWindow), name);
}

}  // namespace

Status CollectSeqs(const segment::SegmentReader& reader, Roaring64Map* seqs, uint64_t* rows) {
  return ForEachSeq(reader, [&](uint64_t seq) {
    seqs->add(seq);
    ++*rows;
  });
}

Status VerifyWritten(const std::shared_ptr<objstore::ObjectStore>& store, const std::string& name,
                     const segment::SegmentInfo& want, const Roaring64Map& seqs, uint64_t rows,
                     ReadBack check, const std::function<bool()>& stop) {
  ASSIGN_OR_RETURN(auto reader, OpenForReadBack(store, name));
  Roaring64Map stored;
  uint64_t stored_rows = 0;
  RETURN_IF_ERROR(VerifyEveryBlock(
      *reader, want, rows, check,
      [&](uint64_t seq) {
        stored.add(seq);
        ++stored_rows;
      },
      stop));
  if (stored_rows != rows || stored.cardinality() != rows || !(stored == seqs)) {
    return Status::DataLoss("segment " + reader->path() +
                            " read back with other seqs than were written");
  }
  return Status::OK();
}

Status VerifyWritten(const std::shared_ptr<objstore::ObjectStore>& store, const std::string& name,
                     const segment::SegmentInfo& want, std::vector<uint64_t> seqs) {
  ASSIGN_OR_RETURN(auto reader, OpenForReadBack(store, name));
  const std::string& path = reader->path();
  std::vector<uint64_t> stored;
  stored.reserve(seqs.size());
  RETURN_IF_ERROR(VerifyEveryBlock(*reader, want, seqs.size(), ReadBack::kEncoded,
                                   [&](uint64_t seq) { stored.push_back(seq); }));
  std::sort(stored.begin(), stored.end());
  std::sort(seqs.begin(), seqs.end());
  if (stored != seqs) {
    return Status::DataLoss("segment " + path + " read back with other seqs than were written");
  }
  return Status::OK();
}

Result<uint64_t> ReadBackRegistration(catalog::Catalog* catalog, uint64_t id, int tries) {
  Status last;
  for (int attempt = 0; attempt < tries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    auto number = catalog->SegmentRegistration(id);
    if (number.ok()) return number;
    last = number.status();
  }
  return Status::Unavailable("cannot read back the registration of segment " + std::to_string(id) +
                             ": " + last.ToString());
}

Status SwapShared(catalog::Catalog* catalog, const std::vector<uint64_t>& inputs,
                  const catalog::SegmentRow& output, const catalog::LeaseFence* fence,
                  bool* keep_output) {
  *keep_output = false;
  Status s = catalog->Replace(inputs, {output}, fence);
  if (s.ok()) {
    *keep_output = true;
    return s;
  }
  if (s.code() != StatusCode::kUnavailable) return s;  // refused: nothing committed
  // The connection broke: the commit may have happened (the catalog reconnects on its next
  // call). The output's registration says which, once the catalog answers (read back after
  // registrations in flight: a plain read of the output's row could run while the swap's commit
  // is still finishing, see no row, and have the caller delete an object named a moment later).
  auto registered = ReadBackRegistration(catalog, output.id, /*tries=*/5);
  if (registered.ok()) {
    *keep_output = *registered != 0;
    return *keep_output ? Status::OK() : s;
  }
  *keep_output = true;  // unknown: never delete an object a row may name
  return s;
}

Result<std::map<std::string, uint64_t>> ConfirmedThroughByNode(catalog::Catalog* catalog,
                                                               int64_t now_ns,
                                                               int64_t gone_wait_ns) {
  ASSIGN_OR_RETURN(std::vector<catalog::NodeRow> rows, catalog->ListNodes());
  // Read after the rows: a node that leaves or is fenced in between is seen gone with the
  // number of its row, never seen with no row and not gone (which would take everything).
  ASSIGN_OR_RETURN(std::vector<catalog::GoneNodeRow> gone, catalog->ListGoneNodes());
  std::map<std::string, uint64_t> out;
  std::map<std::string, const catalog::NodeRow*> by_id;
  for (const catalog::NodeRow& row : rows) {
    out[row.id] = row.confirmed_through;
    by_id[row.id] = &row;
  }
  for (const catalog::GoneNodeRow& g : gone) {
    auto it = by_id.find(g.id);
    const catalog::NodeRow* row = it != by_id.end() ? it->second : nullptr;
    // A heartbeat since: a later process of the id, which answers with its own number.
    if (row != nullptr && row->heartbeat_ns >= g.gone_ns) continue;
    const uint64_t last = row != nullptr ? row->confirmed_through : g.confirmed_through;
    out[g.id] = now_ns - g.gone_ns >= gone_wait_ns ? UINT64_MAX : last;
  }
  return out;
}

}  // namespace sawmill::storage
