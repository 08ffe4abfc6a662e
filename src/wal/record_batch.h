// The payload of one WAL logical record: one Append batch of one tenant.
//
//   batch  := base_seq:fixed64 tenant:lp count:varint32 record{count}
//   record := ts:varsint64 ingest_ts_delta:varsint64 service:lp host:lp level:uint8
//             trace_id:lp span_id:lp user_id:lp message:lp
//             nfields:varint32 (key:lp value:lp){nfields} flags:varint32
//
// Record i has seq base_seq + i; ingest_ts_delta is ingest_ts - ts. "lp" is a varint32 length
// followed by that many bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::wal {

// Appends the encoding of "records" to "*out". The base seq is written as 0 and set later with
// SetBatchBaseSeq (so that encoding can happen before seqs are assigned). Seqs in "records"
// are ignored; tenants are replaced by "tenant".
void EncodeBatch(std::string_view tenant, const std::vector<Record>& records, std::string* out);

// "batch" must start at the beginning of an EncodeBatch output.
void SetBatchBaseSeq(char* batch, uint64_t base_seq);

// Decodes a batch, appending its records to "*out" with seq and tenant filled in.
// Errors: DataLoss naming the field that did not decode.
Status DecodeBatch(std::string_view batch, std::vector<Record>* out);

}  // namespace sawmill::wal
