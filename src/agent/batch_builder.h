// Collects records into the open batch: NDJSON per level class, sealed into a SpoolBatch with
// one zstd frame per class.
//
// Not thread-safe: owned by the pipeline thread.
#pragma once

#include <array>
#include <string>

#include "agent/spool.h"
#include "sawmill/record.h"

namespace sawmill::agent {

class BatchBuilder {
 public:
  explicit BatchBuilder(int zstd_level) : zstd_level_(zstd_level) {}

  // "now_ns" is monotonic (for the age of the batch).
  void Add(const Record& record, int64_t now_ns);
  uint64_t lines() const { return lines_; }
  uint64_t bytes() const { return bytes_; }
  bool empty() const { return lines_ == 0; }
  // Monotonic time the first line of the open batch was added.
  int64_t first_add_ns() const { return first_add_ns_; }

  // Compresses the open batch into "*batch" (seq, created_ns and cursors are the caller's) and
  // starts a new one. Errors: Internal when zstd fails.
  Status Seal(SpoolBatch* batch);

 private:
  const int zstd_level_;
  std::array<std::string, kLevelClassCount> ndjson_;
  std::array<LevelCounts, kLevelClassCount> counts_{};
  std::array<uint32_t, kLevelClassCount> class_lines_{};
  uint64_t lines_ = 0;
  uint64_t bytes_ = 0;
  int64_t first_add_ns_ = 0;
};

// zstd helpers. Errors: Internal (compress), InvalidArgument (decompress of bad data).
Result<std::string> ZstdCompress(std::string_view data, int level);
Result<std::string> ZstdDecompress(std::string_view data, size_t max_bytes);

// The request body of a batch: its sections as one zstd frame (a single section is sent as
// stored; several are decompressed and recompressed together).
Result<std::string> BatchBody(const SpoolBatch& batch, int zstd_level);

}  // namespace sawmill::agent
