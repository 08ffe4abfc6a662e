// The payload of one WAL logical record: one Append batch of one tenant, optionally carrying the
// Idempotency-Key the batch was sent with. Format and versions: docs/format/wal.md.
//
//   batch_v2 := base_seq:fixed64 marker:varint32(0xFFFFFFFF) version:uint8(2) tenant:lp
//               flags:varint32 [key] count:varint32 record{count}
//   key      := key:lp body_hash:fixed64 created_ns:fixed64 answer:lp   (when flags bit 0)
//   batch_v1 := base_seq:fixed64 tenant:lp count:varint32 record{count}
//   record   := ts:varsint64 ingest_ts_delta:varsint64 service:lp host:lp level:uint8
//               trace_id:lp span_id:lp user_id:lp message:lp
//               nfields:varint32 (key:lp value:lp){nfields} flags:varint32
//
// Record i has seq base_seq + i; ingest_ts_delta is ingest_ts - ts. "lp" is a varint32 length
// followed by that many bytes. Version 1 (no marker) is what WAL files written before keys were
// persisted hold; it still decodes. The marker is a tenant length of 4 GiB, which no version 1
// payload can hold, so that a reader of version 1 rejects a version 2 payload as truncated
// instead of misreading it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::wal {

inline constexpr uint8_t kBatchVersion = 2;

// The Idempotency-Key a batch was sent with, kept with the batch so that the key survives a
// crash. "answer" is opaque here (the front door that took the batch decides what it holds).
struct BatchIdempotency {
  std::string key;
  uint64_t body_hash = 0;
  int64_t created_ns = 0;  // when the batch was accepted (wall clock)
  std::string answer;

  friend bool operator==(const BatchIdempotency&, const BatchIdempotency&) = default;
};

// What DecodeBatch read besides the records.
struct BatchHeader {
  uint8_t version = 0;  // 1 or 2
  uint64_t base_seq = 0;
  std::string tenant;
  uint32_t count = 0;
  std::optional<BatchIdempotency> idempotency;
};

// Appends the (version 2) encoding of "records" to "*out". The base seq is written as 0 and set
// later with SetBatchBaseSeq (so that encoding can happen before seqs are assigned). Seqs in
// "records" are ignored; tenants are replaced by "tenant". "idempotency" may be null.
void EncodeBatch(std::string_view tenant, const std::vector<Record>& records, std::string* out,
                 const BatchIdempotency* idempotency = nullptr);

// "batch" must start at the beginning of an EncodeBatch output.
void SetBatchBaseSeq(char* batch, uint64_t base_seq);

// Decodes a batch of either version, appending its records to "*out" with seq and tenant filled
// in, and filling "*header" when it is not null.
// Errors: DataLoss naming the field that did not decode (then nothing is appended).
Status DecodeBatch(std::string_view batch, std::vector<Record>* out, BatchHeader* header = nullptr);

}  // namespace sawmill::wal
