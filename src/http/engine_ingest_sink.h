// The ingest pipeline's WAL stage over the storage engine: Engine::Append (durable when it
// returns OK). What happens after the acknowledgement (live tail, metrics) is the pipeline's
// listeners' business (ingest/pipeline.h). Thread-safe.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "ingest/ingest_sink.h"
#include "storage/engine.h"

namespace sawmill::http {

class EngineIngestSink final : public ingest::IngestSink {
 public:
  // The engine may be set later (it opens after the server starts listening); until it is set,
  // Ingest returns Unavailable. It must outlive the sink's last Ingest call.
  EngineIngestSink() = default;
  void SetEngine(storage::Engine* engine) { engine_.store(engine, std::memory_order_release); }
  // After this, Ingest returns Unavailable (server stopping).
  void Stop() { stopping_.store(true, std::memory_order_release); }

  // Errors: Unavailable (engine not open yet, server stopping, WAL not writable).
  Status Ingest(const std::string& tenant, std::string_view protocol,
                std::vector<Record>* records) override;
  // Ingest, remembering "key" with the batch (storage::Engine::AppendIdempotent); an empty
  // batch is stored too, for its key. Errors: as Ingest; AlreadyExists when the key is known
  // (look it up with FindIdempotencyKey), nothing stored.
  Status IngestIdempotent(const std::string& tenant, std::string_view protocol,
                          std::vector<Record>* records, const ingest::BatchKey& key) override;
  // nullopt also while the engine is not open.
  std::optional<storage::IdempotencyKey> FindIdempotencyKey(const std::string& tenant,
                                                            std::string_view key) const;

 private:
  // "key": null for Ingest.
  Status Store(const std::string& tenant, std::vector<Record>* records,
               const storage::IdempotencyKey* key);

  std::atomic<storage::Engine*> engine_{nullptr};
  std::atomic<bool> stopping_{false};
};

}  // namespace sawmill::http
