#include "segment/footer.h"

#include <algorithm>

#include "common/coding.h"

namespace sawmill::segment {

namespace {

// A version-8 column_ref or frame starts with a varint that is a block's offset (at least
// kHeaderSize) or one of these.
constexpr uint64_t kRefNone = 0;   // no block: the whole entry
constexpr uint64_t kRefSlice = 1;  // a slice of the row block's frame: raw_size follows
constexpr uint64_t kRefSplit = 2;  // (version 9) sub-blocks: count, offset, then each one
static_assert(kHeaderSize > kRefSplit);

void PutRef(std::string* out, const BlockRef& ref) {
  PutVarint64(out, ref.offset);
  PutVarint64(out, ref.size);
  PutVarint64(out, ref.raw_size);
}

// Version 8: a block that is absent costs one byte.
void PutRefOrNone(std::string* out, const BlockRef& ref) {
  if (ref.present()) {
    PutRef(out, ref);
  } else {
    PutVarint64(out, kRefNone);
  }
}

// Consumes from "in_"; the first failure is remembered and every later Get fails too.
class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in), total_(in.size()) {}
  bool U64(uint64_t* v) { return ok_ = ok_ && GetVarint64(&in_, v); }
  bool U32(uint32_t* v) {
    uint64_t x;
    if (!U64(&x) || x > UINT32_MAX) return ok_ = false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool I64(int64_t* v) { return ok_ = ok_ && GetVarsint64(&in_, v); }
  bool Str(std::string* s) {
    std::string_view v;
    if (!(ok_ = ok_ && GetLengthPrefixed(&in_, &v))) return false;
    s->assign(v);
    return true;
  }
  bool Byte(uint8_t* b) {
    if (!ok_ || in_.empty()) return ok_ = false;
    *b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool Ref(BlockRef* r) { return U64(&r->offset) && U64(&r->size) && U64(&r->raw_size); }
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }
  size_t pos() const { return total_ - in_.size(); }

 private:
  std::string_view in_;
  size_t total_;
  bool ok_ = true;
};

// (Version 9) Parses a split column block's entry after its tag: the count, the first
// sub-block's offset and each sub-block; sets "*r" to cover them all and appends them to
// f->splits. "check_ref" says whether a block lies inside the file.
template <typename CheckRef>
Status DecodeSplit(Parser* p, const ColumnMeta& c, uint32_t block, uint32_t block_rows,
                   const CheckRef& check_ref, Footer* f, BlockRef* r) {
  const std::string where = "column '" + c.name + "' block " + std::to_string(block);
  if (!SplittableColumn(c.id)) return Status::DataLoss(where + " is split, which it cannot be");
  uint64_t count = 0, offset = 0;
  if (!p->U64(&count) || !p->U64(&offset)) return Status::DataLoss("truncated column directory");
  // Each sub-block holds at least one row and takes at least three bytes here.
  if (count < 2 || count > block_rows || count * 3 > p->remaining()) {
    return Status::DataLoss(where + " is split in " + std::to_string(count) + " sub-blocks");
  }
  std::vector<SubBlock> subs(count);
  uint64_t at = offset, raw = 0;
  uint32_t row = 0;
  for (SubBlock& sub : subs) {
    if (!p->U32(&sub.rows) || !p->U64(&sub.size) || !p->U64(&sub.raw_size)) {
      return Status::DataLoss("truncated column directory");
    }
    sub.offset = at;
    sub.first_row = row;
    if (sub.rows == 0 || sub.rows > block_rows - row || sub.size < kBlockTrailerSize ||
        !check_ref(BlockRef{sub.offset, sub.size, sub.raw_size})) {
      return Status::DataLoss(where + " has a sub-block at offset " + std::to_string(sub.offset) +
                              " (" + std::to_string(sub.size) + " bytes, " +
                              std::to_string(sub.rows) + " rows) outside the file or its rows");
    }
    row += sub.rows;
    at += sub.size;
    raw += sub.raw_size;
  }
  if (row != block_rows || raw > kMaxBlockRawBytes) {
    return Status::DataLoss(where + ": its sub-blocks hold " + std::to_string(row) +
                            " rows, the block " + std::to_string(block_rows));
  }
  r->offset = offset;
  r->size = at - offset;
  r->raw_size = raw;
  r->split = static_cast<uint32_t>(f->splits.size());
  f->splits.push_back(std::move(subs));
  return Status::OK();
}

}  // namespace

void EncodeFooter(const Footer& f, std::string* out) {
  PutVarint32(out, f.version);
  PutVarint64(out, f.info.id);
  PutLengthPrefixed(out, f.info.tenant);
  PutVarint32(out, f.info.partition);
  PutVarint64(out, f.info.rows);
  PutVarsint64(out, f.info.min_ts);
  PutVarsint64(out, f.info.max_ts);
  PutVarsint64(out, f.info.min_ingest_ts);
  PutVarsint64(out, f.info.max_ingest_ts);
  PutVarint64(out, f.info.min_seq);
  PutVarint64(out, f.info.max_seq);
  PutVarint64(out, f.info.raw_bytes);
  PutVarint32(out, f.block_rows);
  PutVarint64(out, f.blocks.size());
  for (size_t b = 0; b < f.blocks.size(); ++b) {
    const BlockInfo& info = f.blocks[b];
    PutVarint32(out, info.rows);
    PutVarsint64(out, info.min_ts);
    PutVarsint64(out, info.max_ts);
    PutVarsint64(out, info.min_ingest_ts);
    PutVarsint64(out, info.max_ingest_ts);
    if (f.version >= 8) PutRefOrNone(out, b < f.frames.size() ? f.frames[b] : BlockRef{});
  }
  PutVarint64(out, f.columns.size());
  for (const ColumnMeta& c : f.columns) {
    out->push_back(static_cast<char>(c.id));
    PutLengthPrefixed(out, c.name);
    for (const BlockRef& r : c.blocks) {
      if (f.version < 8) {
        PutRef(out, r);
      } else if (r.is_split() && f.version >= 9) {
        // The sub-blocks lie back to back from the first one's offset.
        const std::vector<SubBlock>& subs = f.splits[r.split];
        PutVarint64(out, kRefSplit);
        PutVarint64(out, subs.size());
        PutVarint64(out, r.offset);
        for (const SubBlock& sub : subs) {
          PutVarint32(out, sub.rows);
          PutVarint64(out, sub.size);
          PutVarint64(out, sub.raw_size);
        }
      } else if (r.packed && r.present()) {
        // The slice's place in the frame follows from the order: no offset to store.
        PutVarint64(out, kRefSlice);
        PutVarint64(out, r.raw_size);
      } else {
        PutRefOrNone(out, r);
      }
    }
  }
  PutVarint64(out, f.indexes.size());
  for (const IndexMeta& i : f.indexes) {
    PutLengthPrefixed(out, i.field);
    PutVarint64(out, i.distinct_values);
    PutRef(out, i.ref);
  }
  PutVarint64(out, f.blooms.size());
  for (const BloomMeta& b : f.blooms) {
    PutLengthPrefixed(out, b.field);
    PutVarint64(out, b.distinct_tokens);
    PutRef(out, b.segment_filter);
    PutRef(out, b.block_filters);
  }
  if (f.version >= 3) {
    PutVarint64(out, f.kind_indexes.size());
    for (const KindIndexMeta& k : f.kind_indexes) {
      PutLengthPrefixed(out, k.kind);
      PutVarint32(out, k.version);
      PutRef(out, k.ref);
    }
  }
}

void EncodeIdentity(const SegmentIdentity& id, std::string* out) {
  PutVarint64(out, id.id);
  PutLengthPrefixed(out, id.tenant);
  PutVarint32(out, id.partition);
  PutVarint64(out, id.rows);
  PutVarint64(out, id.min_seq);
  PutVarint64(out, id.max_seq);
}

Status DecodeIdentity(std::string_view in, SegmentIdentity* out) {
  Parser p(in);
  p.U64(&out->id);
  p.Str(&out->tenant);
  p.U32(&out->partition);
  p.U64(&out->rows);
  p.U64(&out->min_seq);
  p.U64(&out->max_seq);
  if (!p.ok()) return Status::DataLoss("identity: truncated");
  if (!p.done()) return Status::DataLoss("identity: trailing bytes");
  return Status::OK();
}

Status DecodeFooter(std::string_view in, uint64_t data_end, Footer* f) {
  Parser p(in);
  auto bad = [&](const std::string& what) {
    return Status::DataLoss("footer: " + what + " (footer byte " + std::to_string(p.pos()) + ")");
  };
  auto check_ref = [&](const BlockRef& r) {
    if (!r.present()) return r.offset == 0 && r.raw_size == 0;
    return r.offset >= kHeaderSize && r.size >= kBlockTrailerSize && r.offset <= data_end &&
           r.size <= data_end - r.offset && r.raw_size <= kMaxBlockRawBytes;
  };
  if (!p.U32(&f->version)) return bad("truncated");
  if (f->version < kMinReadableVersion || f->version > kFormatVersion) {
    return bad("format version " + std::to_string(f->version) + " is not readable by this build");
  }
  SegmentInfo& info = f->info;
  p.U64(&info.id);
  p.Str(&info.tenant);
  p.U32(&info.partition);
  p.U64(&info.rows);
  p.I64(&info.min_ts);
  p.I64(&info.max_ts);
  p.I64(&info.min_ingest_ts);
  p.I64(&info.max_ingest_ts);
  p.U64(&info.min_seq);
  p.U64(&info.max_seq);
  p.U64(&info.raw_bytes);
  p.U32(&f->block_rows);
  uint64_t block_count = 0;
  if (!p.U64(&block_count)) return bad("truncated segment info");
  if (block_count > p.remaining() || info.rows > UINT32_MAX) {
    return bad("implausible block count " + std::to_string(block_count));
  }
  f->blocks.resize(block_count);
  f->frames.clear();
  if (f->version >= 8) f->frames.resize(block_count);
  uint64_t row = 0;
  for (size_t i = 0; i < f->blocks.size(); ++i) {
    BlockInfo& b = f->blocks[i];
    p.U32(&b.rows);
    p.I64(&b.min_ts);
    p.I64(&b.max_ts);
    p.I64(&b.min_ingest_ts);
    p.I64(&b.max_ingest_ts);
    if (f->version >= 8 && p.U64(&f->frames[i].offset) && f->frames[i].offset != kRefNone) {
      p.U64(&f->frames[i].size);
      p.U64(&f->frames[i].raw_size);
    }
    if (!p.ok()) return bad("truncated block list");
    if (b.rows == 0 || b.rows > kMaxBlockRows)
      return bad("block with " + std::to_string(b.rows) + " rows");
    if (f->version >= 8 && !check_ref(f->frames[i])) {
      return bad("the shared frame of block " + std::to_string(i) + " lies outside the file");
    }
    b.first_row = static_cast<uint32_t>(row);
    row += b.rows;
  }
  if (row != info.rows) {
    return bad("blocks hold " + std::to_string(row) + " rows, the segment says " +
               std::to_string(info.rows));
  }
  uint64_t column_count = 0;
  if (!p.U64(&column_count) || column_count > p.remaining()) return bad("bad column count");
  f->columns.resize(column_count);
  f->splits.clear();
  for (ColumnMeta& c : f->columns) {
    uint8_t id = 0;
    p.Byte(&id);
    p.Str(&c.name);
    if (!p.ok()) return bad("truncated column directory");
    c.id = static_cast<ColumnId>(id);
    if (id >= static_cast<uint8_t>(ColumnId::kBuiltinCount) && c.id != ColumnId::kDynamic) {
      return bad("unknown column id " + std::to_string(id));
    }
    // At least one byte per block (a version-8 "no block"), three before.
    if (block_count * (f->version >= 8 ? 1 : 3) > p.remaining()) {
      return bad("truncated column directory");
    }
    c.blocks.resize(block_count);
    for (size_t b = 0; b < block_count; ++b) {
      BlockRef& r = c.blocks[b];
      if (f->version >= 8) {
        if (!p.U64(&r.offset)) return bad("truncated column directory");
        if (r.offset == kRefNone) continue;
        if (r.offset == kRefSplit && f->version >= 9) {
          Status s =
              DecodeSplit(&p, c, static_cast<uint32_t>(b), f->blocks[b].rows, check_ref, f, &r);
          if (!s.ok()) return bad(s.message());
          continue;
        }
        if (r.offset == kRefSlice) {
          r.offset = 0;
          r.packed = true;
          if (!p.U64(&r.raw_size)) return bad("truncated column directory");
          if (r.raw_size > kMaxBlockRawBytes) {
            return bad("column '" + c.name + "' has a slice of " + std::to_string(r.raw_size) +
                       " bytes");
          }
          continue;  // placed in its frame below, once every column is known
        }
        if (!p.U64(&r.size) || !p.U64(&r.raw_size)) return bad("truncated column directory");
        // A present block: an absent one is kRefNone alone.
        if (!r.present() || !check_ref(r)) {
          return bad("column '" + c.name + "' has a block outside the file");
        }
        continue;
      }
      if (!p.Ref(&r)) return bad("truncated column directory");
      if (!check_ref(r)) return bad("column '" + c.name + "' has a block outside the file");
    }
  }
  // Version 8: the packed blocks of each row block are the slices of its frame, back to back in
  // FrameOrder, and together exactly the frame.
  std::vector<size_t> packed;
  for (size_t b = 0; b < f->frames.size(); ++b) {
    const BlockRef& frame = f->frames[b];
    packed.clear();
    for (size_t c = 0; c < f->columns.size(); ++c) {
      if (f->columns[c].blocks[b].packed) packed.push_back(c);
    }
    std::sort(packed.begin(), packed.end(), [&](size_t x, size_t y) {
      return FrameOrder(f->columns[x].blocks[b].raw_size, x, f->columns[y].blocks[b].raw_size, y);
    });
    uint64_t at = 0;
    for (size_t column : packed) {
      ColumnMeta& c = f->columns[column];
      BlockRef& r = c.blocks[b];
      if (!frame.present()) {
        return bad("column '" + c.name + "' has a slice of block " + std::to_string(b) +
                   ", which has no shared frame");
      }
      if (r.raw_size > frame.raw_size - at) {
        return bad("the slices of block " + std::to_string(b) + " run past its shared frame of " +
                   std::to_string(frame.raw_size) + " bytes (column '" + c.name + "')");
      }
      r.offset = frame.offset;
      r.size = frame.size;
      r.frame_raw_size = frame.raw_size;
      r.slice_start = at;
      at += r.raw_size;
    }
    if (at != frame.raw_size) {
      return bad("the shared frame of block " + std::to_string(b) + " holds " +
                 std::to_string(frame.raw_size) + " bytes, its slices " + std::to_string(at));
    }
  }
  uint64_t index_count = 0;
  if (!p.U64(&index_count) || index_count > p.remaining()) return bad("bad index count");
  f->indexes.resize(index_count);
  for (IndexMeta& i : f->indexes) {
    if (!p.Str(&i.field) || !p.U64(&i.distinct_values) || !p.Ref(&i.ref)) {
      return bad("truncated index directory");
    }
    if (!check_ref(i.ref)) return bad("index '" + i.field + "' lies outside the file");
  }
  uint64_t bloom_count = 0;
  if (!p.U64(&bloom_count) || bloom_count > p.remaining()) return bad("bad bloom count");
  f->blooms.resize(bloom_count);
  for (BloomMeta& b : f->blooms) {
    if (!p.Str(&b.field) || !p.U64(&b.distinct_tokens) || !p.Ref(&b.segment_filter) ||
        !p.Ref(&b.block_filters)) {
      return bad("truncated bloom directory");
    }
    if (!check_ref(b.segment_filter) || !check_ref(b.block_filters)) {
      return bad("bloom '" + b.field + "' lies outside the file");
    }
  }
  if (f->version >= 3) {
    uint64_t kind_count = 0;
    if (!p.U64(&kind_count) || kind_count > p.remaining()) return bad("bad index kind count");
    f->kind_indexes.resize(kind_count);
    for (KindIndexMeta& k : f->kind_indexes) {
      if (!p.Str(&k.kind) || !p.U32(&k.version) || !p.Ref(&k.ref)) {
        return bad("truncated index kind directory");
      }
      if (!check_ref(k.ref)) return bad("index kind '" + k.kind + "' lies outside the file");
    }
  }
  if (!p.done()) return bad("trailing bytes");
  return Status::OK();
}

}  // namespace sawmill::segment
