#include "http/engine_ingest_sink.h"

namespace sawmill::http {

Status EngineIngestSink::Ingest(const std::string& tenant, std::string_view,
                                std::vector<Record>* records) {
  return Store(tenant, records, nullptr);
}

Status EngineIngestSink::IngestIdempotent(const std::string& tenant, std::string_view,
                                          std::vector<Record>* records,
                                          const ingest::BatchKey& key) {
  storage::IdempotencyKey stored;
  stored.key = key.key;
  stored.body_hash = key.body_hash;
  stored.answer = key.answer;
  return Store(tenant, records, &stored);
}

std::optional<storage::IdempotencyKey> EngineIngestSink::FindIdempotencyKey(
    const std::string& tenant, std::string_view key) const {
  storage::Engine* engine = engine_.load(std::memory_order_acquire);
  if (engine == nullptr) return std::nullopt;
  return engine->FindIdempotencyKey(tenant, key);
}

Status EngineIngestSink::Store(const std::string& tenant, std::vector<Record>* records,
                               const storage::IdempotencyKey* key) {
  if (stopping_.load(std::memory_order_acquire)) {
    return Status::Unavailable("the server is stopping; retry against another instance or later");
  }
  storage::Engine* engine = engine_.load(std::memory_order_acquire);
  if (engine == nullptr) {
    return Status::Unavailable("the server is starting (replaying the write-ahead log)");
  }
  if (records->empty() && key == nullptr) return Status::OK();
  Status status = key != nullptr ? engine->AppendIdempotent(tenant, records, *key)
                                 : engine->Append(tenant, records);
  if (!status.ok()) {
    // Never acknowledge what is not durable: every failure of the WAL is "retry later".
    if (status.code() != StatusCode::kUnavailable &&
        status.code() != StatusCode::kResourceExhausted &&
        status.code() != StatusCode::kInvalidArgument &&
        status.code() != StatusCode::kAlreadyExists) {
      return Status::Unavailable("write-ahead log: " + status.message());
    }
    return status;
  }
  return Status::OK();
}

}  // namespace sawmill::http
