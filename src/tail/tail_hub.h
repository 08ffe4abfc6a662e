// CONTRACT: the live-tail fan-out. Ingest publishes every acknowledged batch (after the WAL
// sync); each session has its compiled filter and a bounded queue. A slow session loses lines
// (counted, reported as {"dropped":N}) and never slows ingestion or other sessions.
// The tail owner implements it; the HTTP server drives sessions over WebSocket or SSE.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "query/query_engine.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::tail {

// What a session's consumer takes from its queue.
struct TailEvent {
  std::vector<Record> records;  // matching records, in ingest order
  uint64_t dropped = 0;         // lines lost since the last event because the queue was full
  // Things the session should know that are not lines, e.g. "lines may be missing from node
  // X" when the feed of another cluster node broke (docs/cluster.md "Live tail").
  std::vector<std::string> notices;
};

class TailSession {
 public:
  virtual ~TailSession() = default;
  // Takes what is queued (up to "max_records"), waiting up to "timeout_ms" for something.
  // Returns false when the session was closed (hub shutting down).
  virtual bool Next(TailEvent* event, size_t max_records, int timeout_ms) = 0;
  // Registers a callback run (on the hub's dispatch thread, so it must only post work elsewhere)
  // whenever the queue goes from empty to non-empty, for event-driven consumers.
  virtual void SetNotify(std::function<void()> notify) = 0;
  virtual void Close() = 0;
};

struct TailHubOptions {
  size_t max_sessions = 2000;
  size_t queue_records = 10000;            // per session
  size_t queue_bytes = 8ull << 20;         // per session (Record::ApproximateSize)
  size_t total_queue_bytes = 64ull << 20;  // all sessions together: clients that never read
                                           // cannot make the hub hold more than this
};

// Thread-safe.
class TailHub {
 public:
  virtual ~TailHub() = default;
  static std::unique_ptr<TailHub> Create(const TailHubOptions& options);

  // Errors: InvalidArgument (query syntax), ResourceExhausted (max_sessions reached).
  virtual Result<std::shared_ptr<TailSession>> Subscribe(const std::string& tenant,
                                                         const std::string& query) = 0;
  // Called by ingest after the WAL sync. Copies the batch into the hub's bounded dispatch queue
  // and returns: the filters run on the hub's own thread, so ingestion never pays
  // O(sessions x records). A batch reaches exactly the sessions open when Publish was called.
  // When the dispatch queue is full the batch is not matched, and every session of the tenant is
  // told it may have missed that many lines (counted as dropped). Never blocks.
  virtual void Publish(const std::string& tenant, const std::vector<Record>& records) = 0;
  // Waits until every batch published so far is in its sessions' queues (tests, shutdown).
  virtual void Drain() = 0;
  // Cluster (docs/cluster.md "Live tail"): every open session of "tenant" ("": of every tenant)
  // gets "text" as a notice, e.g. that lines of another node may be missing (at most 16 wait
  // per session; past that the oldest waiting one is replaced).
  virtual void Notice(const std::string& tenant, const std::string& text) = 0;
  virtual size_t sessions() const = 0;
  // Closes every session (server shutdown).
  virtual void Shutdown() = 0;
};

}  // namespace sawmill::tail
