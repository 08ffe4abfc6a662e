// Admission of requests against a server-wide memory budget (docs/operations.md "Memory").
// A request reserves what it will hold before the server holds it: its body as received (from
// Content-Length, or as chunks arrive), then, once decoded, an estimate of the decoded body and
// the records made of it. A request that does not fit now is answered 429 with Retry-After; one
// that could never fit is answered 413. Refusals are counted in
// sawmill_ingest_rejected_total{reason} and logged at most once per 10 s.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace sawmill::http {

// Bytes that requests in flight may hold at once. Thread-safe.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  uint64_t limit() const { return limit_; }
  uint64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  // Takes "bytes" when they fit under the limit; false (nothing taken) otherwise.
  bool TryAcquire(uint64_t bytes);
  void Release(uint64_t bytes);

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> in_use_{0};
};

// What one request holds of a MemoryBudget; given back when reset or destroyed. Move-only, not
// thread-safe (one request is handled by one thread at a time).
class Reservation {
 public:
  Reservation() = default;
  explicit Reservation(MemoryBudget* budget) : budget_(budget) {}
  ~Reservation() { Reset(); }
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  // Holds at least "bytes" (never shrinks). False when the budget has no room for the growth;
  // what was held before stays held. Always true without a budget.
  bool GrowTo(uint64_t bytes);
  void Reset();
  uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

// Estimated peak bytes of handling one ingest request: the body as received, the decoded body,
// the records (a Record's fixed part and allocator overhead per line plus their text, about the
// decoded size again) and the write-ahead-log encoding of the batch (about the decoded size).
// "document" bodies (protobuf, one JSON document) are parsed into message objects or a JSON
// tree first, which take several times their encoded size: they count kProtobufExpansion times
// their decoded size instead of per line.
inline constexpr uint64_t kBytesPerLine = 400;
inline constexpr uint64_t kProtobufExpansion = 8;
uint64_t EstimateRequestBytes(uint64_t received, uint64_t decoded, uint64_t lines, bool document);

// Counts one refused request in sawmill_ingest_rejected_total{reason} and logs "message" with
// spdlog, at most once per 10 s (with the number of refusals not logged meanwhile). Reasons:
// "max_decoded_body", "max_request_lines", "ingest_memory" (no room now, 429),
// "ingest_memory_request" (the request alone is over the budget, 413), "memtables" (memtables
// full, 429).
void CountIngestRejected(std::string_view reason, const std::string& message);

// Sets the sawmill_ingest_memory_bytes gauge from "budget".
void PublishBudget(const MemoryBudget& budget);

// "12 MiB", "640 KiB", "100 bytes": for messages.
std::string HumanSize(uint64_t bytes);

}  // namespace sawmill::http
