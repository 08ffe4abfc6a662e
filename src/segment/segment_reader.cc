#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <utility>

#include "common/coding.h"
#include "objstore/local_directory_store.h"
#include "segment/block_codec.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"
#include "segment/format.h"
#include "segment/json_shape.h"
#include "segment/segment_file_reader.h"

namespace sawmill::segment {

namespace {

BlockCodec& ThreadCodec() {
  thread_local BlockCodec codec;
  return codec;
}

// Scratch for the blocks one thread reads: kept from read to read, so that a column block of a
// MiB is not allocated (and its pages faulted in) afresh each time (docs/performance.md
// "Reading a few rows of a block"); let go once it grew past kMaxKeptScratchBytes (a warm
// block's). No call that uses one calls another that uses the same one. The message, the
// largest column by far, has its own: a buffer is zero-filled where it grows, and a message
// block read after a small column's block would grow it by a MiB each time.
constexpr size_t kMaxKeptScratchBytes = 8 << 20;
enum Scratch {
  kColumnsScratch,
  kMessageScratch,
  kLayoutScratch,
  kShapeScratch,
  kExtraScratch,
  kTimesScratch,  // a block's ts read for its message's times (RowTimesFor) or its seq's
  kScratchCount
};

TextBuffer& ThreadScratch(Scratch which) {
  thread_local std::array<TextBuffer, kScratchCount> buffers;
  TextBuffer& b = buffers[which];
  if (b.raw.capacity() > kMaxKeptScratchBytes) b.raw = std::string();
  if (b.arena.capacity() > kMaxKeptScratchBytes) b.arena = std::string();
  return b;
}

// The stored bytes of the block being read (ReadPhysical, ReadSubBlocks, ReadTextRows).
std::string& ThreadStored() {
  thread_local std::string stored;
  if (stored.capacity() > kMaxKeptScratchBytes) stored = std::string();
  return stored;
}

}  // namespace

Result<std::shared_ptr<SegmentReader>> SegmentReader::Open(
    std::shared_ptr<objstore::ObjectStore> store, const std::string& name) {
  ASSIGN_OR_RETURN(auto reader, SegmentFileReader::OpenObject(std::move(store), name));
  return std::shared_ptr<SegmentReader>(std::move(reader));
}

Result<std::shared_ptr<SegmentReader>> SegmentReader::Open(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(auto reader, SegmentFileReader::OpenFile(env, path));
  return std::shared_ptr<SegmentReader>(std::move(reader));
}

Result<std::shared_ptr<SegmentFileReader>> SegmentFileReader::OpenObject(
    std::shared_ptr<objstore::ObjectStore> store, const std::string& name) {
  std::string path = store->Location(name);
  auto object = store->Open(name);
  if (!object.ok()) {
    if (object.status().IsNotFound()) {
      return Status::NotFound("segment " + path + " does not exist");
    }
    return object.status();
  }
  return OpenReader(std::move(store), std::move(object).value(), std::move(path));
}

Result<std::shared_ptr<SegmentFileReader>> SegmentFileReader::OpenFile(Env* env,
                                                                       const std::string& path) {
  auto object = objstore::OpenLocalFile(env, path);
  if (!object.ok()) {
    if (object.status().IsNotFound()) {
      return Status::NotFound("segment " + path + " does not exist");
    }
    return object.status();
  }
  return OpenReader(nullptr, std::move(object).value(), path);
}

Result<std::shared_ptr<SegmentFileReader>> SegmentFileReader::OpenReader(
    std::shared_ptr<objstore::ObjectStore> store, std::unique_ptr<objstore::ObjectReader> object,
    std::string path_in) {
  auto r = std::make_shared<SegmentFileReader>();
  r->store_ = std::move(store);
  r->object_ = std::move(object);
  r->path_ = std::move(path_in);
  const std::string& path = r->path_;
  const uint64_t size = r->object_->size();
  auto loss = [&](uint64_t offset, const std::string& what) {
    return Status::DataLoss("segment " + path + ": " + what + " at offset " +
                            std::to_string(offset));
  };
  if (size < kHeaderSize + kTrailerSize) {
    return loss(
        0, "file of " + std::to_string(size) + " bytes is too short to be a segment (truncated)");
  }
  std::string head;
  RETURN_IF_ERROR(r->object_->ReadRange(0, kHeaderSize, &head));
  if (std::string_view(head).substr(0, kMagicSize) != kMagic) {
    return loss(0, "bad magic: not a segment file");
  }
  const uint32_t header_version = DecodeFixed32(head.data() + kMagicSize);
  const uint32_t identity_size = DecodeFixed32(head.data() + kMagicSize + 4);
  std::string tail;
  uint64_t trailer_at = size - kTrailerSize;
  RETURN_IF_ERROR(r->object_->ReadRange(trailer_at, kTrailerSize, &tail));
  std::string_view got(tail);
  if (got.substr(kTrailerSize - kMagicSize) != kMagic) {
    return loss(trailer_at, "bad trailer magic (torn or truncated file)");
  }
  uint64_t footer_offset = DecodeFixed64(got.data());
  uint32_t footer_size = DecodeFixed32(got.data() + 8);
  uint32_t footer_raw = DecodeFixed32(got.data() + 12);
  uint32_t version = DecodeFixed32(got.data() + 16);
  if (version < kMinReadableVersion || version > kFormatVersion) {
    const std::string what =
        "format version " + std::to_string(version) + " is not readable by this build (reads " +
        std::to_string(kMinReadableVersion) + ".." + std::to_string(kFormatVersion) + ")";
    // Header and trailer agree on a newer version: a segment a newer build wrote (a rolling
    // upgrade, docs/cluster.md "Format version in a rolling upgrade"), not damage. Not DataLoss,
    // so that nobody marks it corrupt; a newer build reads it.
    if (version > kFormatVersion && header_version == version) {
      return Status::FailedPrecondition("segment " + path + ": " + what);
    }
    return loss(trailer_at + 16, what);
  }
  if (footer_offset < kHeaderSize || footer_offset > trailer_at ||
      footer_size != trailer_at - footer_offset || footer_size < kBlockTrailerSize ||
      footer_raw > kMaxFooterBytes) {
    return loss(trailer_at, "bad footer location (offset " + std::to_string(footer_offset) +
                                ", size " + std::to_string(footer_size) + ")");
  }
  if (header_version != version) {
    return loss(kMagicSize, "the header says format version " + std::to_string(header_version) +
                                ", the trailer " + std::to_string(version));
  }
  r->version_ = version;
  SegmentIdentity identity;
  uint64_t data_start = kHeaderSize;
  if (version >= 2) {
    if (identity_size < kBlockTrailerSize || identity_size > kMaxIdentityBytes ||
        identity_size > footer_offset - kHeaderSize) {
      return loss(kMagicSize + 4, "bad identity size " + std::to_string(identity_size));
    }
    std::string raw;
    RETURN_IF_ERROR(
        r->ReadPhysical(BlockRef{kHeaderSize, identity_size, identity_size - kBlockTrailerSize},
                        "identity", &raw, nullptr));
    Status s = DecodeIdentity(raw, &identity);
    if (!s.ok()) return loss(kHeaderSize, s.message());
    data_start += identity_size;
  }
  std::string raw;
  RETURN_IF_ERROR(
      r->ReadPhysical(BlockRef{footer_offset, footer_size, footer_raw}, "footer", &raw, nullptr));
  Status s = DecodeFooter(raw, footer_offset, &r->footer_);
  if (!s.ok()) return loss(footer_offset, s.message());
  if (r->footer_.version != version) {
    return loss(footer_offset, "the footer says format version " +
                                   std::to_string(r->footer_.version) + ", the trailer " +
                                   std::to_string(version));
  }
  if (version >= 2) {
    const SegmentInfo& info = r->footer_.info;
    if (identity.id != info.id || identity.tenant != info.tenant ||
        identity.partition != info.partition || identity.rows != info.rows ||
        identity.min_seq != info.min_seq || identity.max_seq != info.max_seq) {
      return loss(kHeaderSize, "the header identity (segment " + std::to_string(identity.id) +
                                   ") disagrees with the footer (segment " +
                                   std::to_string(info.id) + ")");
    }
    for (const ColumnMeta& c : r->footer_.columns) {
      for (const BlockRef& ref : c.blocks) {
        if (ref.present() && ref.offset < data_start) {
          return loss(footer_offset, "column '" + c.name + "' has a block inside the header");
        }
      }
    }
  }
  r->builtin_columns_ = BuiltinColumnCount(version);
  if (r->footer_.columns.size() < r->builtin_columns_) {
    return loss(footer_offset,
                "footer lists only " + std::to_string(r->footer_.columns.size()) + " columns");
  }
  for (size_t c = 0; c < r->footer_.columns.size(); ++c) {
    const ColumnMeta& meta = r->footer_.columns[c];
    bool builtin = c < r->builtin_columns_;
    if (builtin ? meta.id != static_cast<ColumnId>(c) : meta.id != ColumnId::kDynamic) {
      return loss(footer_offset, "column " + std::to_string(c) + " is out of place");
    }
    if (!builtin && std::find(r->field_names_.begin(), r->field_names_.end(), meta.name) ==
                        r->field_names_.end()) {
      r->field_names_.push_back(meta.name);
    }
  }
  r->footer_.info.file_bytes = size;
  r->FindKinds();
  return r;
}

Result<SegmentIdentity> ReadSegmentIdentity(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return Status::NotFound("segment " + path + " does not exist");
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  auto loss = [&](uint64_t offset, const std::string& what) {
    return Status::DataLoss("segment " + path + ": " + what + " at offset " +
                            std::to_string(offset));
  };
  char head[kHeaderSize];
  std::string_view got;
  RETURN_IF_ERROR(file->Read(0, kHeaderSize, &got, head));
  if (got.size() != kHeaderSize || got.substr(0, kMagicSize) != kMagic) {
    return loss(0, "bad magic: not a segment file");
  }
  SegmentIdentity identity;
  identity.format_version = DecodeFixed32(got.data() + kMagicSize);
  const uint32_t size = DecodeFixed32(got.data() + kMagicSize + 4);
  if (identity.format_version < 2) {
    return Status::FailedPrecondition("segment " + path +
                                      ": format version 1 has no header identity");
  }
  if (identity.format_version > kFormatVersion) {
    return loss(kMagicSize, "format version " + std::to_string(identity.format_version) +
                                " is not readable by this build");
  }
  if (size < kBlockTrailerSize || size > kMaxIdentityBytes) {
    return loss(kMagicSize + 4, "bad identity size " + std::to_string(size));
  }
  std::string stored(size, '\0');
  RETURN_IF_ERROR(file->Read(kHeaderSize, size, &got, stored.data()));
  if (got.size() != size) return loss(kHeaderSize, "identity: file ends early (truncated)");
  std::string raw;
  Status s = BlockCodec().Decompress(got, size - kBlockTrailerSize, &raw);
  if (s.ok()) s = DecodeIdentity(raw, &identity);
  if (!s.ok()) return loss(kHeaderSize, "identity: " + s.message());
  return identity;
}

namespace {

// The argument check of ReadIntColumnsThrough: integer columns only, "through" at least 1.
Status CheckIntColumnsThrough(uint32_t column_mask, uint32_t through) {
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) != 0 && field.type == FieldType::kString) {
      return Status::InvalidArgument("ReadIntColumnsThrough reads integer columns only, not '" +
                                     std::string(field.name) + "'");
    }
  }
  if ((column_mask & kColFields) != 0 || through == 0) {
    return Status::InvalidArgument(
        "ReadIntColumnsThrough reads built-in integer columns through a row: " +
        std::string((column_mask & kColFields) != 0 ? "not the fields" : "through 0 rows"));
  }
  return Status::OK();
}

// The rows ReadRows and ReadIntColumnRows are asked for: strictly ascending, each below the
// block's "count"; else the caller's InvalidArgument, "where" ("segment P " or empty) naming it.
Status CheckListedRows(std::string_view where, uint32_t block, uint32_t count,
                       const std::vector<uint32_t>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= count || (i > 0 && rows[i] <= rows[i - 1])) {
      return Status::InvalidArgument(std::string(where) + "block " + std::to_string(block) + " (" +
                                     std::to_string(count) + " rows): row " +
                                     std::to_string(rows[i]) + " at position " + std::to_string(i) +
                                     " is past the block or out of order");
    }
  }
  return Status::OK();
}

}  // namespace

Status SegmentFileReader::ReadPhysical(const BlockRef& ref, std::string_view what, std::string* raw,
                                       ReadStats* stats, FrameCache* frames) const {
  if (ref.packed) {
    // A slice of the row block's shared frame (DecodeFooter checked that it lies inside it).
    FrameCache local;
    FrameCache* cache = frames != nullptr ? frames : &local;
    if (cache->offset != ref.offset) {
      cache->offset = UINT64_MAX;
      RETURN_IF_ERROR(ReadPhysical(BlockRef{ref.offset, ref.size, ref.frame_raw_size},
                                   std::string(what) + ", in the shared frame of its row block",
                                   &cache->raw, stats));
      cache->offset = ref.offset;
    }
    if (ref.slice_start > cache->raw.size() || ref.raw_size > cache->raw.size() - ref.slice_start) {
      return Status::DataLoss("segment " + path_ + ": " + std::string(what) +
                              ": its slice lies outside its shared frame");
    }
    raw->assign(cache->raw, ref.slice_start, ref.raw_size);
    return Status::OK();
  }
  if (ref.is_split()) {
    raw->clear();
    raw->reserve(ref.raw_size);
    return ReadSubBlocks(ref, 0, footer_.splits[ref.split].size(), what, raw, stats);
  }
  auto loss = [&](const std::string& why) {
    return Status::DataLoss("segment " + path_ + ": " + std::string(what) + " at offset " +
                            std::to_string(ref.offset) + " (" + std::to_string(ref.size) +
                            " bytes): " + why);
  };
  if (!ref.present()) {
    raw->clear();
    return Status::OK();
  }
  if (ref.offset > object_->size() || ref.size > object_->size() - ref.offset) {
    return loss("file ends early (truncated)");
  }
  std::string& stored = ThreadStored();
  RETURN_IF_ERROR(object_->ReadRange(ref.offset, ref.size, &stored));
  Status s = ThreadCodec().Decompress(stored, ref.raw_size, raw);
  if (!s.ok()) return loss(s.message());
  if (stats != nullptr) {
    ++stats->blocks_read;
    stats->bytes_read_compressed += ref.size;
    stats->bytes_read_raw += ref.raw_size;
  }
  return Status::OK();
}

Status SegmentFileReader::ReadStoredUnchecked(const BlockRef& ref, std::string_view what,
                                              std::string* raw) const {
  auto loss = [&](const std::string& why) {
    return Status::DataLoss("segment " + path_ + ": " + std::string(what) + " at offset " +
                            std::to_string(ref.offset) + ": " + why);
  };
  if (ref.packed || ref.is_split() || !ref.present() || ref.size < kBlockTrailerSize) {
    return loss("not a block of its own");
  }
  if (ref.offset > object_->size() || ref.size > object_->size() - ref.offset) {
    return loss("file ends early (truncated)");
  }
  // Stored uncompressed: its bytes, then the codec byte and the checksum (the codec byte not
  // trusted: a compressed payload is smaller by a 32nd at least, BlockCodec::Compress).
  if (ref.size - kBlockTrailerSize != ref.raw_size) return loss("stored compressed");
  RETURN_IF_ERROR(object_->ReadRange(ref.offset, ref.size, raw));
  raw->resize(ref.raw_size);
  return Status::OK();
}

Status SegmentFileReader::ReadSubBlocks(const BlockRef& ref, size_t first, size_t last,
                                        std::string_view what, std::string* raw,
                                        ReadStats* stats) const {
  const std::vector<SubBlock>& subs = footer_.splits[ref.split];
  auto loss = [&](const SubBlock& sub, size_t i, const std::string& why) {
    return Status::DataLoss(
        "segment " + path_ + ": " + std::string(what) + ", sub-block " + std::to_string(i + 1) +
        " of " + std::to_string(subs.size()) + " (rows " + std::to_string(sub.first_row) + ".." +
        std::to_string(sub.first_row + sub.rows - 1) + ") at offset " + std::to_string(sub.offset) +
        " (" + std::to_string(sub.size) + " bytes): " + why);
  };
  const uint64_t begin = subs[first].offset;
  const uint64_t end = subs[last - 1].offset + subs[last - 1].size;
  if (begin > object_->size() || end > object_->size()) {
    const size_t i = end > object_->size() ? last - 1 : first;
    return loss(subs[i], i, "file ends early (truncated)");
  }
  std::string& stored = ThreadStored();
  RETURN_IF_ERROR(object_->ReadRange(begin, end - begin, &stored));
  std::string piece;
  for (size_t i = first; i < last; ++i) {
    const SubBlock& sub = subs[i];
    Status s = ThreadCodec().Decompress(
        std::string_view(stored).substr(sub.offset - begin, sub.size), sub.raw_size, &piece);
    if (!s.ok()) return loss(sub, i, s.message());
    raw->append(piece);
    if (stats != nullptr) {
      ++stats->blocks_read;
      stats->bytes_read_compressed += sub.size;
      stats->bytes_read_raw += sub.raw_size;
    }
  }
  return Status::OK();
}

Status SegmentFileReader::RowTimesFor(std::string_view raw, uint32_t block,
                                      std::vector<int64_t>* times, ReadStats* stats,
                                      FrameCache* frames, uint32_t through) const {
  times->clear();
  if (version_ < 13 || !TimeTextNeedsRowTimes(raw)) return Status::OK();
  const uint32_t rows = footer_.blocks[block].rows;
  const uint32_t needed = std::min(through, rows);
  // ReadColumns (or the caller of a read, the executor) gives the block's ts it decoded already
  // (for a read of the rows before "through", those rows' at least).
  if (needed < rows ? RowTimesScope::HeldThrough(TimesOwner(), block, needed)
                    : RowTimesScope::HeldFor(TimesOwner(), block, rows)) {
    return Status::OK();
  }
  std::vector<std::string_view> unused;
  const BuiltinField& ts = kBuiltinFields[0];
  const std::vector<uint32_t> last{needed - 1};
  return DecodeBuiltinColumn(block, ts, rows, needed < rows && needed > 0 ? &last : nullptr,
                             &ThreadScratch(kTimesScratch), times, &unused, stats, frames);
}

Status SegmentFileReader::ReadTextRows(const BlockRef& ref, const std::string& name, uint32_t block,
                                       uint32_t rows, const std::vector<uint32_t>& selected,
                                       TextBuffer* buf, std::vector<std::string_view>* views,
                                       ReadStats* stats) const {
  auto loss = [&](const std::string& why) {
    return Status::DataLoss("segment " + path_ + ": " + name + " at offset " +
                            std::to_string(ref.offset) + " (" + std::to_string(ref.size) +
                            " bytes): " + why);
  };
  if (ref.offset > object_->size() || ref.size > object_->size() - ref.offset) {
    return loss("file ends early (truncated)");
  }
  std::string& stored = ThreadStored();
  RETURN_IF_ERROR(object_->ReadRange(ref.offset, ref.size, &stored));
  // A plain block's lengths come first: once they are out, the bytes of the last listed row end
  // at a known place, and the rest of the block need not be decompressed. A marked lines block
  // (version 12) says where each group of 64 rows begins: it is decompressed through the group
  // holding the last listed row.
  uint64_t through = 0;
  // A kIsoPrefix block (version 10) holds such a block after two small int blocks.
  auto need = [&](std::string_view got) -> uint64_t {
    if (through == 0) {
      const Encoding enc = got.empty() ? Encoding::kPlain : static_cast<Encoding>(got[0]);
      through = enc == Encoding::kIsoPrefix  ? IsoPrefixBytesThrough(got, rows, selected.back())
                : enc == Encoding::kTimeText ? TimeTextBytesThrough(got, rows, selected.back())
                                             : TextBytesThrough(got, rows, selected.back());
    }
    return through != 0 ? through : got.size() + 1;
  };
  size_t got = 0;
  Status s = ThreadCodec().DecompressPrefix(stored, ref.raw_size, need, &buf->raw, &got);
  // buf->raw stays ref.raw_size long (not zero-filled again for the next block): its first "got"
  // bytes are this block's.
  const std::string_view raw(buf->raw.data(), got);
  if (!s.ok()) return loss(s.message());
  if (stats != nullptr) {
    ++stats->blocks_read;
    stats->bytes_read_compressed += ref.size;
    stats->bytes_read_raw += got;
  }
  std::vector<int64_t> times;
  RETURN_IF_ERROR(RowTimesFor(raw, block, &times, stats, nullptr, selected.back() + 1));
  std::optional<RowTimesScope> scope;
  if (!times.empty()) scope.emplace(times.data(), times.size());
  std::string_view filter;
  RETURN_IF_ERROR(TraceFilterFor(raw, block, name, &filter));
  std::optional<IdFilterScope> filter_scope;
  if (!filter.empty()) filter_scope.emplace(filter);
  if (raw.size() < ref.raw_size && !raw.empty() &&
      static_cast<Encoding>(raw[0]) == Encoding::kIsoPrefix) {
    s = DecodeIsoPrefixRows(raw, ref.raw_size, rows, selected, views, &buf->arena);
  } else if (raw.size() < ref.raw_size && !raw.empty() &&
             static_cast<Encoding>(raw[0]) == Encoding::kTimeText) {
    s = DecodeTimeTextRows(raw, ref.raw_size, rows, selected, views, &buf->arena);
  } else if (raw.size() < ref.raw_size) {
    s = DecodeTextRows(raw, ref.raw_size, rows, selected, views);
  } else {
    s = DecodeStringRows(raw, rows, selected, views, &buf->arena);
  }
  if (!s.ok()) {
    return DecodeFailure(
        "segment " + path_ + ": " + name + " at offset " + std::to_string(ref.offset), s);
  }
  return Status::OK();
}

Status SegmentFileReader::ReadTextColumn(size_t col, uint32_t block, uint32_t rows,
                                         const std::vector<uint32_t>* selected, TextBuffer* buf,
                                         std::vector<std::string_view>* views, ReadStats* stats,
                                         FrameCache* frames) const {
  const BlockRef& ref = footer_.columns[col].blocks[block];
  const std::string name = ColumnBlockName(col, block);
  views->clear();
  if (selected != nullptr && !selected->empty() && ref.present() && !ref.packed &&
      !ref.is_split()) {
    return ReadTextRows(ref, name, block, rows, *selected, buf, views, stats);
  }
  if (!ref.is_split()) {
    RETURN_IF_ERROR(ReadPhysical(ref, name, &buf->raw, stats, frames));
    if (!ref.present()) {
      views->resize(selected != nullptr ? selected->size() : rows);
      return Status::OK();
    }
    std::vector<int64_t> times;
    RETURN_IF_ERROR(RowTimesFor(buf->raw, block, &times, stats, frames));
    std::optional<RowTimesScope> scope;
    if (!times.empty()) scope.emplace(times.data(), times.size());
    std::string_view filter;
    RETURN_IF_ERROR(TraceFilterFor(buf->raw, block, name, &filter));
    std::optional<IdFilterScope> filter_scope;
    if (!filter.empty()) filter_scope.emplace(filter);
    Status s;
    if (selected != nullptr) {
      s = DecodeStringRows(buf->raw, rows, *selected, views, &buf->arena);
    } else {
      s = DecodeStringColumn(buf->raw, rows, views, &buf->arena);
      if (s.ok() && views->size() != rows)
        s = Status::DataLoss("holds " + std::to_string(views->size()) + " values");
    }
    if (!s.ok()) {
      return DecodeFailure(
          "segment " + path_ + ": " + name + " at offset " + std::to_string(ref.offset), s);
    }
    return Status::OK();
  }
  // Which sub-blocks hold a listed row. The listed rows are dealt to them in order: out of
  // order is the caller's error (InvalidArgument), as the decoders of one block say.
  const std::vector<SubBlock>& subs = footer_.splits[ref.split];
  std::vector<bool> wanted(subs.size(), selected == nullptr);
  uint64_t raw_bytes = 0;
  if (selected != nullptr) {
    Status s = CheckRowsAscending(*selected, rows);
    if (!s.ok()) return DecodeFailure("segment " + path_ + ": " + name, s);
    size_t i = 0;
    for (uint32_t row : *selected) {
      while (i < subs.size() && row >= subs[i].first_row + subs[i].rows) ++i;
      if (i == subs.size()) break;
      wanted[i] = true;
    }
  }
  for (size_t i = 0; i < subs.size(); ++i) raw_bytes += wanted[i] ? subs[i].raw_size : 0;
  // Every piece is appended to buf->raw, which never grows past this: views into it stay valid.
  buf->raw.clear();
  buf->raw.reserve(raw_bytes);
  buf->piece_arenas.clear();
  // Never reallocated below: a short arena's views point into the string object itself.
  buf->piece_arenas.reserve(subs.size());
  if (selected == nullptr) views->resize(rows);
  std::vector<uint32_t> in_piece;  // the listed rows of one sub-block, relative to it
  size_t next = 0;                 // the next entry of *selected
  // (Version 13) The block's ts, once a piece needs them: those of the scope the caller opened
  // for the block (ReadColumns), else read into "block_times".
  std::vector<int64_t> block_times;
  const int64_t* block_ts = nullptr;
  for (size_t first = 0; first < subs.size();) {
    if (!wanted[first]) {
      ++first;
      continue;
    }
    size_t last = first + 1;
    while (last < subs.size() && wanted[last]) ++last;
    const size_t at = buf->raw.size();
    RETURN_IF_ERROR(ReadSubBlocks(ref, first, last, name, &buf->raw, stats));
    std::string_view run = std::string_view(buf->raw).substr(at);
    for (size_t i = first; i < last; ++i) {
      const SubBlock& sub = subs[i];
      std::string_view piece_raw = run.substr(0, sub.raw_size);
      run.remove_prefix(sub.raw_size);
      std::string& arena = buf->piece_arenas.emplace_back();
      buf->piece.clear();
      // A piece stored against its rows' times reads the block's ts (once) for them.
      if (block_ts == nullptr && TimeTextNeedsRowTimes(piece_raw)) {
        if (RowTimesScope::HeldFor(TimesOwner(), block, rows)) {
          block_ts = RowTimesScope::times();
        } else {
          RETURN_IF_ERROR(RowTimesFor(piece_raw, block, &block_times, stats, frames));
          if (block_times.size() == rows) block_ts = block_times.data();
        }
      }
      const bool with_times = block_ts != nullptr && sub.first_row + sub.rows <= rows;
      RowTimesScope scope(with_times ? block_ts + sub.first_row : nullptr,
                          with_times ? sub.rows : 0);
      Status s;
      if (selected != nullptr) {
        in_piece.clear();
        for (; next < selected->size() && (*selected)[next] < sub.first_row + sub.rows; ++next) {
          in_piece.push_back((*selected)[next] - sub.first_row);
        }
        s = DecodeStringRows(piece_raw, sub.rows, in_piece, &buf->piece, &arena);
      } else {
        s = DecodeStringColumn(piece_raw, sub.rows, &buf->piece, &arena);
        if (s.ok() && buf->piece.size() != sub.rows)
          s = Status::DataLoss("holds " + std::to_string(buf->piece.size()) + " values");
      }
      if (!s.ok()) {
        return DecodeFailure("segment " + path_ + ": " + name + ", sub-block " +
                                 std::to_string(i + 1) + " of " + std::to_string(subs.size()) +
                                 " (rows " + std::to_string(sub.first_row) + ".." +
                                 std::to_string(sub.first_row + sub.rows - 1) + ") at offset " +
                                 std::to_string(sub.offset),
                             s);
      }
      if (selected != nullptr) {
        views->insert(views->end(), buf->piece.begin(), buf->piece.end());
      } else {
        std::copy(buf->piece.begin(), buf->piece.end(), views->begin() + sub.first_row);
      }
    }
    first = last;
  }
  return Status::OK();
}

Status SegmentFileReader::ReadBlock(uint32_t block, uint32_t column_mask, std::vector<Record>* out,
                                    ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  return ReadSelected(block, column_mask, nullptr, out, stats);
}

Status SegmentFileReader::ReadRows(uint32_t block, uint32_t column_mask,
                                   const std::vector<uint32_t>& rows, std::vector<Record>* out,
                                   ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  RETURN_IF_ERROR(
      CheckListedRows("segment " + path_ + " ", block, footer_.blocks[block].rows, rows));
  if (rows.empty()) return Status::OK();
  return ReadSelected(block, column_mask, &rows, out, stats);
}

Status SegmentFileReader::ReadSelected(uint32_t block, uint32_t column_mask,
                                       const std::vector<uint32_t>* selected,
                                       std::vector<Record>* out, ReadStats* stats) const {
  FrameCache frames;  // the block's shared frame, decompressed once for all its columns
  if ((column_mask & kColMessage) == 0 || version_ < 4) {
    return ReadColumns(block, column_mask, selected, out, stats, &frames);
  }
  // Version 4: messages stored as shapes are rendered from the columns they refer to, which are
  // decoded too (and cleared again when the caller did not ask for them).
  const size_t shape_col = static_cast<size_t>(ColumnId::kMessageShape);
  const size_t extra_col = static_cast<size_t>(ColumnId::kMessageExtra);
  const BlockRef& shape_ref = footer_.columns[shape_col].blocks[block];
  if (!shape_ref.present()) return ReadColumns(block, column_mask, selected, out, stats, &frames);
  const uint32_t rows = footer_.blocks[block].rows;
  const size_t n = selected != nullptr ? selected->size() : rows;
  auto row_of = [selected](size_t i) {
    return selected != nullptr ? (*selected)[i] : static_cast<uint32_t>(i);
  };
  auto name = [&](size_t col) { return ColumnBlockName(col, block); };
  auto decode_loss = [&](size_t col, const Status& s) {
    return Status::DataLoss("segment " + path_ + ": " + name(col) + " at offset " +
                            std::to_string(footer_.columns[col].blocks[block].offset) + ": " +
                            s.message());
  };
  TextBuffer& shape_buf = ThreadScratch(kShapeScratch);
  TextBuffer& extra_buf = ThreadScratch(kExtraScratch);
  std::vector<std::string_view> shapes, extras;
  RETURN_IF_ERROR(
      ReadTextColumn(shape_col, block, rows, selected, &shape_buf, &shapes, stats, &frames));
  const BlockRef& extra_ref = footer_.columns[extra_col].blocks[block];
  if (extra_ref.present()) {
    RETURN_IF_ERROR(
        ReadTextColumn(extra_col, block, rows, selected, &extra_buf, &extras, stats, &frames));
  }
  Status s;
  // Only the columns the rows built here refer to.
  uint32_t needed = 0;  // (shapes and extras hold one value per row built: row_of(i) is row i)
  for (size_t i = 0; i < n; ++i) needed |= JsonShapeColumns(shapes[i]);
  const uint32_t added = needed & ~column_mask;
  const size_t base = out->size();
  RETURN_IF_ERROR(ReadColumns(block, column_mask | needed, selected, out, stats, &frames));
  Record* dst = out->data() + base;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t row = row_of(i);
    if (shapes[i].empty()) continue;
    std::string& message = dst[i].message;
    message.clear();
    s = RenderJsonShape(shapes[i], extras.empty() ? std::string_view() : extras[i], dst[i],
                        &message);
    if (!s.ok()) {
      out->resize(base);
      return decode_loss(shape_col,
                         Status::DataLoss("row " + std::to_string(row) + ": " + s.message()));
    }
  }
  if (added != 0) {
    for (size_t i = 0; i < n; ++i) {
      Record& r = dst[i];
      if (added & kColFields) r.fields.clear();
      if (added & kColTs) r.ts = 0;
      for (const BuiltinField& field : kBuiltinFields) {
        if ((added & field.column_bit) != 0 && field.type == FieldType::kString) {
          (r.*field.text).clear();
        }
      }
    }
  }
  return Status::OK();
}

Status SegmentFileReader::ReadColumns(uint32_t block, uint32_t column_mask,
                                      const std::vector<uint32_t>* selected,
                                      std::vector<Record>* out, ReadStats* stats,
                                      FrameCache* frames) const {
  const uint32_t rows = footer_.blocks[block].rows;
  const size_t n = selected != nullptr ? selected->size() : rows;
  auto row_of = [selected](size_t i) {
    return selected != nullptr ? (*selected)[i] : static_cast<uint32_t>(i);
  };
  const size_t base = out->size();
  out->resize(base + n);
  Record* dst = out->data() + base;
  for (size_t i = 0; i < n; ++i) dst[i].tenant = footer_.info.tenant;
  auto fail = [&](Status s) {
    out->resize(base);
    return s;
  };
  auto name = [&](size_t col) { return ColumnBlockName(col, block); };
  auto decode_loss = [&](size_t col, const Status& s) {
    return Status::DataLoss("segment " + path_ + ": " + name(col) + " at offset " +
                            std::to_string(footer_.columns[col].blocks[block].offset) + ": " +
                            s.message());
  };
  TextBuffer& buf = ThreadScratch(kColumnsScratch);
  TextBuffer& message_buf = ThreadScratch(kMessageScratch);
  std::vector<int64_t> ints;
  // (Version 13) The block's ts for the message's times: every row's, or (a read of listed
  // rows) those of the rows through the last one listed, all its times need (RowTimesFor).
  std::vector<int64_t> block_ts;
  const size_t times_needed =
      selected != nullptr && !selected->empty() ? selected->back() + 1 : rows;
  std::vector<std::string_view> views;
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    TextBuffer* field_buf = field.column == ColumnId::kMessage ? &message_buf : &buf;
    std::optional<RowTimesScope> scope;
    if (field.column == ColumnId::kMessage && !block_ts.empty()) {
      scope.emplace(block_ts.data(), block_ts.size(), TimesOwner(), block);
    }
    // (Version 25) A seq block stored against the block's ts reads those just decoded.
    if (field.column == ColumnId::kSeq && block_ts.size() == rows) {
      scope.emplace(block_ts.data(), block_ts.size(), TimesOwner(), block);
    }
    Status s =
        DecodeBuiltinColumn(block, field, rows, selected, field_buf, &ints, &views, stats, frames);
    if (!s.ok()) return fail(s);
    if (field.type == FieldType::kString) {
      // One view per row built (ReadTextColumn).
      for (size_t i = 0; i < n; ++i) (dst[i].*field.text).assign(views[i]);
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t v = ints[row_of(i)];
      switch (field.type) {
        case FieldType::kTime: dst[i].*field.time = v; break;
        case FieldType::kSequence: dst[i].seq = static_cast<uint64_t>(v); break;
        case FieldType::kLevel: dst[i].level = static_cast<Level>(v); break;
        case FieldType::kFlags: dst[i].flags = static_cast<uint32_t>(v); break;
        default: break;
      }
    }
    // Kept (moved, not copied) only when the message is read after it. A read of a few rows
    // searched by ingest_ts (the search's default time field: the executor holds no ts of its
    // own) decoded ts through its last row just now; the message's times are those (they were
    // decoded a second time for it before).
    if (field.column == ColumnId::kTs && version_ >= 13 && ints.size() >= times_needed &&
        ints.size() <= rows &&
        ((column_mask & kColMessage) != 0 ||
         (version_ >= 25 && (column_mask & kColSeq) != 0 && ints.size() == rows))) {
      block_ts = std::move(ints);
      ints.clear();
    }
  }
  if ((column_mask & kColFields) == 0) return Status::OK();
  // Dynamic fields: the layout says, per row, which columns hold its fields, in order.
  const size_t builtin = builtin_columns_;
  const size_t ncols = footer_.columns.size();
  std::vector<std::string> raws(ncols - builtin + 1);
  std::vector<std::string> arenas(ncols - builtin + 1);
  std::vector<std::vector<std::string_view>> values(ncols - builtin + 1);  // by ordinal
  std::vector<size_t> cursor(values.size(), 0);
  const size_t layout_col = static_cast<size_t>(ColumnId::kFieldLayout);
  if (selected != nullptr) {
    // A block none of whose rows has a dynamic field (no field column holds a value in it):
    // the listed rows have none, and the layout, empty for every row, is not read. A whole
    // block (ReadBlock, which `sawmill segment verify` uses) still checks the layout.
    bool any =
        footer_.columns[static_cast<size_t>(ColumnId::kFieldOverflow)].blocks[block].present();
    for (size_t col = builtin; !any && col < ncols; ++col) {
      any = footer_.columns[col].blocks[block].present();
    }
    if (!any) return Status::OK();
  }
  // Every row's layout: it says where each listed row's values are in the field columns.
  std::vector<std::string_view> layout;
  TextBuffer& layout_buf = ThreadScratch(kLayoutScratch);
  Status s = ReadTextColumn(layout_col, block, rows, nullptr, &layout_buf, &layout, stats, frames);
  if (!s.ok()) return fail(s);
  // The layout says exactly how many values each column must hold in this block; decoding
  // accepts no more, so a corrupt count cannot make the reader allocate without bound.
  std::vector<size_t> expected(values.size(), 0);
  for (uint32_t row = 0; row < rows; ++row) {
    std::string_view entries = layout[row];
    while (!entries.empty()) {
      uint64_t ord;
      if (!GetVarint64(&entries, &ord) || ord >= values.size()) {
        return fail(decode_loss(
            layout_col, Status::DataLoss("bad field ordinal in row " + std::to_string(row))));
      }
      expected[ord] += ord == kOverflowOrdinal ? 2 : 1;
    }
  }
  // Ordinal 0 is the overflow column, ordinal k >= 1 the column builtin + k - 1.
  for (size_t ord = 0; ord < values.size(); ++ord) {
    size_t col = ord == 0 ? static_cast<size_t>(ColumnId::kFieldOverflow) : builtin + ord - 1;
    const BlockRef& ref = footer_.columns[col].blocks[block];
    if (!ref.present()) continue;
    s = ReadPhysical(ref, name(col), &raws[ord], stats, frames);
    if (!s.ok()) return fail(s);
    s = DecodeStringColumn(raws[ord], expected[ord], &values[ord], &arenas[ord]);
    if (!s.ok()) return fail(decode_loss(col, s));
  }
  // Every row's entries advance the columns' cursors; only the rows built here take values.
  size_t next = 0;  // the next entry of *selected
  for (uint32_t row = 0; row < rows; ++row) {
    std::string_view entries = layout[row];
    const bool wanted = selected == nullptr || (next < n && (*selected)[next] == row);
    auto* fields = wanted ? &dst[selected == nullptr ? row : next].fields : nullptr;
    if (wanted && selected != nullptr) ++next;
    while (!entries.empty()) {
      uint64_t ord;
      if (!GetVarint64(&entries, &ord) || ord >= values.size()) {
        return fail(decode_loss(
            layout_col, Status::DataLoss("bad field ordinal in row " + std::to_string(row))));
      }
      auto& vals = values[ord];
      size_t& at = cursor[ord];
      if (ord == kOverflowOrdinal) {
        if (at + 2 > vals.size()) {
          return fail(decode_loss(static_cast<size_t>(ColumnId::kFieldOverflow),
                                  Status::DataLoss("fewer values than the layout needs")));
        }
        if (wanted) fields->emplace_back(vals[at], vals[at + 1]);
        at += 2;
      } else {
        if (at >= vals.size()) {
          return fail(decode_loss(builtin + ord - 1,
                                  Status::DataLoss("fewer values than the layout needs")));
        }
        if (wanted) fields->emplace_back(footer_.columns[builtin + ord - 1].name, vals[at]);
        ++at;
      }
    }
  }
  for (size_t ord = 0; ord < values.size(); ++ord) {
    if (cursor[ord] != values[ord].size()) {
      size_t col = ord == 0 ? static_cast<size_t>(ColumnId::kFieldOverflow) : builtin + ord - 1;
      return fail(decode_loss(col, Status::DataLoss("more values than the layout uses")));
    }
  }
  return Status::OK();
}

Status SegmentFileReader::DecodeBuiltinColumn(uint32_t block, const BuiltinField& field,
                                              uint32_t rows, const std::vector<uint32_t>* selected,
                                              TextBuffer* buf, std::vector<int64_t>* ints,
                                              std::vector<std::string_view>* views,
                                              ReadStats* stats, FrameCache* frames,
                                              bool listed) const {
  const size_t col = static_cast<size_t>(field.column);
  const BlockRef& ref = footer_.columns[col].blocks[block];
  const std::string name = ColumnBlockName(col, block);
  auto decode_loss = [&](const Status& s) {
    return Status::DataLoss("segment " + path_ + ": " + name + " at offset " +
                            std::to_string(ref.offset) + ": " + s.message());
  };
  if (!ref.present()) return decode_loss(Status::DataLoss("block is missing"));
  if (field.type == FieldType::kString) {
    return ReadTextColumn(col, block, rows, selected, buf, views, stats, frames);
  }
  // DecodeFooter lets only text columns be split.
  if (ref.is_split()) return decode_loss(Status::DataLoss("an integer column block is split"));
  RETURN_IF_ERROR(ReadPhysical(ref, name, &buf->raw, stats, frames));
  ints->clear();
  // (Version 25) A seq block stored against the block's ts (kTsLine) is read with every row's
  // ts: those of the scope the caller opened for the block (ReadColumns, ReadIntColumnsThrough),
  // else decoded here. A ts block that does not read fails the seq read, naming both.
  std::optional<RowTimesScope> scope;
  if (field.column == ColumnId::kSeq && TsLineNeedsRowTimes(buf->raw)) {
    if (version_ < 25) {
      return decode_loss(Status::DataLoss("a ts-line block (encoding 28) in a version-" +
                                          std::to_string(version_) + " segment"));
    }
    if (!RowTimesScope::HeldFor(TimesOwner(), block, rows)) {
      thread_local std::vector<int64_t> times;
      std::vector<std::string_view> unused;
      Status ts =
          DecodeBuiltinColumn(block, kBuiltinFields[0], rows, nullptr,
                              &ThreadScratch(kTimesScratch), &times, &unused, stats, frames);
      if (!ts.ok()) {
        return decode_loss(Status::DataLoss(
            "its rows' ts, which it is stored against, did not read: " + ts.message()));
      }
      scope.emplace(times.data(), times.size(), TimesOwner(), block);
    }
  }
  // ReadRows: an RLE block (level, flags) only as far as the last listed row.
  const size_t through = selected != nullptr && !selected->empty() ? selected->back() + 1 : rows;
  Status s;
  if (listed) {
    s = DecodeIntColumnRows(buf->raw, rows, *selected, ints);
    if (s.ok() && ints->size() != selected->size())
      s = Status::DataLoss("holds " + std::to_string(ints->size()) + " values");
    // (Rows out of order stay the caller's InvalidArgument.)
    if (!s.ok())
      return DecodeFailure(
          "segment " + path_ + ": " + name + " at offset " + std::to_string(ref.offset), s);
  } else {
    s = DecodeIntColumnThrough(buf->raw, rows, through, ints);
    if (s.ok() && (ints->size() < through || ints->size() > rows ||
                   (through == rows && ints->size() != rows)))
      s = Status::DataLoss("holds " + std::to_string(ints->size()) + " values");
  }
  if (!s.ok()) return decode_loss(s);
  if (field.type == FieldType::kLevel) {
    for (int64_t v : *ints) {
      if (v < 0 || v >= kLevelCount) {
        return decode_loss(Status::DataLoss("level " + std::to_string(v)));
      }
    }
  }
  return Status::OK();
}

namespace {

// (Version 25) A seq block stored against the block's ts (kTsLine) reads every row's ts when
// "out" holds them, decoded just now for the same block (ReadColumnValues,
// ReadIntColumnsThrough): opens their scope for the seq's decode; else DecodeBuiltinColumn
// decodes them itself.
void OpenSeqTimes(const BuiltinField& field, uint32_t column_mask, const BlockColumns& out,
                  const void* owner, uint32_t block, std::optional<RowTimesScope>* scope) {
  constexpr int kTsSlot = std::countr_zero(static_cast<uint32_t>(kColTs));
  if (field.column != ColumnId::kSeq || (column_mask & kColTs) == 0 ||
      out.ints[kTsSlot].size() != out.rows) {
    return;
  }
  scope->emplace(out.ints[kTsSlot].data(), out.rows, owner, block);
}

}  // namespace

Status SegmentFileReader::ReadColumnValues(uint32_t block, uint32_t column_mask, BlockColumns* out,
                                           ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  if (column_mask & kColFields) {
    return Status::InvalidArgument("ReadColumnValues reads built-in columns only");
  }
  // A version-4 block may keep messages as shapes, rendered from other columns: ReadBlock does.
  if ((column_mask & kColMessage) != 0 && version_ >= 4) {
    return SegmentReader::ReadColumnValues(block, column_mask, out, stats);
  }
  out->rows = footer_.blocks[block].rows;
  out->records.clear();
  FrameCache frames;
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    const int slot = std::countr_zero(field.column_bit);
    std::optional<RowTimesScope> scope;
    OpenSeqTimes(field, column_mask, *out, TimesOwner(), block, &scope);
    Status s = DecodeBuiltinColumn(block, field, out->rows, nullptr, &out->buffers[slot],
                                   &out->ints[slot], &out->text[slot], stats, &frames);
    if (!s.ok()) {
      out->rows = 0;
      return s;
    }
  }
  return Status::OK();
}

Status SegmentFileReader::ReadIntColumnsThrough(uint32_t block, uint32_t column_mask,
                                                uint32_t through, BlockColumns* out,
                                                ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  RETURN_IF_ERROR(CheckIntColumnsThrough(column_mask, through));
  out->rows = footer_.blocks[block].rows;
  out->records.clear();
  if (through > out->rows) {
    const uint32_t rows = out->rows;
    out->rows = 0;
    return Status::InvalidArgument("segment " + path_ + " block " + std::to_string(block) + " (" +
                                   std::to_string(rows) + " rows): no row " +
                                   std::to_string(through - 1));
  }
  // DecodeBuiltinColumn decodes an integer column as far as the last row it is given.
  const std::vector<uint32_t> last{through - 1};
  FrameCache frames;
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    const int slot = std::countr_zero(field.column_bit);
    // A read through an earlier row keeps its ts decoded no further: the seq decodes them itself.
    std::optional<RowTimesScope> scope;
    OpenSeqTimes(field, column_mask, *out, TimesOwner(), block, &scope);
    Status s = DecodeBuiltinColumn(block, field, out->rows, &last, &out->buffers[slot],
                                   &out->ints[slot], &out->text[slot], stats, &frames);
    if (!s.ok()) {
      out->rows = 0;
      return s;
    }
  }
  return Status::OK();
}

Status SegmentFileReader::ReadIntColumnRows(uint32_t block, uint32_t column_mask,
                                            const std::vector<uint32_t>& rows, BlockColumns* out,
                                            ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  RETURN_IF_ERROR(CheckIntColumnsThrough(column_mask, 1));
  out->records.clear();
  out->rows = 0;
  RETURN_IF_ERROR(
      CheckListedRows("segment " + path_ + " ", block, footer_.blocks[block].rows, rows));
  FrameCache frames;
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    const int slot = std::countr_zero(field.column_bit);
    RETURN_IF_ERROR(DecodeBuiltinColumn(block, field, footer_.blocks[block].rows, &rows,
                                        &out->buffers[slot], &out->ints[slot], &out->text[slot],
                                        stats, &frames, /*listed=*/true));
  }
  out->rows = static_cast<uint32_t>(rows.size());
  return Status::OK();
}

Status SegmentReader::ReadIntColumnRows(uint32_t block, uint32_t column_mask,
                                        const std::vector<uint32_t>& rows, BlockColumns* out,
                                        ReadStats* stats) const {
  RETURN_IF_ERROR(CheckIntColumnsThrough(column_mask, 1));
  RETURN_IF_ERROR(ReadColumnValues(block, column_mask, out, stats));
  const uint32_t count = out->rows;
  out->rows = 0;
  RETURN_IF_ERROR(CheckListedRows("", block, count, rows));
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    std::vector<int64_t>& ints = out->ints[std::countr_zero(field.column_bit)];
    std::vector<int64_t> listed(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) listed[i] = ints[rows[i]];
    ints.swap(listed);
  }
  out->rows = static_cast<uint32_t>(rows.size());
  return Status::OK();
}

Status SegmentReader::ReadRows(uint32_t block, uint32_t column_mask,
                               const std::vector<uint32_t>& rows, std::vector<Record>* out,
                               ReadStats* stats) const {
  if (rows.empty()) return Status::OK();
  std::vector<Record> all;
  RETURN_IF_ERROR(ReadBlock(block, column_mask, &all, stats));
  RETURN_IF_ERROR(CheckListedRows("", block, static_cast<uint32_t>(all.size()), rows));
  out->reserve(out->size() + rows.size());
  for (uint32_t row : rows) out->push_back(std::move(all[row]));
  return Status::OK();
}

Status SegmentReader::ReadColumnValues(uint32_t block, uint32_t column_mask, BlockColumns* out,
                                       ReadStats* stats) const {
  if (column_mask & kColFields) {
    return Status::InvalidArgument("ReadColumnValues reads built-in columns only");
  }
  out->records.clear();
  out->rows = 0;
  RETURN_IF_ERROR(ReadBlock(block, column_mask, &out->records, stats));
  out->rows = static_cast<uint32_t>(out->records.size());
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    const int slot = std::countr_zero(field.column_bit);
    out->ints[slot].clear();
    out->text[slot].clear();
    for (const Record& r : out->records) {
      switch (field.type) {
        case FieldType::kString: out->text[slot].push_back(r.*field.text); break;
        case FieldType::kTime: out->ints[slot].push_back(r.*field.time); break;
        case FieldType::kSequence: out->ints[slot].push_back(static_cast<int64_t>(r.seq)); break;
        case FieldType::kLevel: out->ints[slot].push_back(static_cast<int64_t>(r.level)); break;
        case FieldType::kFlags: out->ints[slot].push_back(r.flags); break;
        default: break;
      }
    }
  }
  return Status::OK();
}

Status SegmentReader::ReadIntColumnsThrough(uint32_t block, uint32_t column_mask, uint32_t through,
                                            BlockColumns* out, ReadStats* stats) const {
  RETURN_IF_ERROR(CheckIntColumnsThrough(column_mask, through));
  return ReadColumnValues(block, column_mask, out, stats);
}

namespace {

// The built-in text column whose bit is "column_bit", or nullptr.
const BuiltinField* TextFieldOfBit(uint32_t column_bit) {
  for (const BuiltinField& field : kBuiltinFields) {
    if (field.column_bit == column_bit && field.type == FieldType::kString) return &field;
  }
  return nullptr;
}

// The argument checks of KeepRowsHolding and KeepRowsWithMessage ("caller"): the field of
// "column_bit", rows ascending below "count".
Status CheckKeepRows(uint32_t column_bit, uint32_t count, const std::vector<uint32_t>& rows,
                     const BuiltinField** field, std::string_view caller = "KeepRowsHolding") {
  *field = TextFieldOfBit(column_bit);
  if (*field == nullptr) {
    return Status::InvalidArgument(std::string(caller) + ": column bit " +
                                   std::to_string(column_bit) + " is not one built-in text column");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= count || (i > 0 && rows[i] <= rows[i - 1])) {
      return Status::InvalidArgument(std::string(caller) + ": row " + std::to_string(rows[i]) +
                                     " at position " + std::to_string(i) + " is past the block (" +
                                     std::to_string(count) + " rows) or out of order");
    }
  }
  return Status::OK();
}

// Keeps the rows of "*rows" whose view in "values" is "value".
void KeepEqual(const std::vector<std::string_view>& values, std::string_view value,
               std::vector<uint32_t>* rows) {
  size_t kept = 0;
  for (uint32_t r : *rows) {
    if (values[r] == value) (*rows)[kept++] = r;
  }
  rows->resize(kept);
}

}  // namespace

Status SegmentReader::KeepRowsHolding(uint32_t block, uint32_t column_bit, std::string_view value,
                                      std::vector<uint32_t>* rows, ReadStats* stats) const {
  if (rows->empty()) return Status::OK();
  if (block >= blocks().size()) {
    return Status::InvalidArgument("segment has no block " + std::to_string(block));
  }
  const BuiltinField* field;
  RETURN_IF_ERROR(CheckKeepRows(column_bit, blocks()[block].rows, *rows, &field));
  BlockColumns columns;
  RETURN_IF_ERROR(ReadColumnValues(block, column_bit, &columns, stats));
  const std::vector<std::string_view>& values = columns.text[std::countr_zero(column_bit)];
  if (values.size() != blocks()[block].rows) {
    return Status::DataLoss("column '" + std::string(field->name) + "' block " +
                            std::to_string(block) + " holds " + std::to_string(values.size()) +
                            " values");
  }
  KeepEqual(values, value, rows);
  return Status::OK();
}

Status SegmentFileReader::KeepRowsHolding(uint32_t block, uint32_t column_bit,
                                          std::string_view value, std::vector<uint32_t>* rows,
                                          ReadStats* stats) const {
  if (rows->empty()) return Status::OK();
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  const uint32_t count = footer_.blocks[block].rows;
  const BuiltinField* field;
  RETURN_IF_ERROR(CheckKeepRows(column_bit, count, *rows, &field));
  const size_t col = static_cast<size_t>(field->column);
  const BlockRef& ref = footer_.columns[col].blocks[block];
  // A missing block is reported as ReadColumnValues reports it; a version-4 message may be
  // rendered from a JSON shape (ReadBlock renders it).
  if (!ref.present() || (column_bit == kColMessage && version_ >= 4)) {
    return SegmentReader::KeepRowsHolding(block, column_bit, value, rows, stats);
  }
  const std::string name = ColumnBlockName(col, block);
  TextBuffer& buf = ThreadScratch(kColumnsScratch);
  FrameCache frames;
  // A split block (version 9) is its sub-blocks' column blocks back to back.
  RETURN_IF_ERROR(ReadPhysical(ref, name, &buf.raw, stats, &frames));
  struct Piece {
    uint64_t raw_size;
    uint32_t first_row, rows;
  };
  std::vector<Piece> pieces;
  if (ref.is_split()) {
    for (const SubBlock& sub : footer_.splits[ref.split]) {
      pieces.push_back({sub.raw_size, sub.first_row, sub.rows});
    }
  } else {
    pieces.push_back({buf.raw.size(), 0, count});
  }
  std::string_view raw = buf.raw;
  std::vector<uint32_t> kept, in_piece;
  std::vector<std::string_view> views;
  size_t next = 0;  // the next entry of *rows
  for (size_t i = 0; i < pieces.size() && next < rows->size(); ++i) {
    const Piece& p = pieces[i];
    auto loss = [&](const Status& s) {
      return Status::DataLoss("segment " + path_ + ": " + name +
                              (pieces.size() > 1 ? ", sub-block " + std::to_string(i + 1) : "") +
                              " at offset " + std::to_string(ref.offset) + ": " + s.message());
    };
    if (p.raw_size > raw.size()) return loss(Status::DataLoss("sub-blocks end early"));
    const std::string_view piece = raw.substr(0, p.raw_size);
    raw.remove_prefix(p.raw_size);
    in_piece.clear();
    for (; next < rows->size() && (*rows)[next] < p.first_row + p.rows; ++next) {
      in_piece.push_back((*rows)[next] - p.first_row);
    }
    if (in_piece.empty()) continue;
    // (Version 26) Trace ids inside their filters: the filter's probe, then the rests.
    std::string_view filter;
    RETURN_IF_ERROR(TraceFilterFor(piece, block, name, &filter));
    if (!filter.empty()) {
      IdFilterScope filter_scope(filter);
      Result<bool> kept_ids = KeepFilteredHexRowsHolding(piece, p.rows, value, &in_piece);
      if (!kept_ids.ok()) return loss(kept_ids.status());
      for (uint32_t r : in_piece) kept.push_back(r + p.first_row);
      continue;
    }
    Result<bool> hex = KeepHexRowsHolding(piece, p.rows, value, &in_piece);
    if (!hex.ok()) return loss(hex.status());
    // User ids: their numbers compared, not rendered (huffman-ids decoded no further than the
    // last row asked).
    if (!*hex) hex = KeepPrefixedNumberRowsHolding(piece, p.rows, value, &in_piece);
    if (!hex.ok()) return loss(hex.status());
    if (!*hex) {
      views.clear();
      Status s = DecodeStringColumn(piece, p.rows, &views, &buf.arena);
      if (s.ok() && views.size() != p.rows) {
        s = Status::DataLoss("holds " + std::to_string(views.size()) + " values");
      }
      if (!s.ok()) return loss(s);
      KeepEqual(views, value, &in_piece);
    }
    for (uint32_t r : in_piece) kept.push_back(r + p.first_row);
  }
  if (next < rows->size()) {
    return Status::DataLoss("segment " + path_ + ": " + name + ": its sub-blocks hold no row " +
                            std::to_string((*rows)[next]));
  }
  *rows = std::move(kept);
  return Status::OK();
}

namespace {

// Keeps the rows of "*rows" whose message ("messages", one per row) passes "test", moving the
// kept messages to the front of "*messages" (which is cut to them).
void KeepPassing(const TextTest& test, std::vector<uint32_t>* rows,
                 std::vector<std::string>* messages) {
  size_t kept = 0;
  for (size_t i = 0; i < rows->size(); ++i) {
    if (!test.Passes((*messages)[i])) continue;
    (*rows)[kept] = (*rows)[i];
    if (kept != i) (*messages)[kept] = std::move((*messages)[i]);
    ++kept;
  }
  rows->resize(kept);
  messages->resize(kept);
}

}  // namespace

Status SegmentReader::KeepRowsWithMessage(uint32_t block, const TextTest& test,
                                          std::vector<uint32_t>* rows,
                                          std::vector<std::string>* messages,
                                          ReadStats* stats) const {
  messages->clear();
  if (rows->empty()) return Status::OK();
  std::vector<Record> records;
  RETURN_IF_ERROR(ReadRows(block, kColMessage, *rows, &records, stats));
  if (records.size() != rows->size()) {
    return Status::DataLoss("column 'message' block " + std::to_string(block) + ": " +
                            std::to_string(records.size()) + " rows read of " +
                            std::to_string(rows->size()));
  }
  messages->reserve(records.size());
  for (Record& r : records) messages->push_back(std::move(r.message));
  KeepPassing(test, rows, messages);
  return Status::OK();
}

Status SegmentFileReader::KeepRowsWithMessage(uint32_t block, const TextTest& test,
                                              std::vector<uint32_t>* rows,
                                              std::vector<std::string>* messages,
                                              ReadStats* stats) const {
  messages->clear();
  if (rows->empty()) return Status::OK();
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  const uint32_t count = footer_.blocks[block].rows;
  const BuiltinField* field;
  RETURN_IF_ERROR(CheckKeepRows(kColMessage, count, *rows, &field, "KeepRowsWithMessage"));
  const size_t col = static_cast<size_t>(ColumnId::kMessage);
  const BlockRef& ref = footer_.columns[col].blocks[block];
  // A missing or split block, or a message rendered from a JSON shape (version 4): as ReadRows
  // reads them.
  const bool shaped =
      version_ >= 4 &&
      footer_.columns[static_cast<size_t>(ColumnId::kMessageShape)].blocks[block].present();
  if (!ref.present() || ref.is_split() || shaped) {
    return SegmentReader::KeepRowsWithMessage(block, test, rows, messages, stats);
  }
  const std::string name = ColumnBlockName(col, block);
  TextBuffer& buf = ThreadScratch(kMessageScratch);
  FrameCache frames;
  RETURN_IF_ERROR(ReadPhysical(ref, name, &buf.raw, stats, &frames));
  Status s;
  std::vector<int64_t> times;
  RETURN_IF_ERROR(RowTimesFor(buf.raw, block, &times, stats, &frames));
  std::optional<RowTimesScope> scope;
  if (!times.empty()) scope.emplace(times.data(), times.size());
  if (test.AvoidsTimes() && !buf.raw.empty() &&
      static_cast<Encoding>(buf.raw[0]) == Encoding::kTimeText) {
    // Tested on the text without its times: only the rows kept, and those whose time touches a
    // word, have their time rendered.
    s = KeepTimeTextRowsPassing(buf.raw, count, test, rows, messages);
  } else {
    // (A test that may look for a time's words: a kTimeText block rendered as a read of the
    // rows would, in one pass when they are all of them.)
    std::vector<std::string_view> views;
    s = rows->size() == count ? DecodeStringColumn(buf.raw, count, &views, &buf.arena)
                              : DecodeStringRows(buf.raw, count, *rows, &views, &buf.arena);
    if (s.ok() && views.size() != rows->size()) {
      s = Status::DataLoss(std::to_string(views.size()) + " rows read of " +
                           std::to_string(rows->size()));
    }
    if (s.ok()) {
      messages->assign(views.begin(), views.end());
      KeepPassing(test, rows, messages);
    }
  }
  if (!s.ok()) {
    return DecodeFailure(
        "segment " + path_ + ": " + name + " at offset " + std::to_string(ref.offset), s);
  }
  return Status::OK();
}

Status SegmentFileReader::TraceFilterFor(std::string_view raw, uint32_t block,
                                         const std::string& name, std::string_view* filter) const {
  *filter = std::string_view();
  if (!IsFilteredHex(raw)) return Status::OK();
  auto loss = [&](const Status& st, std::string_view more = {}) {
    std::string_view what = st.message();
    const std::string segment = "segment " + path_ + ": ";
    if (what.substr(0, segment.size()) == segment) what.remove_prefix(segment.size());
    return Status::DataLoss(segment + name + ": its block's trace_id filter: " + std::string(what) +
                            std::string(more));
  };
  if (version_ < 26) {
    return Status::DataLoss("segment " + path_ + ": " + name +
                            ": a filtered-hex block (encoding 27) in a version-" +
                            std::to_string(version_) + " segment");
  }
  const index::IndexedField trace_id = IndexedFieldOf("trace_id");
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (kinds_[k].kind->layout != index::IndexLayout::kFieldBlooms) continue;
    // A failed read stays one (asked again next time); damage names the column block.
    Result<std::shared_ptr<const index::IndexView>> view = KindView(k);
    if (!view.ok()) return view.status().IsDataLoss() ? loss(view.status()) : view.status();
    if (*view == nullptr) continue;
    Status unchecked;
    Result<std::string_view> got = (*view)->BlockFilter(trace_id, block, &unchecked);
    if (!got.ok()) return got.status().IsDataLoss() ? loss(got.status()) : got.status();
    if (got->empty()) continue;
    // Cut from filters that fail their checksum together: taken only when it is the very filter
    // this block was written beside (its filter_crc), so that one damaged byte costs the trace
    // ids of its own block only (session 24, review23 HIGH-1).
    if (!unchecked.ok() && !FilteredHexWrittenBeside(raw, *got)) {
      return loss(unchecked, "; this block's filter is not the one it was written beside");
    }
    *filter = *got;
    return Status::OK();
  }
  return loss(Status::DataLoss("the segment holds none"));
}

// A kind's data in this segment, where its layout keeps it (index/index_kind.h IndexLayout).
class SegmentFileReader::KindSource final : public index::IndexSource {
 public:
  KindSource(const SegmentFileReader* reader) : reader_(reader) {}

  void Add(std::string_view field, uint64_t count, uint32_t version,
           std::vector<std::pair<BlockRef, std::string>> blobs) {
    parts_.push_back(Part{IndexedFieldOf(field), count, version, blobs.size()});
    blobs_.push_back(std::move(blobs));
  }

  uint32_t block_count() const override {
    return static_cast<uint32_t>(reader_->footer_.blocks.size());
  }
  uint64_t row_count() const override { return reader_->footer_.info.rows; }
  const std::vector<Part>& parts() const override { return parts_; }
  Status Read(size_t part, size_t blob, std::string* out) const override {
    const auto& [ref, what] = blobs_.at(part).at(blob);
    return reader_->ReadPhysical(ref, what, out, nullptr);
  }
  Status ReadUnchecked(size_t part, size_t blob, std::string* out) const override {
    const auto& [ref, what] = blobs_.at(part).at(blob);
    return reader_->ReadStoredUnchecked(ref, what, out);
  }
  std::string Where(size_t part, size_t blob) const override {
    const auto& [ref, what] = blobs_.at(part).at(blob);
    return "segment " + reader_->path_ + ": " + what + " at offset " + std::to_string(ref.offset);
  }
  BlockTimes Times(uint32_t block) const override {
    const BlockInfo& b = reader_->footer_.blocks[block];
    return BlockTimes{b.min_ts, b.max_ts, b.min_ingest_ts, b.max_ingest_ts};
  }
  bool BlockRows(uint32_t block, uint32_t* first_row, uint32_t* rows) const override {
    const BlockInfo& b = reader_->footer_.blocks[block];
    *first_row = b.first_row;
    *rows = b.rows;
    return true;
  }

 private:
  const SegmentFileReader* reader_;  // owns this source (through kinds_)
  std::vector<Part> parts_;
  std::vector<std::vector<std::pair<BlockRef, std::string>>> blobs_;  // by part: ref, name
};

void SegmentFileReader::FindKinds() {
  for (const index::IndexKind* kind : index::RegisteredIndexKinds()) {
    auto source = std::make_shared<KindSource>(this);
    switch (kind->layout) {
      case index::IndexLayout::kFieldIndexes:
        for (const IndexMeta& m : footer_.indexes) {
          source->Add(m.field, m.distinct_values, 0, {{m.ref, "index '" + m.field + "'"}});
        }
        break;
      case index::IndexLayout::kFieldBlooms:
        for (const BloomMeta& m : footer_.blooms) {
          source->Add(m.field, m.distinct_tokens, 0,
                      {{m.segment_filter, "segment bloom '" + m.field + "'"},
                       {m.block_filters, "block blooms '" + m.field + "'"}});
        }
        break;
      case index::IndexLayout::kKindBlock:
        for (const KindIndexMeta& m : footer_.kind_indexes) {
          // A block written by a newer version of the kind than this build reads: left out.
          if (m.kind != kind->name || m.version > kind->version) continue;
          source->Add("", 0, m.version, {{m.ref, "index kind '" + m.kind + "'"}});
        }
        break;
      case index::IndexLayout::kBlockList: break;
    }
    if (source->parts().empty() && kind->layout != index::IndexLayout::kBlockList) continue;
    kinds_.push_back(Kind{kind, std::move(source)});
  }
  MutexLock lock(&mu_);
  views_.assign(kinds_.size(), nullptr);
  view_loads_.assign(kinds_.size(), index::LoadOnce());
}

Result<std::shared_ptr<const index::IndexView>> SegmentFileReader::KindView(size_t k) const {
  {
    MutexLock lock(&mu_);
    if (view_loads_[k].settled()) {
      RETURN_IF_ERROR(view_loads_[k].damage());
      return views_[k];
    }
  }
  auto opened = kinds_[k].kind->open(kinds_[k].source);
  Status st = opened.ok() ? Status::OK() : KindDamage(k, opened.status());
  MutexLock lock(&mu_);
  const bool first = !view_loads_[k].settled();
  RETURN_IF_ERROR(view_loads_[k].Settle(std::move(st)));  // a failed read: opened again next time
  if (first) views_[k] = std::move(opened).value();
  return views_[k];
}

Result<std::optional<roaring::Roaring>> SegmentFileReader::MatchingRows(
    const index::FieldPredicate& predicate) const {
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (!kinds_[k].kind->gives_rows || !kinds_[k].kind->answers(predicate)) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<std::optional<roaring::Roaring>> rows = view->Rows(predicate);
    if (!rows.ok()) return KindDamage(k, rows.status());
    if (*rows) return rows;
  }
  return std::optional<roaring::Roaring>();
}

Result<std::optional<std::vector<uint32_t>>> SegmentFileReader::MatchingRowsPerBlock(
    const index::FieldPredicate& predicate) const {
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (!kinds_[k].kind->gives_rows || !kinds_[k].kind->answers(predicate)) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<std::optional<std::vector<uint32_t>>> counts = view->BlockCounts(predicate);
    if (!counts.ok()) return KindDamage(k, counts.status());
    if (*counts) return counts;
  }
  return std::optional<std::vector<uint32_t>>();
}

constexpr std::string_view kMinuteCounts = "minute_counts";

Result<std::shared_ptr<const index::MinuteCounts>> SegmentFileReader::BlockMinuteCounts(
    bool ts) const {
  for (size_t k = 0; k < kinds_.size(); ++k) {
    // By name: opening another kind block (the word postings) would read and keep all of it.
    if (kinds_[k].kind->name != kMinuteCounts) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<std::shared_ptr<const index::MinuteCounts>> counts =
        view->BlockMinutes(ts ? "ts" : "ingest_ts");
    if (!counts.ok()) return KindDamage(k, counts.status());
    if (*counts != nullptr) return counts;
  }
  return std::shared_ptr<const index::MinuteCounts>();
}

Result<std::shared_ptr<const index::ServiceLevelCounts>> SegmentFileReader::BlockServiceLevels()
    const {
  for (size_t k = 0; k < kinds_.size(); ++k) {
    // By name: opening another kind block (the word postings) would read and keep all of it.
    if (kinds_[k].kind->name != kMinuteCounts) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<std::shared_ptr<const index::ServiceLevelCounts>> counts = view->BlockServiceLevels();
    if (!counts.ok()) return KindDamage(k, counts.status());
    if (*counts != nullptr) return counts;
  }
  return std::shared_ptr<const index::ServiceLevelCounts>();
}

Result<std::optional<std::vector<std::string>>> SegmentFileReader::FieldValues(
    std::string_view field, bool builtin) const {
  // The kinds that give the rows of a value (those answering its equality): the word postings,
  // read whole when opened, are not opened for values they do not hold.
  index::FieldPredicate equals;
  equals.field = field;
  equals.builtin = builtin;
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (!kinds_[k].kind->gives_rows || !kinds_[k].kind->answers(equals)) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<std::optional<std::vector<std::string>>> values = view->Values(field, builtin);
    if (!values.ok()) return KindDamage(k, values.status());
    if (*values) return values;
  }
  return std::optional<std::vector<std::string>>();
}

Status SegmentFileReader::KindDamage(size_t k, const Status& st) const {
  const std::string kind(kinds_[k].kind->name);
  const std::string segment = "segment " + path_ + ": ";
  const std::string where = segment + "index kind '" + kind + "'";
  // A failed read (IOError, Unavailable) stays one: only damage marks a segment corrupt.
  if (!st.IsDataLoss()) return st.WithContext(where).WithSubject(kind);
  // The kind's own message names the segment too (IndexSource::Where): once is enough.
  std::string_view what = st.message();
  if (what.substr(0, segment.size()) == segment) what.remove_prefix(segment.size());
  // A kind block's own place ("index kind 'NAME' at offset N") names the kind already.
  if (what.starts_with(std::string_view(where).substr(segment.size()))) {
    return Status::DataLoss(segment + std::string(what)).WithSubject(kind);
  }
  return Status::DataLoss(where + ": " + std::string(what)).WithSubject(kind);
}

Result<std::optional<bool>> SegmentFileReader::WordPostingsDecide(
    int64_t block, const index::FieldPredicate& p) const {
  using Decided = std::optional<bool>;
  if (version_ < 12 || p.op != index::FieldPredicate::Op::kWord || !p.builtin ||
      p.field != "message") {
    return Decided();
  }
  constexpr std::string_view kWordPostings = "word_postings";
  bool stored = false;
  for (const KindIndexMeta& m : footer_.kind_indexes) stored = stored || m.kind == kWordPostings;
  if (!stored) return Decided();  // the writer had no postings: the blooms hold every word
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (kinds_[k].kind->name != kWordPostings) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) return Decided(true);
    Result<std::optional<roaring::Roaring>> rows = view->Rows(p);
    if (!rows.ok()) return KindDamage(k, rows.status());
    if (*rows) {
      if (block < 0) return Decided(!(*rows)->isEmpty());
      const BlockInfo& info = footer_.blocks[static_cast<size_t>(block)];
      if (info.rows == 0) return Decided(false);
      const uint64_t before = info.first_row == 0 ? 0 : (*rows)->rank(info.first_row - 1);
      return Decided((*rows)->rank(info.first_row + info.rows - 1) > before);
    }
    Result<std::optional<std::vector<uint32_t>>> counts = view->BlockCounts(p);
    if (!counts.ok()) return KindDamage(k, counts.status());
    if (!*counts) return Decided();  // undecided: the blooms hold it
    const std::vector<uint32_t>& per_block = **counts;
    if (per_block.size() != footer_.blocks.size()) {
      return KindDamage(
          k, Status::DataLoss("counts of " + std::to_string(per_block.size()) +
                              " blocks in a segment of " + std::to_string(footer_.blocks.size())));
    }
    if (block >= 0) return Decided(per_block[static_cast<size_t>(block)] > 0);
    return Decided(
        std::any_of(per_block.begin(), per_block.end(), [](uint32_t n) { return n > 0; }));
  }
  return Decided(true);  // stored, but of a kind version this build does not read (FindKinds)
}

Result<bool> SegmentFileReader::MayMatch(int64_t block,
                                         const index::FieldPredicate& predicate) const {
  ASSIGN_OR_RETURN(std::optional<bool> decided, WordPostingsDecide(block, predicate));
  if (decided) return *decided;
  for (size_t k = 0; k < kinds_.size(); ++k) {
    if (!kinds_[k].kind->answers(predicate)) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const index::IndexView> view, KindView(k));
    if (view == nullptr) continue;
    Result<bool> may = block < 0 ? view->SegmentMayMatch(predicate)
                                 : view->BlockMayMatch(static_cast<uint32_t>(block), predicate);
    if (!may.ok()) return KindDamage(k, may.status());
    if (!*may) return false;
  }
  return true;
}

Result<bool> SegmentFileReader::SegmentMayMatch(const index::FieldPredicate& predicate) const {
  return MayMatch(-1, predicate);
}

Result<bool> SegmentFileReader::BlockMayMatch(uint32_t block,
                                              const index::FieldPredicate& predicate) const {
  if (block >= footer_.blocks.size()) return true;
  return MayMatch(block, predicate);
}

Result<std::shared_ptr<const index::InvertedIndexReader>> SegmentFileReader::LoadIndex(
    std::string_view field) const {
  const IndexMeta* meta = nullptr;
  for (const IndexMeta& m : footer_.indexes) {
    if (m.field == field) meta = &m;
  }
  if (meta == nullptr) return std::shared_ptr<const index::InvertedIndexReader>();
  std::string raw;
  RETURN_IF_ERROR(ReadPhysical(meta->ref, "index '" + meta->field + "'", &raw, nullptr));
  auto parsed =
      index::InvertedIndexReader::Parse(std::move(raw), static_cast<uint32_t>(footer_.info.rows));
  if (!parsed.ok()) {
    return Status::DataLoss("segment " + path_ + ": index '" + meta->field + "' at offset " +
                            std::to_string(meta->ref.offset) + ": " + parsed.status().message());
  }
  return std::shared_ptr<const index::InvertedIndexReader>(std::move(parsed).value());
}

namespace {

index::FieldPredicate PredicateOf(std::string_view field, std::string_view value) {
  index::IndexedField f = IndexedFieldOf(field);
  index::FieldPredicate p;
  p.field = field;
  p.builtin = f.builtin;
  p.op = f.message_words ? index::FieldPredicate::Op::kWord : index::FieldPredicate::Op::kEquals;
  p.value = value;
  return p;
}

}  // namespace

Result<std::optional<roaring::Roaring>> SegmentReader::Postings(std::string_view field,
                                                                std::string_view value) const {
  index::FieldPredicate p = PredicateOf(field, value);
  if (p.op != index::FieldPredicate::Op::kEquals) return std::optional<roaring::Roaring>();
  return MatchingRows(p);
}

Result<std::optional<std::vector<std::string>>> SegmentReader::IndexedValues(
    std::string_view field) const {
  return FieldValues(field, IndexedFieldOf(field).builtin);
}

Result<bool> SegmentReader::SegmentMayContain(std::string_view field,
                                              std::string_view token) const {
  return SegmentMayMatch(PredicateOf(field, token));
}

Result<bool> SegmentReader::BlockMayContain(uint32_t block, std::string_view field,
                                            std::string_view token) const {
  return BlockMayMatch(block, PredicateOf(field, token));
}

}  // namespace sawmill::segment
