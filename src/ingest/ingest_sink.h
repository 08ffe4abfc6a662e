// The WAL stage of the ingest pipeline (pipeline.h): where a normalised, admitted batch is handed
// to storage. The server implements it over storage::Engine (src/http/engine_ingest_sink.h);
// tests implement it in memory. Every front door reaches it only through ingest::Pipeline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

// What a batch that must be stored at most once carries (native ingestion's Idempotency-Key).
struct BatchKey {
  std::string key;         // as the client sent it (the tenant is separate)
  uint64_t body_hash = 0;  // identifies the batch's content: a retry has the same
  std::string answer;      // what the client was told (opaque to storage; keep it small)
};

class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // Appends the batch to the write-ahead log: durable when it returns OK. "protocol" names the
  // front door ("native", "elasticsearch", "loki", "otlp", "syslog"). Thread-safe.
  // Errors: Unavailable (disk full, starting, stopping: retry), ResourceExhausted (retry later),
  // InvalidArgument (the batch can never be stored).
  virtual Status Ingest(const std::string& tenant, std::string_view protocol,
                        std::vector<Record>* records) = 0;
  // As Ingest, remembering "key" with the batch; an empty batch is stored too, for its key.
  // Errors: as Ingest; AlreadyExists when the key is known (nothing stored). The default
  // implementation answers FailedPrecondition: the sink keeps no keys.
  virtual Status IngestIdempotent(const std::string& tenant, std::string_view protocol,
                                  std::vector<Record>* records, const BatchKey& key);
};

}  // namespace sawmill::ingest
