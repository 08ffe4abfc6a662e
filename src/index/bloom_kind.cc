// Index kind "bloom": per field, a split-block bloom filter (bloom.h) over the whole segment
// and one per row block, so `trace_id=X` or a word of the message skips the segments and blocks
// that cannot hold it. The fields are the writer's bloom_fields; for the message the filters
// hold its words (tokenizer.h: folded, numbers left out, index/word_hash.h), for other fields
// their non-empty values.
//
// Stored in the footer's bloom directory (IndexLayout::kFieldBlooms): per field, its distinct
// token count, the segment filter (left out when the segment has one block, or when its distinct
// tokens are more than half of the block filters' tokens: the block filters then say the same in
// about as many bytes) and one block of per-block filters,
//   block_filters := count(varint) (lp filter)*
// both uncompressed (filters do not compress). Every segment format version has it. A stored
// block that does not check (its checksum, or the block filters' count and lengths) is DataLoss
// naming the segment, the field's filter and its offset, in every answer that reads it (session
// 22; it answered "maybe", and the damage went unseen); a failed read (IOError) is returned and
// tried again at the next question. One filter of a block that checks but is of no known shape
// (a writer's bug) is DataLoss too, naming the block (session 23; it answered "maybe", while
// verify called it malformed), in the answers of that block only (session 24). (Format 26)
// Block filters that fail their checksum answer no question, but are still cut into each
// block's filter for the filtered-hex column blocks (IndexView::BlockFilter), each taken only
// when it matches the column block's own checksum of it: one damaged byte costs one block's
// trace ids, not the segment's. Filters hold kBitsPerKey bits a key, the block filters of
// ids (a field whose values are each in one block) kIdBitsPerKey; a reader sizes each filter
// from its bytes, so no version tells them apart. From segment format version 11 the block
// filters of ids are id filters (bloom.h, a filter's version byte 2): sorted fingerprints in
// about 12 bits a key for the false positives of 16 bloom bits. From version 16 a field the
// segment's inverted index stores as block lists (index_kind.h PostedFields: user ids) has no
// filters: its lists say exactly which blocks hold a value. From version 23 the id filters keep
// kIdLowBitsV23 low bits a fingerprint instead of kIdLowBits (each filter records its own).
#include <algorithm>
#include <span>

#include "common/coding.h"
#include "common/mutex.h"
#include "index/bloom.h"
#include "index/index_kind.h"
#include "index/load_once.h"
#include "index/word_hash.h"

namespace sawmill::index {

namespace {

bool Answers(const FieldPredicate& p) {
  return p.op == FieldPredicate::Op::kEquals || p.op == FieldPredicate::Op::kWord;
}

class BloomBuilderKind final : public IndexBuilder {
 public:
  explicit BloomBuilderKind(const BuildOptions& options)
      : block_words_(options.block_words),
        id_filters_(options.id_filters),
        id_low_bits_(options.id_low_bits),
        mixed_trace_blocks_(options.mixed_trace_blocks),
        decided_words_(options.decided_words),
        posted_fields_(options.posted_fields) {
    for (const IndexedField& f : options.blooms) {
      fields_.push_back(Field{f, {}, {}, {}, {}});
    }
  }

  void AddBlock(const Record* rows, uint32_t count) override {
    const BlockWords* words = nullptr;
    for (Field& bloom : fields_) {
      // The block's distinct keys, kept until Finish: how many bits a key gets depends on
      // whether the field's values repeat across the segment's blocks.
      if (bloom.field.message_words) {
        // The block's words, split and hashed once for every kind (word postings too): its
        // distinct keys already, unsorted, which a message bloom takes as they are (a bloom's
        // bits do not depend on the order of its keys, and a message field never gets id
        // filters, which need them sorted).
        if (words == nullptr) words = &BlockWordsOf(block_words_, &own_words_, rows, count);
        const std::vector<uint64_t>& keys = words->bloom_hashes;
        bloom.segment_hashes.insert(bloom.segment_hashes.end(), keys.begin(), keys.end());
        bloom.block_ends.push_back(bloom.segment_hashes.size());
        continue;
      }
      bloom.block_hashes.clear();
      // (Version 26) A block of trace ids that are all 32 lower-case hex digits: its filter is
      // the mixed id filter its filtered-hex column block reads, made here.
      bloom.mixed_filters.emplace_back();
      if (mixed_trace_blocks_ != nullptr && blocks_ < mixed_trace_blocks_->size() &&
          (*mixed_trace_blocks_)[blocks_] && bloom.field.builtin &&
          bloom.field.name == "trace_id") {
        MixedFilterOf(bloom.field, rows, count, &bloom.mixed_filters.back());
      }
      for (uint32_t row = 0; row < count; ++row) {
        const Record& r = rows[row];
        if (!bloom.field.builtin) {
          for (const auto& [key, value] : r.fields) {
            if (key == bloom.field.name && !value.empty()) {
              bloom.block_hashes.push_back(BloomHash(value));
            }
          }
        } else {
          std::string_view v = BuiltinValue(r, bloom.field);
          if (!v.empty()) bloom.block_hashes.push_back(BloomHash(v));
        }
      }
      SortUniqueHashes(&bloom.block_hashes, &sort_scratch_);
      bloom.segment_hashes.insert(bloom.segment_hashes.end(), bloom.block_hashes.begin(),
                                  bloom.block_hashes.end());
      bloom.block_ends.push_back(bloom.segment_hashes.size());
    }
    ++blocks_;
  }

  void Finish(std::vector<IndexPart>* parts) override {
    for (Field& bloom : fields_) {
      if (bloom.field.message_words) LeaveOutDecided(&bloom);
      IndexPart part;
      part.field = bloom.field;
      part.blobs.resize(2);
      const bool mixed = std::any_of(bloom.mixed_filters.begin(), bloom.mixed_filters.end(),
                                     [](const std::string& f) { return !f.empty(); });
      if (!bloom.field.message_words && posted_fields_ != nullptr && posted_fields_->filled &&
          posted_fields_->Has(bloom.field.name, bloom.field.builtin) && !mixed) {
        // (Version 16) Block lists decide its values exactly: no part.
        bloom.segment_hashes = {};
        bloom.block_ends = {};
        continue;
      }
      const uint64_t block_keys = bloom.segment_hashes.size();  // a key in two blocks twice
      // The segment's distinct keys, sorted apart: the blocks' own are still needed below.
      std::vector<uint64_t> distinct(bloom.segment_hashes);
      SortUniqueHashes(&distinct, &sort_scratch_);
      part.count = distinct.size();
      // The segment filter only where it is the smaller answer: with one block it would repeat
      // the block filter, and for values that seldom repeat across blocks (trace ids: one row
      // each) it would be about as large as the block filters together. Readers fall back to
      // the block filters when a segment has none (docs/format/index.md "Blooms").
      const bool seldom_repeat = part.count * 2 > block_keys;
      // Ids: values in one block each (at most 1.1 blocks a value on average; no segment
      // filter then). A lookup of one probes every block filter of every segment and reads the
      // one block holding it plus the false positives, the segment's blocks times the filters'
      // rate: at kBitsPerKey on 10,000,000 corpus lines 7 false blocks to 1 true. Their filters
      // get kIdBitsPerKey. Values in more blocks (user ids, words) keep kBitsPerKey: their true
      // blocks are more of what a lookup reads, and the bits would cost as much again.
      const bool ids = blocks_ > 1 && !bloom.field.message_words && part.count > 0 &&
                       block_keys * 10 <= part.count * 11;
      const double bits = ids ? kIdBitsPerKey : kBitsPerKey;
      PutVarint64(&part.blobs[1], bloom.block_ends.size());
      std::string filter;
      size_t begin = 0;
      for (size_t b = 0; b < bloom.block_ends.size(); ++b) {
        const size_t end = bloom.block_ends[b];
        filter.clear();
        const auto keys =
            std::span<const uint64_t>(bloom.segment_hashes).subspan(begin, end - begin);
        if (b < bloom.mixed_filters.size() && !bloom.mixed_filters[b].empty()) {
          filter.swap(bloom.mixed_filters[b]);  // (version 26) made by AddBlock
        } else if (ids && id_filters_) {
          WriteIdFilter(keys, &filter, id_low_bits_);  // (sorted and distinct: AddBlock)
        } else {
          WriteBloom(keys, &filter, bits);
        }
        PutLengthPrefixed(&part.blobs[1], filter);
        begin = end;
      }
      if (blocks_ > 1 && !seldom_repeat) WriteBloom(distinct, &part.blobs[0]);
      parts->push_back(std::move(part));
      bloom.segment_hashes = {};
      bloom.block_ends = {};
      bloom.mixed_filters = {};
    }
    sort_scratch_ = {};
  }

 private:
  struct Field {
    IndexedField field;
    std::vector<uint64_t> block_hashes;
    // Every block's distinct keys, block after block (a key in two blocks is there twice);
    // block i's end at block_ends[i].
    std::vector<uint64_t> segment_hashes;
    std::vector<size_t> block_ends;
    // (Version 26) By block: its mixed id filter, or empty (the block's filter follows the
    // rules of Finish).
    std::vector<std::string> mixed_filters;
  };
  // The mixed id filter of a block's trace ids into "*out" (every row's is 32 lower-case hex
  // digits: its column took filtered-hex, segment/filtered_hex_encoding.cc); empty otherwise.
  void MixedFilterOf(const IndexedField& field, const Record* rows, uint32_t count,
                     std::string* out) {
    mixes_.resize(count);
    for (uint32_t row = 0; row < count; ++row) {
      Id128 id;
      if (!ParseHexId(BuiltinValue(rows[row], field), &id)) return;
      mixes_[row] = MixId(id);
    }
    std::sort(mixes_.begin(), mixes_.end());
    mixes_.erase(std::unique(mixes_.begin(), mixes_.end()), mixes_.end());
    WriteMixedIdFilter(mixes_, out, id_low_bits_);
  }
  // (Segment format version 12) Takes the words the word postings decide out of the message's
  // block keys (DecidedWords): a reader asks the postings first and the bloom only for the rest.
  void LeaveOutDecided(Field* bloom) const {
    if (decided_words_ == nullptr || !decided_words_->filled) return;
    const std::vector<uint64_t>& decided = decided_words_->hashes;
    size_t begin = 0, kept = 0;
    for (size_t& end : bloom->block_ends) {
      for (size_t i = begin; i < end; ++i) {
        const uint64_t h = bloom->segment_hashes[i];
        if (!std::binary_search(decided.begin(), decided.end(), h)) {
          bloom->segment_hashes[kept++] = h;
        }
      }
      begin = end;
      end = kept;
    }
    bloom->segment_hashes.resize(kept);
  }

  std::vector<Field> fields_;
  const BlockWords* block_words_;  // null: split into own_words_
  BlockWords own_words_;
  const bool id_filters_;
  const int id_low_bits_;                        // (version 23: kIdLowBitsV23)
  const std::vector<bool>* mixed_trace_blocks_;  // (version 26) set before AddBlock
  std::vector<Id128> mixes_;                     // MixedFilterOf's
  const DecidedWords* decided_words_;  // filled by the word postings' Finish, before this one's
  const PostedFields* posted_fields_;  // filled by the inverted kind's Finish, before this one's
  uint32_t blocks_ = 0;
  std::vector<uint64_t> sort_scratch_;  // SortUniqueHashes' buffer
};

class BloomKindView final : public IndexView {
 public:
  explicit BloomKindView(std::shared_ptr<const IndexSource> source)
      : source_(std::move(source)), caches_(source_->parts().size()) {}

  Result<bool> SegmentMayMatch(const FieldPredicate& p) const override {
    uint64_t hash;
    int part = Probe(p, &hash);
    if (part < 0) return true;
    std::shared_ptr<Cache> cache = CacheOf(part);
    bool present = false;
    {
      MutexLock lock(&cache->mu);
      if (!cache->segment_load.settled()) {
        std::string raw;
        Status read = source_->Read(part, 0, &raw);
        if (read.ok() && !raw.empty()) {
          cache->segment_data = std::move(raw);
          cache->segment_view = BloomView(cache->segment_data);
          // A filter whose checksum holds but whose shape does not (a writer's bug): damage too,
          // as `sawmill segment verify` says ("malformed filter"), never "maybe" (session 23).
          if (!cache->segment_view.valid()) {
            read = Status::DataLoss(source_->Where(part, 0) + ": the filter does not parse (" +
                                    std::to_string(cache->segment_data.size()) + " bytes)");
          }
        }
        RETURN_IF_ERROR(cache->segment_load.Settle(std::move(read)));  // load_once.h
      }
      RETURN_IF_ERROR(cache->segment_load.damage());
      present = !cache->segment_data.empty();
    }
    if (present) return cache->segment_view.MayContainHash(hash);
    // No segment filter (a one-block segment): any block filter that may contain it.
    Id128 mixed;
    const bool hex = MixedOf(p.value, &mixed);
    for (uint32_t b = 0; b < source_->block_count(); ++b) {
      ASSIGN_OR_RETURN(const bool may, BlockMayMatchHash(part, b, hash, hex ? &mixed : nullptr));
      if (may) return true;
    }
    return false;
  }

  Result<bool> BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    uint64_t hash;
    int part = Probe(p, &hash);
    if (part < 0 || block >= source_->block_count()) return true;
    Id128 mixed;
    const bool hex = MixedOf(p.value, &mixed);
    return BlockMayMatchHash(part, block, hash, hex ? &mixed : nullptr);
  }

  Result<std::string_view> BlockFilter(const IndexedField& field, uint32_t block,
                                       Status* unchecked) const override {
    *unchecked = Status::OK();
    const auto& parts = source_->parts();
    for (size_t i = 0; i < parts.size(); ++i) {
      const IndexedField& f = parts[i].field;
      if (f.name != field.name || f.builtin != field.builtin || f.message_words) continue;
      std::shared_ptr<Cache> cache = CacheOf(static_cast<int>(i));
      MutexLock lock(&cache->mu);
      RETURN_IF_ERROR(LoadBlockFilters(static_cast<int>(i), cache.get()));
      if (block >= source_->block_count()) return std::string_view();
      if (!cache->blocks_load.damage().ok()) {
        // (Version 26) Filters that fail their checksum together: this block's, cut from them,
        // for a caller that checks it (a filtered-hex block's filter_crc).
        if (block >= cache->block_bytes.size()) return cache->blocks_load.damage();
        *unchecked = cache->blocks_load.damage();
        return cache->block_bytes[block];
      }
      RETURN_IF_ERROR(cache->block_damage[block]);
      return cache->block_bytes[block];
    }
    return std::string_view();
  }

 private:
  struct Cache {
    Mutex mu;
    // The segment filter's and the block filters' loads (LoadOnce: the filters or their
    // damage kept, a failed read not).
    LoadOnce segment_load, blocks_load;
    std::string segment_data, blocks_data;  // segment_data empty: no segment filter
    BloomView segment_view;
    // One per block when the block filters' checksum held: each block's filter (in
    // blocks_data), its view and its own damage (a filter of no known shape: DataLoss naming the
    // block).
    std::vector<BloomView> block_views;
    std::vector<std::string_view> block_bytes;
    std::vector<Status> block_damage;
    // When blocks_load keeps a failed checksum: block_bytes holds the filters of the blocks
    // [0, block_bytes.size()) cut from the stored bytes anyway, unchecked (BlockFilter's).
  };

  // The part that can answer "p" and the hash to probe it with; -1 when no filter can rule
  // it out (no bloom of the field, an empty value, a message token that is not one word, a
  // number word: message blooms leave those out).
  int Probe(const FieldPredicate& p, uint64_t* hash) const {
    if (p.value.empty()) return -1;
    const auto& parts = source_->parts();
    for (size_t i = 0; i < parts.size(); ++i) {
      const IndexedField& f = parts[i].field;
      if (f.name != p.field || f.builtin != p.builtin) continue;
      if (f.message_words) {
        if (p.op != FieldPredicate::Op::kWord) return -1;
        std::string folded(p.value);
        for (char& c : folded) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        }
        if (!IsSingleFoldedWord(folded) || IsNumberWord(folded)) return -1;
        *hash = BloomHash(folded);
        return static_cast<int>(i);
      }
      if (p.op != FieldPredicate::Op::kEquals) return -1;
      *hash = BloomHash(p.value);
      return static_cast<int>(i);
    }
    return -1;
  }

  std::shared_ptr<Cache> CacheOf(int part) const {
    MutexLock lock(&mu_);
    auto& slot = caches_[part];
    if (slot == nullptr) slot = std::make_shared<Cache>();
    return slot;
  }

  // The mix of "value" (MixId) when it is 32 lower-case hex digits: what a mixed id filter
  // (version 26) is asked.
  static bool MixedOf(std::string_view value, Id128* mixed) {
    if (!ParseHexId(value, mixed)) return false;
    *mixed = MixId(*mixed);
    return true;
  }

  Result<bool> BlockMayMatchHash(int part, uint32_t block, uint64_t hash,
                                 const Id128* mixed) const {
    std::shared_ptr<Cache> cache = CacheOf(part);
    MutexLock lock(&cache->mu);
    RETURN_IF_ERROR(LoadBlockFilters(part, cache.get()));
    // Filters that fail their checksum answer nothing (their damage), not even those a caller
    // finds intact by its own checksum: such a block is read, and its column read decides.
    RETURN_IF_ERROR(cache->blocks_load.damage());
    RETURN_IF_ERROR(cache->block_damage[block]);
    return cache->block_views[block].MayContainId(hash, mixed);
  }

  // The block filters of "part" read and parsed once (REQUIRES: cache->mu held); OK, or a failed
  // read (returned, and tried again at the next question). Their damage (DataLoss) is kept in
  // cache->blocks_load (load_once.h), and that of one filter in cache->block_damage, for every
  // question after. (Version 26) Filters that fail their checksum are still cut into each block's
  // (cache->block_bytes, unchecked) for BlockFilter.
  Status LoadBlockFilters(int part, Cache* cache) const {
    if (cache->blocks_load.settled()) return Status::OK();
    std::string raw;
    Status read = source_->Read(part, 1, &raw);
    if (!read.ok() && !read.IsDataLoss()) return read;  // asked again next time
    if (read.ok()) {
      read = CutBlockFilters(part, std::move(raw), true, cache);
    } else {
      std::string stored;
      Status unchecked = source_->ReadUnchecked(part, 1, &stored);
      if (!unchecked.ok() && !unchecked.IsDataLoss()) return unchecked;  // asked again
      if (unchecked.ok()) (void)CutBlockFilters(part, std::move(stored), false, cache);
    }
    (void)cache->blocks_load.Settle(std::move(read));  // OK or DataLoss here: kept
    return Status::OK();
  }

  // The block filters of part "part" ("raw": count, then a length-prefixed filter per block)
  // into cache->block_bytes, and when "checked" (their checksum held) their views and each one's
  // damage. Errors: DataLoss naming where, when they are not one per block (unchecked, the
  // filters cut before the first that is not whole are kept).
  Status CutBlockFilters(int part, std::string raw, bool checked, Cache* cache) const {
    cache->blocks_data = std::move(raw);
    cache->block_bytes.clear();
    std::string_view in(cache->blocks_data);
    uint64_t count = source_->block_count();
    if (!checked) {
      // The count is the reader's block count, as written: its bytes are skipped, not read (a
      // damaged count byte then costs no block; review24 MEDIUM-1).
      const size_t skip = static_cast<size_t>(VarintLength(count));
      if (in.size() < skip) return Status::DataLoss(source_->Where(part, 1) + ": truncated");
      in.remove_prefix(skip);
    } else if (!GetVarint64(&in, &count) || count != source_->block_count()) {
      return Status::DataLoss(source_->Where(part, 1) + ": not one filter per row block (" +
                              std::to_string(source_->block_count()) + ")");
    }
    for (uint64_t b = 0; b < count; ++b) {
      std::string_view filter;
      if (!GetLengthPrefixed(&in, &filter)) {
        return Status::DataLoss(source_->Where(part, 1) + ": the filter of block " +
                                std::to_string(b) + " is truncated");
      }
      cache->block_bytes.push_back(filter);
    }
    if (!in.empty()) {
      return Status::DataLoss(source_->Where(part, 1) + ": bytes after the last block's filter");
    }
    if (!checked) return Status::OK();
    for (uint64_t b = 0; b < count; ++b) {
      cache->block_views.emplace_back(cache->block_bytes[b]);
      // A filter of no known shape in a block whose checksum holds (a writer's bug): damage, as
      // verify says ("malformed filters"), never "maybe" (session 23); that block's alone
      // (session 24: a filtered-hex block is read with it, and the others with theirs).
      cache->block_damage.push_back(
          cache->block_views.back().valid()
              ? Status::OK()
              : Status::DataLoss(source_->Where(part, 1) + ": the filter of block " +
                                 std::to_string(b) + " does not parse (" +
                                 std::to_string(cache->block_bytes[b].size()) + " bytes)"));
    }
    return Status::OK();
  }

  std::shared_ptr<const IndexSource> source_;
  mutable Mutex mu_;
  mutable std::vector<std::shared_ptr<Cache>> caches_ GUARDED_BY(mu_);
};

std::unique_ptr<IndexBuilder> NewBuilder(const BuildOptions& options) {
  return std::make_unique<BloomBuilderKind>(options);
}

Result<std::unique_ptr<IndexView>> Open(std::shared_ptr<const IndexSource> source) {
  return std::unique_ptr<IndexView>(std::make_unique<BloomKindView>(std::move(source)));
}

}  // namespace

extern const IndexKind kBloomKind;
const IndexKind kBloomKind{"bloom",     kBloomVersion, IndexLayout::kFieldBlooms, false, &Answers,
                           &NewBuilder, &Open};

}  // namespace sawmill::index
