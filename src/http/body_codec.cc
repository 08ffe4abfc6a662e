#include "http/body_codec.h"

#include <algorithm>

namespace sawmill::http {

#if SAWMILL_HTTP_HAVE_INGEST

Result<std::string> DecodeRequestBody(std::string_view body, std::string_view content_encoding,
                                      size_t max_bytes) {
  return ingest::DecodeBody(body, content_encoding, max_bytes);
}

void NormalizeRequestBody(std::string_view body, const ingest::Defaults& defaults,
                          const ingest::NormalizeOptions& options, int64_t now_ns,
                          std::vector<Record>* out, ingest::IngestCounts* counts) {
  ingest::NormalizeBody(body, defaults, options, now_ns, out, counts);
}

bool HaveFullIngest() { return true; }

#else

Result<std::string> DecodeRequestBody(std::string_view body, std::string_view content_encoding,
                                      size_t max_bytes) {
  if (!content_encoding.empty() && content_encoding != "identity") {
    return Status::InvalidArgument("Content-Encoding '" + std::string(content_encoding) +
                                   "' is not supported by this build");
  }
  if (body.size() > max_bytes) return Status::ResourceExhausted("decoded body too large");
  return std::string(body);
}

void NormalizeRequestBody(std::string_view body, const ingest::Defaults& defaults,
                          const ingest::NormalizeOptions& options, int64_t now_ns,
                          std::vector<Record>* out, ingest::IngestCounts* counts) {
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool blank = std::all_of(line.begin(), line.end(),
                             [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (blank) {
      ++counts->skipped;
      continue;
    }
    Record record;
    record.ingest_ts = now_ns;
    record.ts = now_ns;
    record.service = defaults.service;
    record.host = defaults.host;
    record.level = defaults.level.value_or(Level::kUnknown);
    if (line.size() > options.max_line_bytes) {
      line = line.substr(0, options.max_line_bytes);
      record.flags |= kFlagTruncated;
      ++counts->truncated;
    }
    record.message = std::string(line);
    out->push_back(std::move(record));
    ++counts->accepted;
  }
}

bool HaveFullIngest() { return false; }

#endif

}  // namespace sawmill::http
