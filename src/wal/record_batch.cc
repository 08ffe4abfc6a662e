#include "wal/record_batch.h"

#include "common/coding.h"

namespace sawmill::wal {

namespace {

// A version 1 payload has its tenant length here; this value (4 GiB) never occurs in one.
constexpr std::string_view kVersionMarker("\xff\xff\xff\xff\x0f", 5);
constexpr uint32_t kFlagIdempotencyKey = 1;

}  // namespace

void EncodeBatch(std::string_view tenant, const std::vector<Record>& records, std::string* out,
                 const BatchIdempotency* idempotency) {
  size_t estimate = 32 + tenant.size();
  if (idempotency != nullptr) {
    estimate += 32 + idempotency->key.size() + idempotency->answer.size();
  }
  for (const Record& r : records) {
    estimate += 40 + r.service.size() + r.host.size() + r.trace_id.size() + r.span_id.size() +
                r.user_id.size() + r.message.size();
    for (const auto& [k, v] : r.fields) estimate += 10 + k.size() + v.size();
  }
  out->reserve(out->size() + estimate);
  PutFixed64(out, 0);
  out->append(kVersionMarker);
  out->push_back(static_cast<char>(kBatchVersion));
  PutLengthPrefixed(out, tenant);
  PutVarint32(out, idempotency != nullptr ? kFlagIdempotencyKey : 0);
  if (idempotency != nullptr) {
    PutLengthPrefixed(out, idempotency->key);
    PutFixed64(out, idempotency->body_hash);
    PutFixed64(out, static_cast<uint64_t>(idempotency->created_ns));
    PutLengthPrefixed(out, idempotency->answer);
  }
  PutVarint32(out, static_cast<uint32_t>(records.size()));
  for (const Record& r : records) {
    PutVarsint64(out, r.ts);
    PutVarsint64(out, static_cast<int64_t>(static_cast<uint64_t>(r.ingest_ts) -
                                           static_cast<uint64_t>(r.ts)));
    PutLengthPrefixed(out, r.service);
    PutLengthPrefixed(out, r.host);
    out->push_back(static_cast<char>(r.level));
    PutLengthPrefixed(out, r.trace_id);
    PutLengthPrefixed(out, r.span_id);
    PutLengthPrefixed(out, r.user_id);
    PutLengthPrefixed(out, r.message);
    PutVarint32(out, static_cast<uint32_t>(r.fields.size()));
    for (const auto& [k, v] : r.fields) {
      PutLengthPrefixed(out, k);
      PutLengthPrefixed(out, v);
    }
    PutVarint32(out, r.flags);
  }
}

void SetBatchBaseSeq(char* batch, uint64_t base_seq) { EncodeFixed64(batch, base_seq); }

namespace {

bool GetString(std::string_view* in, std::string* out) {
  std::string_view v;
  if (!GetLengthPrefixed(in, &v)) return false;
  out->assign(v);
  return true;
}

}  // namespace

Status DecodeBatch(std::string_view batch, std::vector<Record>* out, BatchHeader* header) {
  uint64_t base_seq = 0;
  std::string_view tenant;
  uint32_t count = 0;
  uint8_t version = 1;
  std::optional<BatchIdempotency> idempotency;
  if (!GetFixed64(&batch, &base_seq)) return Status::DataLoss("WAL batch: truncated header");
  if (batch.substr(0, kVersionMarker.size()) == kVersionMarker) {
    batch.remove_prefix(kVersionMarker.size());
    if (batch.empty()) return Status::DataLoss("WAL batch: truncated header");
    version = static_cast<uint8_t>(batch[0]);
    batch.remove_prefix(1);
    if (version != 2) {
      return Status::DataLoss("WAL batch: unknown payload version " + std::to_string(version) +
                              " (written by a newer sawmill?)");
    }
    uint32_t flags = 0;
    if (!GetLengthPrefixed(&batch, &tenant) || !GetVarint32(&batch, &flags)) {
      return Status::DataLoss("WAL batch: truncated header");
    }
    if ((flags & ~kFlagIdempotencyKey) != 0) {
      return Status::DataLoss("WAL batch: unknown header flags " + std::to_string(flags));
    }
    if ((flags & kFlagIdempotencyKey) != 0) {
      BatchIdempotency& key = idempotency.emplace();
      uint64_t created = 0;
      if (!GetString(&batch, &key.key) || !GetFixed64(&batch, &key.body_hash) ||
          !GetFixed64(&batch, &created) || !GetString(&batch, &key.answer)) {
        return Status::DataLoss("WAL batch: truncated Idempotency-Key");
      }
      key.created_ns = static_cast<int64_t>(created);
    }
  }
  if ((version == 1 && !GetLengthPrefixed(&batch, &tenant)) || !GetVarint32(&batch, &count)) {
    return Status::DataLoss("WAL batch: truncated header");
  }
  // Each record takes at least 11 bytes: bound the reservation by what the input can hold.
  if (count > batch.size() / 11 + 1) {
    return Status::DataLoss("WAL batch: record count " + std::to_string(count) +
                            " larger than the batch");
  }
  const size_t first = out->size();
  out->reserve(first + count);
  for (uint32_t i = 0; i < count; ++i) {
    Record& r = out->emplace_back();
    r.seq = base_seq + i;
    r.tenant.assign(tenant);
    int64_t delta = 0;
    uint32_t nfields = 0;
    bool ok = GetVarsint64(&batch, &r.ts) && GetVarsint64(&batch, &delta) &&
              GetString(&batch, &r.service) && GetString(&batch, &r.host) && !batch.empty();
    if (ok) {
      uint8_t level = static_cast<uint8_t>(batch[0]);
      batch.remove_prefix(1);
      ok = level < kLevelCount;
      r.level = static_cast<Level>(level);
    }
    ok = ok && GetString(&batch, &r.trace_id) && GetString(&batch, &r.span_id) &&
         GetString(&batch, &r.user_id) && GetString(&batch, &r.message) &&
         GetVarint32(&batch, &nfields) && nfields <= batch.size() / 2;
    if (ok) {
      r.fields.resize(nfields);
      for (auto& [k, v] : r.fields) {
        if (!GetString(&batch, &k) || !GetString(&batch, &v)) {
          ok = false;
          break;
        }
      }
    }
    ok = ok && GetVarint32(&batch, &r.flags);
    if (!ok) {
      out->resize(first);
      return Status::DataLoss("WAL batch: record " + std::to_string(i) + " of " +
                              std::to_string(count) + " does not decode");
    }
    r.ingest_ts = static_cast<int64_t>(static_cast<uint64_t>(r.ts) + static_cast<uint64_t>(delta));
  }
  if (!batch.empty()) {
    out->resize(first);
    return Status::DataLoss("WAL batch: " + std::to_string(batch.size()) + " trailing bytes");
  }
  if (header != nullptr) {
    header->version = version;
    header->base_seq = base_seq;
    header->tenant.assign(tenant);
    header->count = count;
    header->idempotency = std::move(idempotency);
  }
  return Status::OK();
}

}  // namespace sawmill::wal
