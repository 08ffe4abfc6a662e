// Fuzz target: an arbitrary byte string decoded as a WAL record batch (DecodeBatch); a batch
// that decodes must encode back to one that decodes to the same records.
// Input: the batch payload.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "wal/record_batch.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Record> records;
  Status s = wal::DecodeBatch(fuzz::AsView(data, size), &records);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == StatusCode::kDataLoss && !s.message().empty());
    return 0;
  }
  if (records.empty()) return 0;
  std::string again;
  wal::EncodeBatch(records.front().tenant, records, &again);
  wal::SetBatchBaseSeq(again.data(), records.front().seq);
  std::vector<Record> back;
  FUZZ_CHECK(wal::DecodeBatch(again, &back).ok());
  FUZZ_CHECK(back == records);
  return 0;
}
