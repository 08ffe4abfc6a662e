// What the shipper decoders' fuzz targets share: the request context they decode under, and the
// checks every answer must pass (an error that says what is wrong, or a bounded batch of records
// whose text is valid UTF-8).
#pragma once

#include <vector>

#include "fuzz_util.h"
#include "ingest/shipper_record.h"
#include "sawmill/status.h"

namespace sawmill::fuzz {

inline ingest::ShipperContext ShipperFuzzContext() {
  ingest::ShipperContext context;
  context.now_ns = kNowNs;
  context.options.max_line_bytes = 512;
  context.max_records = 1000;
  return context;
}

// True when the decoder accepted the body; a refusal must carry a message.
template <typename T>
bool Decoded(const Result<T>& result) {
  if (!result.ok()) FUZZ_CHECK(!result.status().message().empty());
  return result.ok();
}

inline void CheckRecords(const std::vector<Record>& records,
                         const ingest::ShipperContext& context) {
  FUZZ_CHECK(records.size() <= context.max_records);
  for (const Record& r : records) CheckRecordUtf8(r);
}

}  // namespace sawmill::fuzz
