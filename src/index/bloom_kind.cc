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
// verify called it malformed). Filters hold kBitsPerKey bits a key, the block filters of
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
        decided_words_(options.decided_words),
        posted_fields_(options.posted_fields) {
    for (const IndexedField& f : options.blooms) {
      fields_.push_back(Field{f, {}, {}, {}});
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
      if (!bloom.field.message_words && posted_fields_ != nullptr && posted_fields_->filled &&
          posted_fields_->Has(bloom.field.name, bloom.field.builtin)) {
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
      for (size_t end : bloom.block_ends) {
        filter.clear();
        const auto keys =
            std::span<const uint64_t>(bloom.segment_hashes).subspan(begin, end - begin);
        if (ids && id_filters_) {
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
  };
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
  const int id_low_bits_;              // (version 23: kIdLowBitsV23)
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
    for (uint32_t b = 0; b < source_->block_count(); ++b) {
      ASSIGN_OR_RETURN(const bool may, BlockMayMatchHash(part, b, hash));
      if (may) return true;
    }
    return false;
  }

  Result<bool> BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    uint64_t hash;
    int part = Probe(p, &hash);
    if (part < 0 || block >= source_->block_count()) return true;
    return BlockMayMatchHash(part, block, hash);
  }

 private:
  struct Cache {
    Mutex mu;
    // The segment filter's and the block filters' loads (LoadOnce: the filters or their
    // damage kept, a failed read not).
    LoadOnce segment_load, blocks_load;
    std::string segment_data, blocks_data;  // segment_data empty: no segment filter
    BloomView segment_view;
    std::vector<BloomView> block_views;  // one per block once blocks_load read them
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

  Result<bool> BlockMayMatchHash(int part, uint32_t block, uint64_t hash) const {
    std::shared_ptr<Cache> cache = CacheOf(part);
    MutexLock lock(&cache->mu);
    if (!cache->blocks_load.settled()) {
      std::string raw;
      Status read = source_->Read(part, 1, &raw);
      if (read.ok()) read = ParseBlockFilters(part, std::move(raw), cache.get());
      RETURN_IF_ERROR(cache->blocks_load.Settle(std::move(read)));
    }
    RETURN_IF_ERROR(cache->blocks_load.damage());
    return cache->block_views[block].MayContainHash(hash);
  }

  // The block filters of part "part" ("raw": count, then a length-prefixed filter per block)
  // into cache->block_views. Errors: DataLoss naming where, when they are not one per block.
  Status ParseBlockFilters(int part, std::string raw, Cache* cache) const {
    cache->blocks_data = std::move(raw);
    std::string_view in(cache->blocks_data);
    uint64_t count;
    if (!GetVarint64(&in, &count) || count != source_->block_count()) {
      return Status::DataLoss(source_->Where(part, 1) + ": not one filter per row block (" +
                              std::to_string(source_->block_count()) + ")");
    }
    std::vector<BloomView> views;
    for (uint64_t b = 0; b < count; ++b) {
      std::string_view filter;
      if (!GetLengthPrefixed(&in, &filter)) {
        return Status::DataLoss(source_->Where(part, 1) + ": the filter of block " +
                                std::to_string(b) + " is truncated");
      }
      views.emplace_back(filter);
      // A filter of no known shape in a block whose checksum holds (a writer's bug): damage, as
      // verify says ("malformed filters"), never "maybe" (session 23).
      if (!views.back().valid()) {
        return Status::DataLoss(source_->Where(part, 1) + ": the filter of block " +
                                std::to_string(b) + " does not parse (" +
                                std::to_string(filter.size()) + " bytes)");
      }
    }
    if (!in.empty()) {
      return Status::DataLoss(source_->Where(part, 1) + ": bytes after the last block's filter");
    }
    cache->block_views = std::move(views);
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
