// Fuzz target: an arbitrary byte string decoded as a WAL record batch (DecodeBatch, either
// payload version); a batch that decodes must encode back (as version 2) to one that decodes to
// the same records, tenant and Idempotency-Key.
// Input: the batch payload.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "wal/record_batch.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Record> records;
  wal::BatchHeader header;
  Status s = wal::DecodeBatch(fuzz::AsView(data, size), &records, &header);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == StatusCode::kDataLoss && !s.message().empty());
    return 0;
  }
  FUZZ_CHECK(records.size() == header.count);
  std::string again;
  wal::EncodeBatch(header.tenant, records, &again,
                   header.idempotency ? &*header.idempotency : nullptr);
  wal::SetBatchBaseSeq(again.data(), header.base_seq);
  std::vector<Record> back;
  wal::BatchHeader header_back;
  FUZZ_CHECK(wal::DecodeBatch(again, &back, &header_back).ok());
  FUZZ_CHECK(back == records);
  FUZZ_CHECK(header_back.version == wal::kBatchVersion && header_back.tenant == header.tenant);
  FUZZ_CHECK(header_back.base_seq == header.base_seq);
  FUZZ_CHECK(header_back.idempotency == header.idempotency);
  return 0;
}
