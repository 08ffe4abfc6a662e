#include "agent/batch_builder.h"

#include <zstd.h>

#include "agent/record_json.h"

namespace sawmill::agent {

void BatchBuilder::Add(const Record& record, int64_t now_ns) {
  if (lines_ == 0) first_add_ns_ = now_ns;
  int cls = static_cast<int>(ClassOf(record.level));
  size_t before = ndjson_[cls].size();
  AppendRecordJson(&ndjson_[cls], record);
  bytes_ += ndjson_[cls].size() - before;
  counts_[cls][static_cast<int>(record.level)]++;
  class_lines_[cls]++;
  lines_++;
}

Status BatchBuilder::Seal(SpoolBatch* batch) {
  batch->sections.clear();
  for (int cls = 0; cls < kLevelClassCount; ++cls) {
    if (class_lines_[cls] == 0) continue;
    BatchSection section;
    section.cls = static_cast<LevelClass>(cls);
    section.lines = class_lines_[cls];
    section.raw_bytes = static_cast<uint32_t>(ndjson_[cls].size());
    section.counts = counts_[cls];
    ASSIGN_OR_RETURN(section.data, ZstdCompress(ndjson_[cls], zstd_level_));
    batch->sections.push_back(std::move(section));
  }
  for (int cls = 0; cls < kLevelClassCount; ++cls) {
    ndjson_[cls].clear();
    if (ndjson_[cls].capacity() > (1 << 20)) ndjson_[cls].shrink_to_fit();
    counts_[cls] = {};
    class_lines_[cls] = 0;
  }
  lines_ = 0;
  bytes_ = 0;
  return Status::OK();
}

Result<std::string> ZstdCompress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> ZstdDecompress(std::string_view data, size_t max_bytes) {
  unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_bytes) {
    return Status::InvalidArgument("zstd: bad or oversized frame");
  }
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n)) return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> BatchBody(const SpoolBatch& batch, int zstd_level) {
  if (batch.sections.size() == 1) return batch.sections[0].data;
  std::string ndjson;
  for (const auto& s : batch.sections) {
    ASSIGN_OR_RETURN(std::string raw, ZstdDecompress(s.data, size_t{1} << 30));
    ndjson += raw;
  }
  return ZstdCompress(ndjson, zstd_level);
}

}  // namespace sawmill::agent
