// Serialises ingest requests that carry the same Idempotency-Key (per tenant): while one is being
// stored, a retry of it waits here, then finds the key in the storage engine and gets the first
// answer. The keys themselves, and the answers, are kept by the storage engine
// (storage::Engine::AppendIdempotent), with the batch in the WAL and later in the catalog, so
// they survive a crash and a restart (docs/api.md). This holds only the keys of requests in
// flight, so its memory is bounded by the number of connections. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "common/mutex.h"
#include "sawmill/status.h"

namespace sawmill::http {

class IdempotencyGate {
 public:
  // Takes "key" of "tenant" for this request, waiting up to "wait_ms" while another request
  // holds it. Errors: Unavailable when the other request still holds it after "wait_ms".
  Status Acquire(std::string_view tenant, std::string_view key, int wait_ms = 60'000);
  // Gives back a key taken by Acquire.
  void Release(std::string_view tenant, std::string_view key);

  size_t held() const;

 private:
  static std::string FullKey(std::string_view tenant, std::string_view key);

  mutable Mutex mu_;
  CondVar cv_;
  std::unordered_set<std::string> held_ GUARDED_BY(mu_);
};

// Acquires in the constructor (when "key" is not empty) and releases in the destructor.
class IdempotencyHold {
 public:
  IdempotencyHold(IdempotencyGate* gate, std::string tenant, std::string key, int wait_ms = 60'000)
      : gate_(gate), tenant_(std::move(tenant)), key_(std::move(key)) {
    if (!key_.empty()) status_ = gate_->Acquire(tenant_, key_, wait_ms);
  }
  ~IdempotencyHold() {
    if (!key_.empty() && status_.ok()) gate_->Release(tenant_, key_);
  }
  IdempotencyHold(const IdempotencyHold&) = delete;
  IdempotencyHold& operator=(const IdempotencyHold&) = delete;
  const Status& status() const { return status_; }

 private:
  IdempotencyGate* gate_;
  std::string tenant_;
  std::string key_;
  Status status_;
};

}  // namespace sawmill::http
