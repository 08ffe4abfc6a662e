// The SegmentReader implementation, with the extra access `sawmill segment verify/dump` needs
// (the footer, physical blocks by reference).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "index/bloom.h"
#include "index/inverted_index.h"
#include "objstore/object_store.h"
#include "segment/footer.h"
#include "segment/segment.h"

namespace sawmill::segment {

class SegmentFileReader final : public SegmentReader {
 public:
  // Errors as SegmentReader::Open.
  static Result<std::shared_ptr<SegmentFileReader>> OpenObject(
      std::shared_ptr<objstore::ObjectStore> store, const std::string& name);
  static Result<std::shared_ptr<SegmentFileReader>> OpenFile(Env* env, const std::string& path);

  const SegmentInfo& info() const override { return footer_.info; }
  // The format version the file was written with (1 or 2).
  uint32_t format_version() const { return version_; }
  const std::vector<BlockInfo>& blocks() const override { return footer_.blocks; }
  const std::vector<std::string>& field_names() const override { return field_names_; }
  Result<std::optional<roaring::Roaring>> Postings(std::string_view field,
                                                   std::string_view value) const override;
  Result<std::optional<std::vector<std::string>>> IndexedValues(
      std::string_view field) const override;
  bool SegmentMayContain(std::string_view field, std::string_view token) const override;
  bool BlockMayContain(uint32_t block, std::string_view field,
                       std::string_view token) const override;
  Status ReadBlock(uint32_t block, uint32_t column_mask, std::vector<Record>* out,
                   ReadStats* stats) const override;
  bool BlockMayMatch(uint32_t block, const index::FieldPredicate& predicate) const override;

  const Footer& footer() const { return footer_; }
  // Where the segment is, as errors name it: the file path, or the store's location of the name.
  const std::string& path() const { return path_; }

  // Reads, verifies and decompresses the physical block "ref" into "*raw". "what" names the
  // block in errors ("column 'message' block 3"). Errors: DataLoss "segment PATH: WHAT at
  // offset N (M bytes): REASON"; IOError from the Env.
  Status ReadPhysical(const BlockRef& ref, std::string_view what, std::string* raw,
                      ReadStats* stats) const;

  // The inverted index of "field", or nullptr when the segment has none. Errors: DataLoss.
  Result<std::shared_ptr<const index::InvertedIndexReader>> LoadIndex(std::string_view field) const;

 private:
  struct BloomCache {
    bool segment_loaded = false, blocks_loaded = false;
    std::string segment_data, blocks_data;
    index::BloomView segment_view;
    std::vector<index::BloomView> block_views;  // empty when unreadable: every probe is "maybe"
  };

  // The parsed index of footer_.kind_indexes[k], loaded on first use; nullptr when the kind is
  // unknown to this build or its block does not read (every probe is then "maybe").
  std::shared_ptr<const index::IndexView> KindView(size_t k) const;

  // Prepares "token" for probing the bloom of "field"; false when no bloom can rule it out.
  static bool ProbeHash(std::string_view field, std::string_view token, uint64_t* hash);
  const BloomMeta* FindBloom(std::string_view field) const;

  // Reads the header, trailer, identity and footer of "object" and checks them.
  static Result<std::shared_ptr<SegmentFileReader>> OpenReader(
      std::shared_ptr<objstore::ObjectStore> store, std::unique_ptr<objstore::ObjectReader> object,
      std::string path);

  std::shared_ptr<objstore::ObjectStore> store_;  // null when opened from a path; outlives object_
  std::unique_ptr<objstore::ObjectReader> object_;
  std::string path_;
  Footer footer_;
  uint32_t version_ = 0;
  std::vector<std::string> field_names_;

  mutable Mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const index::InvertedIndexReader>, std::less<>>
      indexes_ GUARDED_BY(mu_);
  mutable std::map<std::string, std::shared_ptr<BloomCache>, std::less<>> blooms_ GUARDED_BY(mu_);
  // By footer_.kind_indexes position; loaded[k] says whether views[k] was tried.
  mutable std::vector<bool> kinds_loaded_ GUARDED_BY(mu_);
  mutable std::vector<std::shared_ptr<const index::IndexView>> kinds_ GUARDED_BY(mu_);
};

}  // namespace sawmill::segment
