// The live-tail fan-out (contract in tail_hub.h).
//
// Publish reads an immutable snapshot of the sessions (copy-on-write under a mutex held only to
// copy one shared_ptr), filters each record with every session's compiled matcher, and appends
// the matches to that session's bounded queue under the session's own mutex, which its consumer
// holds only to swap records out. A full queue drops the new lines and counts them; nothing on
// the publishing path waits for a consumer.
#include "tail/tail_hub.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

#include "common/metrics.h"

namespace sawmill::tail {

namespace {

// Bound on the bytes one session may hold, whatever its record count (lines can be 256 KiB).
constexpr size_t kMaxQueueBytes = 32 << 20;

struct TailMetrics {
  prometheus::Gauge& sessions;
  prometheus::Counter& dropped;
  prometheus::Counter& delivered;
  prometheus::Counter& refused;
};

TailMetrics& Metrics() {
  static TailMetrics metrics{
      prometheus::BuildGauge()
          .Name("sawmill_tail_sessions")
          .Help("Open live-tail sessions")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildCounter()
          .Name("sawmill_tail_dropped_lines_total")
          .Help("Matching lines a live-tail session lost because its client read too slowly")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildCounter()
          .Name("sawmill_tail_queued_lines_total")
          .Help("Matching lines queued for live-tail sessions")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildCounter()
          .Name("sawmill_tail_refused_sessions_total")
          .Help("Live-tail subscriptions refused because the session limit was reached")
          .Register(MetricsRegistry())
          .Add({}),
  };
  return metrics;
}

class MatchAll final : public query::Matcher {
 public:
  bool Matches(const Record&) const override { return true; }
};

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// One subscription's state, shared by the hub (which publishes into it) and the handle the
// subscriber holds. Thread-safe.
class SessionState {
 public:
  SessionState(std::string tenant, std::shared_ptr<const query::Matcher> matcher, size_t capacity)
      : tenant_(std::move(tenant)), matcher_(std::move(matcher)), capacity_(capacity) {}

  const std::string& tenant() const { return tenant_; }
  const query::Matcher& matcher() const { return *matcher_; }

  // Appends what fits; counts the rest as dropped. Never waits for the consumer.
  void Push(std::vector<const Record*>& matches) {
    std::function<void()> notify;
    uint64_t dropped_now = 0;
    size_t queued_now = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      const bool was_empty = queue_.empty() && dropped_ == 0;
      for (const Record* r : matches) {
        const size_t size = r->ApproximateSize();
        if (queue_.size() >= capacity_ || queue_bytes_ + size > kMaxQueueBytes) {
          ++dropped_now;
          continue;
        }
        queue_.push_back(*r);
        queue_bytes_ += size;
        ++queued_now;
      }
      dropped_ += dropped_now;
      if (was_empty && (!queue_.empty() || dropped_ > 0)) notify = notify_;
    }
    if (dropped_now > 0) Metrics().dropped.Increment(static_cast<double>(dropped_now));
    if (queued_now > 0) Metrics().delivered.Increment(static_cast<double>(queued_now));
    cv_.notify_all();
    if (notify) notify();
  }

  bool Next(TailEvent* event, size_t max_records, int timeout_ms) {
    event->records.clear();
    event->dropped = 0;
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [&] { return closed_ || !queue_.empty() || dropped_ > 0; };
    if (!ready() && timeout_ms > 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
    }
    if (closed_) return false;
    const size_t n = std::min(max_records == 0 ? queue_.size() : max_records, queue_.size());
    event->records.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      queue_bytes_ -= queue_.front().ApproximateSize();
      event->records.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    event->dropped = dropped_;
    dropped_ = 0;
    return true;
  }

  void SetNotify(std::function<void()> notify) {
    bool pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      notify_ = notify;
      pending = !queue_.empty() || dropped_ > 0;
    }
    // Lines that arrived before the callback was set must not wait for the next batch.
    if (pending && notify) notify();
  }

  // Returns true the first time.
  bool Close() {
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      closed_ = true;
      queue_.clear();
      queue_bytes_ = 0;
      notify = notify_;
    }
    cv_.notify_all();
    if (notify) notify();  // wakes an event-driven consumer so that it sees the close
    return true;
  }

 private:
  const std::string tenant_;
  const std::shared_ptr<const query::Matcher> matcher_;
  const size_t capacity_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Record> queue_;      // GUARDED_BY(mu_)
  size_t queue_bytes_ = 0;        // GUARDED_BY(mu_)
  uint64_t dropped_ = 0;          // GUARDED_BY(mu_)
  bool closed_ = false;           // GUARDED_BY(mu_)
  std::function<void()> notify_;  // GUARDED_BY(mu_)
};

using Snapshot = std::vector<std::shared_ptr<SessionState>>;

// The registry of sessions, shared with the handles so that a handle may outlive the hub.
class Registry {
 public:
  explicit Registry(size_t max_sessions)
      : max_sessions_(max_sessions), sessions_(std::make_shared<const Snapshot>()) {}

  Status Add(const std::shared_ptr<SessionState>& session) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return Status::Unavailable("live tail: the server is shutting down");
    if (sessions_->size() >= max_sessions_) {
      Metrics().refused.Increment();
      return Status::ResourceExhausted(
          "live tail: the limit of " + std::to_string(max_sessions_) +
          " concurrent sessions is reached; close another tail or raise the server's tail "
          "session limit");
    }
    auto next = std::make_shared<Snapshot>(*sessions_);
    next->push_back(session);
    sessions_ = std::move(next);
    Metrics().sessions.Increment();
    return Status::OK();
  }

  void Remove(const SessionState* session) {
    std::lock_guard<std::mutex> lock(mu_);
    auto next = std::make_shared<Snapshot>();
    next->reserve(sessions_->size());
    for (const auto& s : *sessions_) {
      if (s.get() != session) next->push_back(s);
    }
    if (next->size() != sessions_->size()) Metrics().sessions.Decrement();
    sessions_ = std::move(next);
  }

  std::shared_ptr<const Snapshot> Sessions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_;
  }

  // Marks the registry closed and returns the sessions that were open.
  std::shared_ptr<const Snapshot> ShutDown() {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    return sessions_;
  }

 private:
  const size_t max_sessions_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> sessions_;  // GUARDED_BY(mu_); immutable once published
  bool shut_down_ = false;                    // GUARDED_BY(mu_)
};

// What Subscribe returns: closing it (or dropping the last reference) ends the subscription.
class SessionHandle final : public TailSession {
 public:
  SessionHandle(std::shared_ptr<SessionState> state, std::weak_ptr<Registry> registry)
      : state_(std::move(state)), registry_(std::move(registry)) {}
  ~SessionHandle() override { Close(); }

  bool Next(TailEvent* event, size_t max_records, int timeout_ms) override {
    return state_->Next(event, max_records, timeout_ms);
  }
  void SetNotify(std::function<void()> notify) override { state_->SetNotify(std::move(notify)); }
  void Close() override {
    state_->Close();
    if (auto registry = registry_.lock()) registry->Remove(state_.get());
  }

 private:
  std::shared_ptr<SessionState> state_;
  std::weak_ptr<Registry> registry_;
};

class TailHubImpl final : public TailHub {
 public:
  explicit TailHubImpl(const TailHubOptions& options)
      : options_(options), registry_(std::make_shared<Registry>(options.max_sessions)) {
    Metrics();  // register the families even before the first session
  }
  ~TailHubImpl() override { Shutdown(); }

  Result<std::shared_ptr<TailSession>> Subscribe(const std::string& tenant,
                                                 const std::string& query) override {
    std::shared_ptr<const query::Matcher> matcher;
    if (IsBlank(query)) {
      matcher = std::make_shared<MatchAll>();
    } else {
      ASSIGN_OR_RETURN(matcher, query::CompileFilter(query));
    }
    auto state = std::make_shared<SessionState>(tenant, std::move(matcher),
                                                std::max<size_t>(1, options_.queue_records));
    RETURN_IF_ERROR(registry_->Add(state));
    return std::shared_ptr<TailSession>(std::make_shared<SessionHandle>(state, registry_));
  }

  void Publish(const std::string& tenant, const std::vector<Record>& records) override {
    if (records.empty()) return;
    std::shared_ptr<const Snapshot> sessions = registry_->Sessions();
    std::vector<const Record*> matches;
    for (const auto& session : *sessions) {
      if (session->tenant() != tenant) continue;
      matches.clear();
      for (const Record& record : records) {
        if (session->matcher().Matches(record)) matches.push_back(&record);
      }
      if (!matches.empty()) session->Push(matches);
    }
  }

  size_t sessions() const override { return registry_->Sessions()->size(); }

  void Shutdown() override {
    std::shared_ptr<const Snapshot> open = registry_->ShutDown();
    for (const auto& session : *open) {
      session->Close();
      registry_->Remove(session.get());
    }
  }

 private:
  const TailHubOptions options_;
  std::shared_ptr<Registry> registry_;
};

}  // namespace

std::unique_ptr<TailHub> TailHub::Create(const TailHubOptions& options) {
  return std::make_unique<TailHubImpl>(options);
}

}  // namespace sawmill::tail
