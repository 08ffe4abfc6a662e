// POSTs batches to {server}/api/v1/ingest with libcurl (one connection, kept alive).
//
// Not thread-safe: one sender per shipping thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace sawmill::agent {

// How the sender checks an https:// server (docs/agent.md "TLS"): its certificate must chain to
// a CA in ca_file (PEM; empty: the system's CAs) and name the URL's host, unless
// insecure_skip_verify (logged as a warning). cert_file and key_file: the agent's own
// certificate, for a server that asks for one (mTLS).
struct SenderTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
};

struct SendResult {
  long http_status = 0;        // 0: no answer (connection refused, timeout, ...)
  std::string error;           // transport error or the answer's body (first KiB)
  int64_t retry_after_s = -1;  // from a Retry-After header in seconds, or -1
};

class HttpSender {
 public:
  // "*abort" (may be null) becoming true ends a request in progress (the batch stays spooled).
  HttpSender(const std::string& server, const std::string& token, int64_t timeout_ns,
             const std::atomic<bool>* abort = nullptr, SenderTls tls = {});
  ~HttpSender();

  // Sends a zstd-compressed NDJSON body with the given Idempotency-Key.
  SendResult Send(const std::string& body, const std::string& idempotency_key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::agent
