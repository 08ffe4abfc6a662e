// The IngestSink every protocol hands its records to: Engine::Append (durable when it returns
// OK), then TailHub::Publish, then metrics. Thread-safe.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "http/router.h"
#include "storage/engine.h"
#include "tail/tail_hub.h"

namespace sawmill::http {

class EngineIngestSink final : public IngestSink {
 public:
  // Both may be set later (the engine opens after the server starts listening); until the
  // engine is set, Ingest returns Unavailable. Both must outlive the sink's last Ingest call.
  EngineIngestSink() = default;
  void SetEngine(storage::Engine* engine) { engine_.store(engine, std::memory_order_release); }
  void SetTailHub(tail::TailHub* hub) { hub_.store(hub, std::memory_order_release); }
  // After this, Ingest returns Unavailable (server stopping).
  void Stop() { stopping_.store(true, std::memory_order_release); }

  // Errors: Unavailable (engine not open yet, server stopping, WAL not writable).
  Status Ingest(const std::string& tenant, std::string_view protocol,
                std::vector<Record>* records) override;
  // Ingest, remembering "key" with the batch (storage::Engine::AppendIdempotent); an empty
  // batch is stored too, for its key. Errors: as Ingest; AlreadyExists when the key is known
  // (look it up with FindIdempotencyKey), nothing stored.
  Status IngestIdempotent(const std::string& tenant, std::string_view protocol,
                          std::vector<Record>* records, const storage::IdempotencyKey& key);
  // nullopt also while the engine is not open.
  std::optional<storage::IdempotencyKey> FindIdempotencyKey(const std::string& tenant,
                                                            std::string_view key) const;

 private:
  // "key": null for Ingest.
  Status Store(const std::string& tenant, std::string_view protocol, std::vector<Record>* records,
               const storage::IdempotencyKey* key);

  std::atomic<storage::Engine*> engine_{nullptr};
  std::atomic<tail::TailHub*> hub_{nullptr};
  std::atomic<bool> stopping_{false};
};

}  // namespace sawmill::http
