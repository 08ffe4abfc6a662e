// The server's metric families on the process-wide registry (common/metrics.h). Names and
// labels are listed in docs/operations.md. Thread-safe; cheap enough for per-request use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sawmill/record.h"

namespace sawmill::http {

class HttpMetrics {
 public:
  // The process-wide instance, registered on first use.
  static HttpMetrics& Get();

  // One answered request: "route" is the route pattern (bounded cardinality).
  void CountRequest(std::string_view route, int code, double seconds);
  // One acknowledged batch of "lines" records holding "bytes" bytes of text.
  void CountIngested(const std::string& tenant, std::string_view protocol, uint64_t lines,
                     uint64_t bytes);
  // Counts each flag bit of "flags" once per record: call with the OR of a record's flags.
  void CountFlagged(uint32_t flags, uint64_t records);
  // "kind": "filter", "pipe" or "context".
  void ObserveQuery(std::string_view kind, double seconds, bool cache_hit);
  void SetTailConnections(std::string_view transport, int64_t delta);
  // A connection refused at accept: "max_connections" or "per_address".
  void CountConnectionRefused(std::string_view reason);
  // A connection closed by a timeout: "idle" (no request began), "request" (a request did
  // not arrive whole within read_timeout; what arrived of it is discarded) or "handshake" (no
  // TLS handshake within tls_handshake_timeout).
  void CountConnectionTimeout(std::string_view phase);
  // A request refused before its handler: "host" (Host not accepted) or "origin" (cross-origin).
  void CountRequestRefused(std::string_view reason);
  void SetReady(bool ready);

 private:
  HttpMetrics();
  struct Impl;
  Impl* impl_;  // never freed: the registry lives for the whole process
};

}  // namespace sawmill::http
