#include "http/engine_ingest_sink.h"

#include <map>

#include "http/http_metrics.h"

namespace sawmill::http {

Status EngineIngestSink::Ingest(const std::string& tenant, std::string_view protocol,
                                std::vector<Record>* records) {
  return Store(tenant, protocol, records, nullptr);
}

Status EngineIngestSink::IngestIdempotent(const std::string& tenant, std::string_view protocol,
                                          std::vector<Record>* records,
                                          const storage::IdempotencyKey& key) {
  return Store(tenant, protocol, records, &key);
}

std::optional<storage::IdempotencyKey> EngineIngestSink::FindIdempotencyKey(
    const std::string& tenant, std::string_view key) const {
  storage::Engine* engine = engine_.load(std::memory_order_acquire);
  if (engine == nullptr) return std::nullopt;
  return engine->FindIdempotencyKey(tenant, key);
}

Status EngineIngestSink::Store(const std::string& tenant, std::string_view protocol,
                               std::vector<Record>* records, const storage::IdempotencyKey* key) {
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
  if (tail::TailHub* hub = hub_.load(std::memory_order_acquire)) hub->Publish(tenant, *records);

  uint64_t bytes = 0;
  std::map<uint32_t, uint64_t> by_flags;
  for (const Record& record : *records) {
    bytes += record.message.size();
    for (const auto& [key, value] : record.fields) bytes += key.size() + value.size();
    if (record.flags != 0) ++by_flags[record.flags];
  }
  auto& metrics = HttpMetrics::Get();
  metrics.CountIngested(tenant, protocol, records->size(), bytes);
  for (const auto& [flags, count] : by_flags) metrics.CountFlagged(flags, count);
  return Status::OK();
}

}  // namespace sawmill::http
