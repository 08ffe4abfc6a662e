#include <algorithm>
#include <cstring>

#include "common/coding.h"
#include "index/word_hash.h"
#include "objstore/local_directory_store.h"
#include "segment/block_codec.h"
#include "segment/builtin_fields.h"
#include "segment/column_encoding.h"
#include "segment/format.h"
#include "segment/segment_file_reader.h"

namespace sawmill::segment {

namespace {

BlockCodec& ThreadCodec() {
  thread_local BlockCodec codec;
  return codec;
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
    return loss(trailer_at + 16, "format version " + std::to_string(version) +
                                     " is not readable by this build (reads " +
                                     std::to_string(kMinReadableVersion) + ".." +
                                     std::to_string(kFormatVersion) + ")");
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
  if (r->footer_.columns.size() < static_cast<size_t>(ColumnId::kBuiltinCount)) {
    return loss(footer_offset,
                "footer lists only " + std::to_string(r->footer_.columns.size()) + " columns");
  }
  for (size_t c = 0; c < r->footer_.columns.size(); ++c) {
    const ColumnMeta& meta = r->footer_.columns[c];
    bool builtin = c < static_cast<size_t>(ColumnId::kBuiltinCount);
    if (builtin ? meta.id != static_cast<ColumnId>(c) : meta.id != ColumnId::kDynamic) {
      return loss(footer_offset, "column " + std::to_string(c) + " is out of place");
    }
    if (!builtin && std::find(r->field_names_.begin(), r->field_names_.end(), meta.name) ==
                        r->field_names_.end()) {
      r->field_names_.push_back(meta.name);
    }
  }
  r->footer_.info.file_bytes = size;
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

Status SegmentFileReader::ReadPhysical(const BlockRef& ref, std::string_view what, std::string* raw,
                                       ReadStats* stats) const {
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
  std::string stored;
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

Status SegmentFileReader::ReadBlock(uint32_t block, uint32_t column_mask, std::vector<Record>* out,
                                    ReadStats* stats) const {
  if (block >= footer_.blocks.size()) {
    return Status::InvalidArgument("segment " + path_ + " has no block " + std::to_string(block));
  }
  const uint32_t rows = footer_.blocks[block].rows;
  const size_t base = out->size();
  out->resize(base + rows);
  Record* dst = out->data() + base;
  for (uint32_t row = 0; row < rows; ++row) dst[row].tenant = footer_.info.tenant;
  auto fail = [&](Status s) {
    out->resize(base);
    return s;
  };
  auto name = [&](size_t col) {
    return "column '" + footer_.columns[col].name + "' block " + std::to_string(block);
  };
  auto decode_loss = [&](size_t col, const Status& s) {
    return Status::DataLoss("segment " + path_ + ": " + name(col) + " at offset " +
                            std::to_string(footer_.columns[col].blocks[block].offset) + ": " +
                            s.message());
  };
  std::string raw, arena;
  std::vector<int64_t> ints;
  std::vector<std::string_view> views;
  for (const BuiltinField& field : kBuiltinFields) {
    if ((column_mask & field.column_bit) == 0) continue;
    size_t col = static_cast<size_t>(field.column);
    const BlockRef& ref = footer_.columns[col].blocks[block];
    Status s = ReadPhysical(ref, name(col), &raw, stats);
    if (!s.ok()) return fail(s);
    if (!ref.present()) return fail(decode_loss(col, Status::DataLoss("block is missing")));
    if (field.type == FieldType::kString) {
      views.clear();
      s = DecodeStringColumn(raw, rows, &views, &arena);
      if (s.ok() && views.size() != rows)
        s = Status::DataLoss("holds " + std::to_string(views.size()) + " values");
      if (!s.ok()) return fail(decode_loss(col, s));
      for (uint32_t row = 0; row < rows; ++row) (dst[row].*field.text).assign(views[row]);
      continue;
    }
    ints.clear();
    s = DecodeIntColumn(raw, rows, &ints);
    if (s.ok() && ints.size() != rows)
      s = Status::DataLoss("holds " + std::to_string(ints.size()) + " values");
    if (!s.ok()) return fail(decode_loss(col, s));
    for (uint32_t row = 0; row < rows; ++row) {
      int64_t v = ints[row];
      switch (field.type) {
        case FieldType::kTime: dst[row].*field.time = v; break;
        case FieldType::kSequence: dst[row].seq = static_cast<uint64_t>(v); break;
        case FieldType::kLevel:
          if (v < 0 || v >= kLevelCount) {
            return fail(decode_loss(col, Status::DataLoss("level " + std::to_string(v))));
          }
          dst[row].level = static_cast<Level>(v);
          break;
        case FieldType::kFlags: dst[row].flags = static_cast<uint32_t>(v); break;
        default: break;
      }
    }
  }
  if ((column_mask & kColFields) == 0) return Status::OK();

  // Dynamic fields: the layout says, per row, which columns hold its fields, in order.
  const size_t builtin = static_cast<size_t>(ColumnId::kBuiltinCount);
  const size_t ncols = footer_.columns.size();
  std::vector<std::string> raws(ncols - builtin + 2);
  std::vector<std::string> arenas(ncols - builtin + 1);
  std::vector<std::vector<std::string_view>> values(ncols - builtin + 1);  // by ordinal
  std::vector<size_t> cursor(values.size(), 0);
  const size_t layout_col = static_cast<size_t>(ColumnId::kFieldLayout);
  std::string& layout_raw = raws.back();
  Status s =
      ReadPhysical(footer_.columns[layout_col].blocks[block], name(layout_col), &layout_raw, stats);
  if (!s.ok()) return fail(s);
  std::vector<std::string_view> layout;
  std::string layout_arena;
  s = DecodeStringColumn(layout_raw, rows, &layout, &layout_arena);
  if (s.ok() && layout.size() != rows) s = Status::DataLoss("holds too few values");
  if (!s.ok()) return fail(decode_loss(layout_col, s));
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
    s = ReadPhysical(ref, name(col), &raws[ord], stats);
    if (!s.ok()) return fail(s);
    s = DecodeStringColumn(raws[ord], expected[ord], &values[ord], &arenas[ord]);
    if (!s.ok()) return fail(decode_loss(col, s));
  }
  for (uint32_t row = 0; row < rows; ++row) {
    std::string_view entries = layout[row];
    auto& fields = dst[row].fields;
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
        fields.emplace_back(vals[at], vals[at + 1]);
        at += 2;
      } else {
        if (at >= vals.size()) {
          return fail(decode_loss(builtin + ord - 1,
                                  Status::DataLoss("fewer values than the layout needs")));
        }
        fields.emplace_back(footer_.columns[builtin + ord - 1].name, vals[at]);
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

Result<std::shared_ptr<const index::InvertedIndexReader>> SegmentFileReader::LoadIndex(
    std::string_view field) const {
  const IndexMeta* meta = nullptr;
  for (const IndexMeta& m : footer_.indexes) {
    if (m.field == field) meta = &m;
  }
  if (meta == nullptr) return std::shared_ptr<const index::InvertedIndexReader>();
  {
    MutexLock lock(&mu_);
    auto it = indexes_.find(field);
    if (it != indexes_.end()) return it->second;
  }
  std::string raw;
  RETURN_IF_ERROR(ReadPhysical(meta->ref, "index '" + meta->field + "'", &raw, nullptr));
  auto parsed =
      index::InvertedIndexReader::Parse(std::move(raw), static_cast<uint32_t>(footer_.info.rows));
  if (!parsed.ok()) {
    return Status::DataLoss("segment " + path_ + ": index '" + meta->field + "' at offset " +
                            std::to_string(meta->ref.offset) + ": " + parsed.status().message());
  }
  std::shared_ptr<const index::InvertedIndexReader> idx = std::move(parsed).value();
  MutexLock lock(&mu_);
  indexes_.emplace(std::string(field), idx);
  return idx;
}

Result<std::optional<roaring::Roaring>> SegmentFileReader::Postings(std::string_view field,
                                                                    std::string_view value) const {
  const BuiltinField* builtin = FindBuiltinField(field);
  bool keeps_empty = builtin != nullptr && (builtin->indexes & kIndexAlways) != 0;
  if (value.empty() && !keeps_empty) return std::optional<roaring::Roaring>();
  ASSIGN_OR_RETURN(auto idx, LoadIndex(field));
  if (idx == nullptr) return std::optional<roaring::Roaring>();
  auto rows = idx->Lookup(value);
  if (!rows.ok()) {
    return Status::DataLoss("segment " + path_ + ": index '" + std::string(field) +
                            "': " + rows.status().message());
  }
  return std::optional<roaring::Roaring>(std::move(rows).value());
}

Result<std::optional<std::vector<std::string>>> SegmentFileReader::IndexedValues(
    std::string_view field) const {
  ASSIGN_OR_RETURN(auto idx, LoadIndex(field));
  if (idx == nullptr) return std::optional<std::vector<std::string>>();
  return std::optional<std::vector<std::string>>(idx->Values());
}

const BloomMeta* SegmentFileReader::FindBloom(std::string_view field) const {
  for (const BloomMeta& m : footer_.blooms) {
    if (m.field == field) return &m;
  }
  return nullptr;
}

bool SegmentFileReader::ProbeHash(std::string_view field, std::string_view token, uint64_t* hash) {
  if (token.empty()) return false;
  if (field == "message") {
    std::string folded(token);
    for (char& c : folded) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    if (!index::IsSingleFoldedWord(folded) || index::IsNumberWord(folded)) return false;
    *hash = index::BloomHash(folded);
    return true;
  }
  *hash = index::BloomHash(token);
  return true;
}

bool SegmentFileReader::SegmentMayContain(std::string_view field, std::string_view token) const {
  const BloomMeta* meta = FindBloom(field);
  uint64_t hash;
  if (meta == nullptr || !ProbeHash(field, token, &hash)) return true;
  if (!meta->segment_filter.present()) {
    // No segment filter (a one-block segment): any block filter that may contain it.
    for (uint32_t b = 0; b < footer_.blocks.size(); ++b) {
      if (BlockMayContain(b, field, token)) return true;
    }
    return false;
  }
  std::shared_ptr<BloomCache> cache;
  {
    MutexLock lock(&mu_);
    auto& slot = blooms_[meta->field];
    if (slot == nullptr) slot = std::make_shared<BloomCache>();
    cache = slot;
    if (!cache->segment_loaded) {
      std::string raw;
      if (ReadPhysical(meta->segment_filter, "segment bloom '" + meta->field + "'", &raw, nullptr)
              .ok()) {
        cache->segment_data = std::move(raw);
        cache->segment_view = index::BloomView(cache->segment_data);
      }
      cache->segment_loaded = true;
    }
  }
  return cache->segment_view.MayContainHash(hash);
}

bool SegmentFileReader::BlockMayContain(uint32_t block, std::string_view field,
                                        std::string_view token) const {
  const BloomMeta* meta = FindBloom(field);
  uint64_t hash;
  if (meta == nullptr || block >= footer_.blocks.size() || !ProbeHash(field, token, &hash)) {
    return true;
  }
  std::shared_ptr<BloomCache> cache;
  {
    MutexLock lock(&mu_);
    auto& slot = blooms_[meta->field];
    if (slot == nullptr) slot = std::make_shared<BloomCache>();
    cache = slot;
    if (!cache->blocks_loaded) {
      std::string raw;
      if (ReadPhysical(meta->block_filters, "block blooms '" + meta->field + "'", &raw, nullptr)
              .ok()) {
        cache->blocks_data = std::move(raw);
        std::string_view in(cache->blocks_data);
        uint64_t count;
        std::vector<index::BloomView> views;
        if (GetVarint64(&in, &count) && count == footer_.blocks.size()) {
          for (uint64_t b = 0; b < count; ++b) {
            std::string_view filter;
            if (!GetLengthPrefixed(&in, &filter)) break;
            views.emplace_back(filter);
          }
        }
        if (views.size() == footer_.blocks.size() && in.empty())
          cache->block_views = std::move(views);
      }
      cache->blocks_loaded = true;
    }
  }
  if (cache->block_views.empty()) return true;
  return cache->block_views[block].MayContainHash(hash);
}

std::shared_ptr<const index::IndexView> SegmentFileReader::KindView(size_t k) const {
  {
    MutexLock lock(&mu_);
    if (kinds_loaded_.empty()) {
      kinds_loaded_.assign(footer_.kind_indexes.size(), false);
      kinds_.assign(footer_.kind_indexes.size(), nullptr);
    }
    if (kinds_loaded_[k]) return kinds_[k];
  }
  const KindIndexMeta& meta = footer_.kind_indexes[k];
  std::shared_ptr<const index::IndexView> view;
  const index::IndexKind* kind = index::FindIndexKind(meta.kind);
  std::string raw;
  if (kind != nullptr && meta.version <= kind->version &&
      ReadPhysical(meta.ref, "index kind '" + meta.kind + "'", &raw, nullptr).ok()) {
    auto opened =
        kind->open(meta.version, std::move(raw), static_cast<uint32_t>(footer_.blocks.size()));
    if (opened.ok()) view = std::move(opened).value();
  }
  MutexLock lock(&mu_);
  if (!kinds_loaded_[k]) {
    kinds_loaded_[k] = true;
    kinds_[k] = std::move(view);
  }
  return kinds_[k];
}

bool SegmentFileReader::BlockMayMatch(uint32_t block,
                                      const index::FieldPredicate& predicate) const {
  if (block >= footer_.blocks.size()) return true;
  for (size_t k = 0; k < footer_.kind_indexes.size(); ++k) {
    std::shared_ptr<const index::IndexView> view = KindView(k);
    if (view != nullptr && !view->BlockMayMatch(block, predicate)) return false;
  }
  return true;
}

}  // namespace sawmill::segment
