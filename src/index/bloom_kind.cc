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
// both uncompressed (filters do not compress). Every segment format version has it. A filter
// that does not read answers "maybe".
#include <algorithm>

#include "common/coding.h"
#include "common/mutex.h"
#include "index/bloom.h"
#include "index/index_kind.h"
#include "index/word_hash.h"

namespace sawmill::index {

namespace {

bool Answers(const FieldPredicate& p) {
  return p.op == FieldPredicate::Op::kEquals || p.op == FieldPredicate::Op::kWord;
}

class BloomBuilderKind final : public IndexBuilder {
 public:
  explicit BloomBuilderKind(const BuildOptions& options) : block_words_(options.block_words) {
    for (const IndexedField& f : options.blooms) {
      fields_.push_back(Field{f, {}, {}, {}, 0, 0});
    }
  }

  void AddBlock(const Record* rows, uint32_t count) override {
    for (Field& bloom : fields_) {
      bloom.block_hashes.clear();
      const bool split_once = bloom.field.message_words && block_words_ != nullptr;
      if (split_once) {
        // The block's words, split and hashed once for every kind (word postings too).
        const BlockWords& w = *block_words_;
        for (size_t i = 0; i < w.hashes.size(); ++i) {
          if (w.numbers[i] == 0) bloom.block_hashes.push_back(w.hashes[i]);
        }
      }
      for (uint32_t row = 0; row < count && !split_once; ++row) {
        const Record& r = rows[row];
        if (bloom.field.message_words) {
          AppendWordHashes(r.message, &word_scratch_, &bloom.block_hashes,
                           /*with_numbers=*/false);
        } else if (!bloom.field.builtin) {
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
      std::string filter;
      WriteBloom(bloom.block_hashes, &filter);
      PutLengthPrefixed(&bloom.block_filters, filter);
      ++bloom.filters;
      bloom.block_keys += bloom.block_hashes.size();
      bloom.segment_hashes.insert(bloom.segment_hashes.end(), bloom.block_hashes.begin(),
                                  bloom.block_hashes.end());
    }
    ++blocks_;
  }

  void Finish(std::vector<IndexPart>* parts) override {
    for (Field& bloom : fields_) {
      IndexPart part;
      part.field = bloom.field;
      SortUniqueHashes(&bloom.segment_hashes, &sort_scratch_);
      part.count = bloom.segment_hashes.size();
      part.blobs.resize(2);
      // The segment filter only where it is the smaller answer: with one block it would repeat
      // the block filter, and for values that seldom repeat across blocks (trace ids: one row
      // each) it would be about as large as the block filters together. Readers fall back to
      // the block filters when a segment has none (docs/format/index.md "Blooms").
      if (blocks_ > 1 && bloom.segment_hashes.size() * 2 <= bloom.block_keys) {
        WriteBloom(bloom.segment_hashes, &part.blobs[0]);
      }
      PutVarint64(&part.blobs[1], bloom.filters);
      part.blobs[1].append(bloom.block_filters);
      parts->push_back(std::move(part));
      bloom.segment_hashes = {};
      bloom.block_filters = {};
    }
    sort_scratch_ = {};
  }

 private:
  struct Field {
    IndexedField field;
    std::vector<uint64_t> block_hashes;
    std::vector<uint64_t> segment_hashes;
    std::string block_filters;  // count-less concatenation of lp filters
    uint64_t filters = 0;
    uint64_t block_keys = 0;  // keys of every block filter (a key in two blocks counts twice)
  };
  std::vector<Field> fields_;
  const BlockWords* block_words_;
  uint32_t blocks_ = 0;
  std::string word_scratch_;
  std::vector<uint64_t> sort_scratch_;  // SortUniqueHashes' buffer
};

class BloomKindView final : public IndexView {
 public:
  explicit BloomKindView(std::shared_ptr<const IndexSource> source)
      : source_(std::move(source)), caches_(source_->parts().size()) {}

  bool SegmentMayMatch(const FieldPredicate& p) const override {
    uint64_t hash;
    int part = Probe(p, &hash);
    if (part < 0) return true;
    std::shared_ptr<Cache> cache = CacheOf(part);
    SegmentFilter state;
    {
      MutexLock lock(&cache->mu);
      if (!cache->segment_loaded) {
        std::string raw;
        if (!source_->Read(part, 0, &raw).ok()) {
          cache->segment_filter = SegmentFilter::kUnreadable;
        } else if (raw.empty()) {
          cache->segment_filter = SegmentFilter::kNone;
        } else {
          cache->segment_data = std::move(raw);
          cache->segment_view = BloomView(cache->segment_data);
          cache->segment_filter = SegmentFilter::kPresent;
        }
        cache->segment_loaded = true;
      }
      state = cache->segment_filter;
    }
    switch (state) {
      case SegmentFilter::kUnreadable: return true;
      case SegmentFilter::kPresent: return cache->segment_view.MayContainHash(hash);
      case SegmentFilter::kNone: break;
    }
    // No segment filter (a one-block segment): any block filter that may contain it.
    for (uint32_t b = 0; b < source_->block_count(); ++b) {
      if (BlockMayMatchHash(part, b, hash)) return true;
    }
    return false;
  }

  bool BlockMayMatch(uint32_t block, const FieldPredicate& p) const override {
    uint64_t hash;
    int part = Probe(p, &hash);
    if (part < 0 || block >= source_->block_count()) return true;
    return BlockMayMatchHash(part, block, hash);
  }

 private:
  enum class SegmentFilter : uint8_t { kNone, kPresent, kUnreadable };
  struct Cache {
    Mutex mu;
    bool segment_loaded = false, blocks_loaded = false;
    SegmentFilter segment_filter = SegmentFilter::kNone;
    std::string segment_data, blocks_data;
    BloomView segment_view;
    std::vector<BloomView> block_views;  // empty when unreadable: every probe is "maybe"
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

  bool BlockMayMatchHash(int part, uint32_t block, uint64_t hash) const {
    std::shared_ptr<Cache> cache = CacheOf(part);
    MutexLock lock(&cache->mu);
    if (!cache->blocks_loaded) {
      std::string raw;
      if (source_->Read(part, 1, &raw).ok()) {
        cache->blocks_data = std::move(raw);
        std::string_view in(cache->blocks_data);
        uint64_t count;
        std::vector<BloomView> views;
        if (GetVarint64(&in, &count) && count == source_->block_count()) {
          for (uint64_t b = 0; b < count; ++b) {
            std::string_view filter;
            if (!GetLengthPrefixed(&in, &filter)) break;
            views.emplace_back(filter);
          }
        }
        if (views.size() == source_->block_count() && in.empty()) {
          cache->block_views = std::move(views);
        }
      }
      cache->blocks_loaded = true;
    }
    if (cache->block_views.empty()) return true;
    return cache->block_views[block].MayContainHash(hash);
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
