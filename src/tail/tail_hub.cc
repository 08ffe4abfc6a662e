// The live-tail fan-out (contract in tail_hub.h).
//
// Publish reads an immutable snapshot of the sessions (copy-on-write under a mutex held only to
// copy one shared_ptr) and hands the batch with that snapshot to the hub's dispatch thread
// through a queue bounded in records and bytes. The dispatch thread filters each record with
// every session's compiled matcher and appends the matches to that session's bounded queue under
// the session's own mutex, which its consumer holds only to swap records out. A full session
// queue drops the new lines and counts them; a full dispatch queue drops the batch and tells
// every session of the tenant. Nothing on the publishing path waits for matching or a consumer.
#include "tail/tail_hub.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/metrics.h"
#include "common/mutex.h"

namespace sawmill::tail {

namespace {

// Bounds on what waits for the dispatch thread.
constexpr size_t kMaxPendingRecords = 200'000;
constexpr size_t kMaxPendingBytes = 64 << 20;

struct TailMetrics {
  prometheus::Gauge& sessions;
  prometheus::Counter& dropped;
  prometheus::Counter& delivered;
  prometheus::Counter& refused;
};

TailMetrics& Metrics() {
  static TailMetrics metrics{
      *UnlabelledGauge("sawmill_tail_sessions", "Open live-tail sessions"),
      *UnlabelledCounter(
          "sawmill_tail_dropped_lines_total",
          "Matching lines a live-tail session lost because its client read too slowly"),
      *UnlabelledCounter("sawmill_tail_queued_lines_total",
                         "Matching lines queued for live-tail sessions"),
      *UnlabelledCounter("sawmill_tail_refused_sessions_total",
                         "Live-tail subscriptions refused because the session limit was reached"),
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
  // "total" counts the queued bytes of every session of the hub, bounded by "total_bytes".
  SessionState(std::string tenant, std::shared_ptr<const query::Matcher> matcher, size_t capacity,
               size_t max_bytes, std::shared_ptr<std::atomic<size_t>> total, size_t total_bytes)
      : tenant_(std::move(tenant)),
        matcher_(std::move(matcher)),
        capacity_(capacity),
        max_bytes_(max_bytes),
        total_(std::move(total)),
        total_bytes_(total_bytes) {}
  ~SessionState() { total_->fetch_sub(queue_bytes_, std::memory_order_relaxed); }

  const std::string& tenant() const { return tenant_; }
  const query::Matcher& matcher() const { return *matcher_; }

  // Appends what fits; counts the rest as dropped. Never waits for the consumer.
  void Push(const std::vector<const Record*>& matches) {
    std::function<void()> notify;
    uint64_t dropped_now = 0;
    size_t queued_now = 0;
    {
      MutexLock lock(&mu_);
      if (closed_) return;
      const bool was_empty = queue_.empty() && dropped_ == 0;
      for (const Record* r : matches) {
        const size_t size = r->ApproximateSize();
        if (queue_.size() >= capacity_ || queue_bytes_ + size > max_bytes_ ||
            total_->load(std::memory_order_relaxed) + size > total_bytes_) {
          ++dropped_now;
          continue;
        }
        queue_.push_back(*r);
        queue_bytes_ += size;
        total_->fetch_add(size, std::memory_order_relaxed);
        ++queued_now;
      }
      dropped_ += dropped_now;
      if (was_empty && (!queue_.empty() || dropped_ > 0)) notify = notify_;
    }
    if (dropped_now > 0) Metrics().dropped.Increment(static_cast<double>(dropped_now));
    if (queued_now > 0) Metrics().delivered.Increment(static_cast<double>(queued_now));
    cv_.NotifyAll();
    if (notify) notify();
  }

  // Lines this session may have missed without them being matched (the dispatch queue was full).
  void AddDropped(uint64_t lines) {
    std::function<void()> notify;
    {
      MutexLock lock(&mu_);
      if (closed_) return;
      if (queue_.empty() && dropped_ == 0) notify = notify_;
      dropped_ += lines;
    }
    Metrics().dropped.Increment(static_cast<double>(lines));
    cv_.NotifyAll();
    if (notify) notify();
  }

  // A notice for the consumer (TailHub::Notice).
  void AddNotice(const std::string& text) {
    std::function<void()> notify;
    {
      MutexLock lock(&mu_);
      if (closed_) return;
      if (queue_.empty() && dropped_ == 0 && notices_.empty()) notify = notify_;
      if (notices_.size() >= 16) notices_.erase(notices_.begin());
      notices_.push_back(text);
    }
    cv_.NotifyAll();
    if (notify) notify();
  }

  bool Next(TailEvent* event, size_t max_records, int timeout_ms) {
    event->records.clear();
    event->dropped = 0;
    event->notices.clear();
    UniqueLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!closed_ && queue_.empty() && dropped_ == 0 && notices_.empty() && timeout_ms > 0) {
      if (!cv_.WaitUntil(&lock, deadline)) break;
    }
    if (closed_) return false;
    const size_t n = std::min(max_records == 0 ? queue_.size() : max_records, queue_.size());
    event->records.reserve(n);
    size_t taken = 0;
    for (size_t i = 0; i < n; ++i) {
      taken += queue_.front().ApproximateSize();
      event->records.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queue_bytes_ -= taken;
    total_->fetch_sub(taken, std::memory_order_relaxed);
    event->dropped = dropped_;
    dropped_ = 0;
    event->notices = std::move(notices_);
    notices_.clear();
    return true;
  }

  void SetNotify(std::function<void()> notify) {
    bool pending;
    {
      MutexLock lock(&mu_);
      notify_ = notify;
      pending = !queue_.empty() || dropped_ > 0 || !notices_.empty();
    }
    // Lines that arrived before the callback was set must not wait for the next batch.
    if (pending && notify) notify();
  }

  // Returns true the first time.
  bool Close() {
    std::function<void()> notify;
    {
      MutexLock lock(&mu_);
      if (closed_) return false;
      closed_ = true;
      queue_.clear();
      total_->fetch_sub(queue_bytes_, std::memory_order_relaxed);
      queue_bytes_ = 0;
      notify = notify_;
    }
    cv_.NotifyAll();
    if (notify) notify();  // wakes an event-driven consumer so that it sees the close
    return true;
  }

 private:
  const std::string tenant_;
  const std::shared_ptr<const query::Matcher> matcher_;
  const size_t capacity_;
  const size_t max_bytes_;
  const std::shared_ptr<std::atomic<size_t>> total_;
  const size_t total_bytes_;

  Mutex mu_;
  CondVar cv_;
  std::deque<Record> queue_ GUARDED_BY(mu_);
  size_t queue_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
  std::vector<std::string> notices_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  std::function<void()> notify_ GUARDED_BY(mu_);
};

using Snapshot = std::vector<std::shared_ptr<SessionState>>;

// The registry of sessions, shared with the handles so that a handle may outlive the hub.
class Registry {
 public:
  explicit Registry(size_t max_sessions)
      : max_sessions_(max_sessions), sessions_(std::make_shared<const Snapshot>()) {}

  Status Add(const std::shared_ptr<SessionState>& session) {
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    auto next = std::make_shared<Snapshot>();
    next->reserve(sessions_->size());
    for (const auto& s : *sessions_) {
      if (s.get() != session) next->push_back(s);
    }
    if (next->size() != sessions_->size()) Metrics().sessions.Decrement();
    sessions_ = std::move(next);
  }

  std::shared_ptr<const Snapshot> Sessions() const {
    MutexLock lock(&mu_);
    return sessions_;
  }

  // Marks the registry closed and returns the sessions that were open.
  std::shared_ptr<const Snapshot> ShutDown() {
    MutexLock lock(&mu_);
    shut_down_ = true;
    return sessions_;
  }

 private:
  const size_t max_sessions_;
  mutable Mutex mu_;
  std::shared_ptr<const Snapshot> sessions_ GUARDED_BY(mu_);  // immutable once published
  bool shut_down_ GUARDED_BY(mu_) = false;
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
    dispatcher_ = std::thread([this] { DispatchLoop(); });
  }
  ~TailHubImpl() override { Shutdown(); }

  Result<std::shared_ptr<TailSession>> Subscribe(const std::string& tenant,
                                                 const std::string& query) override {
    ASSIGN_OR_RETURN(std::shared_ptr<const query::Matcher> matcher, SharedMatcher(query));
    auto state = std::make_shared<SessionState>(
        tenant, std::move(matcher), std::max<size_t>(1, options_.queue_records),
        options_.queue_bytes, queued_bytes_, options_.total_queue_bytes);
    RETURN_IF_ERROR(registry_->Add(state));
    return std::shared_ptr<TailSession>(std::make_shared<SessionHandle>(state, registry_));
  }

  void Publish(const std::string& tenant, const std::vector<Record>& records) override {
    if (records.empty()) return;
    std::shared_ptr<const Snapshot> sessions = registry_->Sessions();
    if (std::none_of(sessions->begin(), sessions->end(),
                     [&](const auto& s) { return s->tenant() == tenant; })) {
      return;  // nobody is tailing this tenant: no copy, no work
    }
    size_t bytes = 0;
    for (const Record& r : records) bytes += r.ApproximateSize();
    {
      MutexLock lock(&dispatch_mu_);
      if (stopping_) return;
      if (pending_records_ + records.size() <= kMaxPendingRecords &&
          pending_bytes_ + bytes <= kMaxPendingBytes) {
        pending_.push_back(Pending{tenant, std::move(sessions), records, bytes});
        pending_records_ += records.size();
        pending_bytes_ += bytes;
        dispatch_cv_.NotifyOne();
        return;
      }
    }
    // The dispatch thread is behind: this batch is not matched, and every session of the tenant
    // learns that it may have missed that many lines.
    for (const auto& session : *sessions) {
      if (session->tenant() == tenant) session->AddDropped(records.size());
    }
  }

  void Notice(const std::string& tenant, const std::string& text) override {
    std::shared_ptr<const Snapshot> sessions = registry_->Sessions();
    for (const auto& session : *sessions) {
      if (tenant.empty() || session->tenant() == tenant) session->AddNotice(text);
    }
  }

  void Drain() override {
    UniqueLock lock(&dispatch_mu_);
    while ((!pending_.empty() || dispatching_) && !stopped_) idle_cv_.Wait(&lock);
  }

  size_t sessions() const override { return registry_->Sessions()->size(); }

  void Shutdown() override {
    {
      MutexLock lock(&dispatch_mu_);
      stopping_ = true;
    }
    dispatch_cv_.NotifyAll();
    if (dispatcher_.joinable()) dispatcher_.join();
    std::shared_ptr<const Snapshot> open = registry_->ShutDown();
    for (const auto& session : *open) {
      session->Close();
      registry_->Remove(session.get());
    }
  }

 private:
  // Sessions with the same query share one compiled Matcher, so that the dispatch thread
  // evaluates each distinct filter once per record (many on-call engineers tail the same thing).
  Result<std::shared_ptr<const query::Matcher>> SharedMatcher(const std::string& query) {
    MutexLock lock(&matchers_mu_);
    auto it = matchers_.find(query);
    if (it != matchers_.end()) {
      if (auto live = it->second.lock()) return live;
    }
    std::shared_ptr<const query::Matcher> matcher;
    if (IsBlank(query)) {
      matcher = std::make_shared<MatchAll>();
    } else {
      ASSIGN_OR_RETURN(matcher, query::CompileFilter(query));
    }
    // Forget the entries of closed sessions so the map stays bounded by the open sessions.
    if (matchers_.size() >= 2 * options_.max_sessions) {
      std::erase_if(matchers_, [](const auto& entry) { return entry.second.expired(); });
    }
    matchers_[query] = matcher;
    return matcher;
  }

  struct Pending {
    std::string tenant;
    std::shared_ptr<const Snapshot> sessions;  // those open when the batch was published
    std::vector<Record> records;
    size_t bytes = 0;
  };

  void DispatchLoop() {
    std::unordered_map<const query::Matcher*, std::vector<const Record*>> matches_by_filter;
    UniqueLock lock(&dispatch_mu_);
    while (true) {
      while (!stopping_ && pending_.empty()) dispatch_cv_.Wait(&lock);
      if (stopping_) break;
      Pending item = std::move(pending_.front());
      pending_.pop_front();
      dispatching_ = true;
      lock.Unlock();
      matches_by_filter.clear();
      for (const auto& session : *item.sessions) {
        if (session->tenant() != item.tenant) continue;
        auto [slot, fresh] = matches_by_filter.try_emplace(&session->matcher());
        std::vector<const Record*>& matches = slot->second;
        if (fresh) {
          for (const Record& record : item.records) {
            if (session->matcher().Matches(record)) matches.push_back(&record);
          }
        }
        if (!matches.empty()) session->Push(matches);
      }
      lock.Lock();
      dispatching_ = false;
      pending_records_ -= item.records.size();
      pending_bytes_ -= item.bytes;
      if (pending_.empty()) idle_cv_.NotifyAll();
    }
    stopped_ = true;
    pending_.clear();
    idle_cv_.NotifyAll();
  }

  const TailHubOptions options_;
  // Bytes queued in all sessions (bounded by options_.total_queue_bytes); shared with them.
  const std::shared_ptr<std::atomic<size_t>> queued_bytes_ =
      std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<Registry> registry_;

  Mutex matchers_mu_;
  std::unordered_map<std::string, std::weak_ptr<const query::Matcher>> matchers_
      GUARDED_BY(matchers_mu_);

  Mutex dispatch_mu_;
  CondVar dispatch_cv_;  // work arrived or stopping
  CondVar idle_cv_;      // the queue emptied (Drain)
  std::deque<Pending> pending_ GUARDED_BY(dispatch_mu_);
  size_t pending_records_ GUARDED_BY(dispatch_mu_) = 0;
  size_t pending_bytes_ GUARDED_BY(dispatch_mu_) = 0;
  bool dispatching_ GUARDED_BY(dispatch_mu_) = false;
  bool stopping_ GUARDED_BY(dispatch_mu_) = false;
  bool stopped_ GUARDED_BY(dispatch_mu_) = false;
  std::thread dispatcher_;  // started last, joined by Shutdown
};

}  // namespace

std::unique_ptr<TailHub> TailHub::Create(const TailHubOptions& options) {
  return std::make_unique<TailHubImpl>(options);
}

}  // namespace sawmill::tail
