// QueryEngine: parse, check limits, consult the cache (single flight for identical queries),
// execute over a storage snapshot, and Context().
#include "query/query_engine.h"

#include <algorithm>
#include <chrono>
#include <compare>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/hash.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "query/aggregator.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/result_cache.h"
#include "query/time_range.h"
#include "query/worker_pool.h"

namespace sawmill::query {

namespace {

constexpr size_t kMaxLimit = 10'000;

// Relative ranges are rounded so that everyone asking for "the last hour" in the same few
// seconds shares one cache entry: "to" is rounded up (nothing recent is lost), the width kept.
TimeRange RoundRelative(TimeRange r) {
  if (!r.relative) return r;
  int64_t width = r.to_ns - r.from_ns;
  int64_t step = std::clamp<int64_t>(width / 360, kNanosPerSecond, 60 * kNanosPerSecond);
  int64_t to = ((r.to_ns + step - 1) / step) * step;
  r.to_ns = to;
  r.from_ns = to - width;
  return r;
}

// sawmill_queries_cancelled_total{reason}: queries stopped before they finished.
void CountStopped(StopReason reason) {
  static auto& family = prometheus::BuildCounter()
                            .Name("sawmill_queries_cancelled_total")
                            .Help(
                                "Queries stopped before they finished, by reason: deadline "
                                "(query_timeout), client_gone (the client closed the "
                                "connection), scan_limit (bytes scanned per query)")
                            .Register(MetricsRegistry());
  static prometheus::Counter& deadline = family.Add({{"reason", "deadline"}});
  static prometheus::Counter& client_gone = family.Add({{"reason", "client_gone"}});
  static prometheus::Counter& scan_limit = family.Add({{"reason", "scan_limit"}});
  switch (reason) {
    case StopReason::kTime: deadline.Increment(); break;
    case StopReason::kCancelled: client_gone.Increment(); break;
    case StopReason::kBytes: scan_limit.Increment(); break;
    case StopReason::kNone: break;
  }
}

// What a snapshot holds, in a few bytes, for the cache key: its segments (ids are never reused,
// so a flush, a compaction or a deletion changes the list) and how many records each memtable
// holds (records are only ever added to one). An answer is served from the cache only to a
// query that sees exactly the data the answer was computed from: once a line is acknowledged
// (or flushed, compacted, deleted) in this tenant, every cached answer of it is out of date.
std::string DataVersion(const storage::Snapshot* snapshot) {
  if (snapshot == nullptr) return "-";
  std::string ids;
  ids.reserve(snapshot->segments.size() * 16 + snapshot->memtables.size() * 16);
  auto put = [&ids](uint64_t v) { ids.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  uint64_t memtable_rows = 0;
  for (const storage::SegmentHandle& h : snapshot->segments) {
    put(h.info.id);
    put(h.info.rows);
  }
  for (const storage::MemtableView& m : snapshot->memtables) {
    uint64_t rows = 0;
    for (const auto& chunk : m.chunks) rows += chunk ? chunk->size() : 0;
    put(m.partition);
    put(rows);
    memtable_rows += rows;
  }
  return std::to_string(snapshot->segments.size()) + '/' + std::to_string(memtable_rows) + '/' +
         std::to_string(Hash64(ids));
}

// An answer this query did not compute itself (the result cache's, or an identical running
// query's): a copy, marked as shared.
SearchResponse SharedAnswer(const SearchResponse& answer) {
  SearchResponse copy = answer;
  copy.stats.cache_hit = true;
  return copy;
}

bool IsCancelled(const SearchRequest& request) {
  return request.cancelled != nullptr && request.cancelled->load(std::memory_order_relaxed);
}

// What the other nodes of a cluster are asked for a search (query_engine.h "Cluster fan-out").
PartRequest MakePartRequest(const SearchRequest& request, const TimeRange& range, size_t limit,
                            int64_t max_query_ns) {
  PartRequest part;
  part.tenant = request.tenant;
  part.q = request.q;
  part.range = range;
  part.all_time = request.all_time;
  part.time_field_ts = request.time_field_ts;
  part.limit = limit;
  part.timeout_ns = std::max<int64_t>(1, max_query_ns);
  return part;
}

// "snapshot" without the segments the nodes of "cuts" hold in their parts: those each flushed and
// registered above its registered_through, or was registering (docs/cluster.md "Exactly once
// across nodes").
std::shared_ptr<const storage::Snapshot> CutSnapshot(
    std::shared_ptr<const storage::Snapshot> snapshot, const std::vector<SegmentCut>& cuts) {
  auto held = [&cuts](const storage::SegmentHandle& h) {
    if (h.node.empty()) return false;
    for (const SegmentCut& cut : cuts) {
      if (cut.node != h.node) continue;
      return h.registered > cut.registered_through ||
             std::find(cut.registering.begin(), cut.registering.end(), h.info.id) !=
                 cut.registering.end();
    }
    return false;
  };
  if (std::none_of(snapshot->segments.begin(), snapshot->segments.end(), held)) return snapshot;
  auto cut = std::make_shared<storage::Snapshot>(*snapshot);
  std::erase_if(cut->segments, held);
  return cut;
}

class QueryEngineImpl final : public QueryEngine {
 public:
  QueryEngineImpl(storage::Engine* engine, const QueryOptions& options)
      : engine_(engine),
        options_(options),
        clock_(options.clock ? options.clock : Clock::Real()),
        pool_(options.worker_threads ? options.worker_threads
                                     : std::max(1u, std::thread::hardware_concurrency())),
        cache_(options.cache_bytes, options.cache_ttl_ns, clock_) {
    CountStopped(StopReason::kNone);  // registers the family so that /metrics lists it
  }

  Result<SearchResponse> Search(const SearchRequest& request) override {
    ASSIGN_OR_RETURN(Query parsed, ParseQuery(request.q));
    auto query = std::make_shared<const Query>(std::move(parsed));
    ASSIGN_OR_RETURN(TimeRange range, ParseTimeRange(request.since, request.from, request.to,
                                                     request.all_time, clock_->NowNanos()));
    range = RoundRelative(range);
    if (request.limit > kMaxLimit) {
      return Status::InvalidArgument("limit must be at most " + std::to_string(kMaxLimit) +
                                     ", got " + std::to_string(request.limit) +
                                     "; use a pipe (count, top) to summarise more lines");
    }
    RETURN_IF_ERROR(ValidatePipes(*query, range, request.all_time));
    size_t limit = request.limit == 0 ? 100 : request.limit;

    // Cluster fan-out (query_engine.h): the other nodes' parts first, then the snapshot, whose
    // segments are cut where each answering node's part ends (docs/cluster.md "Exactly once
    // across nodes").
    std::shared_ptr<const PartAnswer> remote_part;
    if (request.remote) {
      remote_part = std::make_shared<const PartAnswer>(
          request.remote(MakePartRequest(request, range, limit, options_.max_query_ns)));
    }
    // The snapshot is taken before the cache is consulted: it is part of the key, and the query
    // runs on this very snapshot, so that a cached answer always matches the data it keys.
    std::shared_ptr<const storage::Snapshot> snapshot = engine_->GetSnapshot(request.tenant);
    // This node's own memtables answer under the fence its part for another node does
    // (SearchMemtables; docs/cluster.md "Fenced answers"), checked after the snapshot: a node
    // woken after its WAL objects were taken over holds rows the taker answers for too, and one
    // taken over while the query ran as well. They are left out and the answer is partial, as
    // when another node's part is refused.
    const bool own_memtables = remote_part && snapshot && !snapshot->memtables.empty();
    std::string own_refused;
    storage::MemtableFence own_fence;
    if (own_memtables) {
      auto fence = engine_->MemtableAnswerFence();
      if (fence.ok()) {
        own_fence = std::move(*fence);
      } else {
        own_refused = fence.status().ToString();
      }
    }
    if (remote_part && request.check_remote) {
      // After the snapshot: every takeover whose lines it or an answer holds has committed.
      std::string refused;
      if (std::optional<PartAnswer> checked =
              request.check_remote(*remote_part, own_fence, &refused)) {
        remote_part = std::make_shared<const PartAnswer>(std::move(*checked));
      }
      if (own_memtables && own_refused.empty()) own_refused = std::move(refused);
    }
    if (remote_part && snapshot) snapshot = CutSnapshot(std::move(snapshot), remote_part->cuts);
    if (own_memtables && !own_refused.empty()) {
      auto fenced = std::make_shared<storage::Snapshot>(*snapshot);
      fenced->memtables.clear();
      snapshot = std::move(fenced);
      auto part = std::make_shared<PartAnswer>(*remote_part);
      part->partial = true;
      part->warnings.push_back("this node's own unflushed lines were left out: " + own_refused);
      remote_part = std::move(part);
    }
    std::string key =
        request.tenant + '\x1f' + ToString(*query) + '\x1f' + std::to_string(range.from_ns) +
        '\x1f' + std::to_string(range.to_ns) + '\x1f' + std::to_string(limit) + '\x1f' +
        (request.time_field_ts ? "ts" : "ingest_ts") + '\x1f' + (request.use_indexes ? "i" : "-") +
        (request.all_time ? "a" : "-") + '\x1f' + DataVersion(snapshot.get());
    // Other nodes' memtables are not in the key: a fanned-out search is never cached.
    bool cacheable = request.use_cache && !request.explain && !request.remote;
    std::shared_ptr<Flight> flight;
    while (cacheable) {
      if (std::shared_ptr<const SearchResponse> hit = cache_.Get(key)) return SharedAnswer(*hit);
      UniqueLock lock(&mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) {
        // An identical query may have finished between the cache lookup above and this lock: its
        // leader puts the answer in the cache before it ends its flight, so look once more.
        if (std::shared_ptr<const SearchResponse> hit = cache_.Get(key)) {
          lock.Unlock();
          return SharedAnswer(*hit);
        }
        flight = std::make_shared<Flight>();
        flights_[key] = flight;
        break;
      }
      // Single flight: wait for the identical query already running and share its answer,
      // unless this query's own client goes away meanwhile.
      std::shared_ptr<Flight> running = it->second;
      while (!running->done) {
        if (IsCancelled(request)) {
          lock.Unlock();
          CountStopped(StopReason::kCancelled);
          return Status::Unavailable(
              "the client closed the connection while the query waited for an identical one");
        }
        running->cv.WaitFor(&lock, std::chrono::milliseconds(100));
      }
      // Its client went away and its answer was cut short: not ours to share. Run it again
      // (the first waiter to get here becomes the new leader).
      if (running->cancelled) continue;
      lock.Unlock();  // copy the answer outside the lock: 200 waiters copy in parallel
      if (!running->status.ok()) return running->status;
      return SharedAnswer(*running->response);
    }

    StopReason stopped = StopReason::kNone;
    Result<SearchResponse> result =
        Run(request, snapshot, query, range, limit, std::move(remote_part), &stopped);

    if (flight) {
      std::shared_ptr<const SearchResponse> answer;
      bool cancelled = stopped == StopReason::kCancelled;
      if (result.ok() && !cancelled) answer = std::make_shared<const SearchResponse>(*result);
      // Partial answers (a limit, a corrupt block, a cancellation) are never cached.
      if (answer && !answer->partial) cache_.Put(key, answer);
      MutexLock lock(&mu_);
      flight->cancelled = cancelled;
      flight->status = result.ok() ? Status::OK() : result.status();
      flight->response = std::move(answer);
      flight->done = true;
      flights_.erase(key);
      flight->cv.NotifyAll();
    }
    return result;
  }

  Result<ContextResponse> Context(std::string_view tenant, uint64_t id, size_t before,
                                  size_t after) override;
  Result<PartAnswer> ContextPart(const ContextPartRequest& request) override;

  Result<PartAnswer> SearchMemtables(const PartRequest& request) override {
    ASSIGN_OR_RETURN(Query parsed, ParseQuery(request.q));
    auto query = std::make_shared<const Query>(std::move(parsed));
    if (request.limit > kMaxLimit) {
      return Status::InvalidArgument("limit must be at most " + std::to_string(kMaxLimit));
    }
    RETURN_IF_ERROR(ValidatePipes(*query, request.range, request.all_time));
    ExecOptions o;
    o.range = request.range;
    o.all_time = request.all_time;
    o.time_field_ts = request.time_field_ts;
    o.limit = request.limit;
    o.max_bytes_scanned = options_.max_bytes_scanned;
    o.clock = clock_;
    const int64_t budget =
        std::min(request.timeout_ns > 0 ? request.timeout_ns : INT64_MAX, options_.max_query_ns);
    const int64_t now = clock_->MonotonicNanos();
    o.deadline_mono_ns = budget > INT64_MAX - now ? INT64_MAX : now + budget;
    o.time_limit_ns = budget;
    o.pool = &pool_;
    o.engine = engine_;
    o.memtables_only = true;
    o.keep_groups = true;
    std::shared_ptr<const storage::Snapshot> snapshot = engine_->GetSnapshot(request.tenant);
    // After the snapshot: rows it holds were still this node's when the fence was checked, and
    // the asking node checks that nobody took it over since (docs/cluster.md "Fenced answers").
    ASSIGN_OR_RETURN(storage::MemtableFence fence, engine_->MemtableAnswerFence());
    ExecResult r = snapshot ? Execute(snapshot, query, o) : ExecResult{};
    CountStopped(r.stopped);
    PartAnswer out;
    out.hits = std::move(r.hits);
    out.groups = std::move(r.groups);
    out.stats = r.stats;
    out.partial = r.partial;
    out.warnings = std::move(r.warnings);
    // Where this part ends, as of the snapshot it read (taken with the memtables).
    // (No snapshot: no memtables, nothing to fence.)
    if (snapshot) {
      out.cuts.push_back({"", snapshot->registered_through, snapshot->registering, fence});
    }
    return out;
  }

 private:
  struct Flight {
    CondVar cv;
    bool done = false;  // under the engine's mu_ (a nested struct cannot name it for the analysis)
    // Set before done; read-only afterwards.
    bool cancelled = false;  // the leader's client went away: no answer to share
    Status status;
    std::shared_ptr<const SearchResponse> response;
  };

  // Past "budget_ns" from now: DeadlineExceeded naming query_timeout (context has no partial
  // answer), counted as a query stopped by its deadline.
  std::function<Status()> ContextDeadline(int64_t budget_ns);

  // "*stopped": why the query stopped early, if it did.
  Result<SearchResponse> Run(const SearchRequest& request,
                             const std::shared_ptr<const storage::Snapshot>& snapshot,
                             std::shared_ptr<const Query> query, const TimeRange& range,
                             size_t limit, std::shared_ptr<const PartAnswer> remote_part,
                             StopReason* stopped) {
    {
      MutexLock lock(&mu_);
      uint32_t& running = running_per_user_[request.user];
      if (running >= options_.max_concurrent_per_user) {
        return Status::ResourceExhausted(
            "too many concurrent queries for user '" + request.user +
            "': " + std::to_string(running) + " running, the limit is " +
            std::to_string(options_.max_concurrent_per_user) + "; wait for one to finish");
      }
      ++running;
    }
    ExecOptions o;
    o.range = range;
    o.all_time = request.all_time;
    o.time_field_ts = request.time_field_ts;
    o.limit = limit;
    o.use_indexes = request.use_indexes;
    o.columnar = options_.columnar;
    o.partitions = options_.partitions;
    o.max_bytes_scanned = options_.max_bytes_scanned;
    o.clock = clock_;
    int64_t now = clock_->MonotonicNanos();
    o.deadline_mono_ns =
        options_.max_query_ns > INT64_MAX - now ? INT64_MAX : now + options_.max_query_ns;
    o.time_limit_ns = options_.max_query_ns;
    o.cancelled = request.cancelled;
    o.pool = &pool_;
    o.engine = engine_;
    o.progress = request.progress.get();
    if (remote_part) o.remote = [remote_part] { return *remote_part; };
    ExecResult r = snapshot ? Execute(snapshot, query, o) : ExecResult{};
    {
      MutexLock lock(&mu_);
      auto it = running_per_user_.find(request.user);
      if (--it->second == 0) running_per_user_.erase(it);
    }
    *stopped = r.stopped;
    CountStopped(r.stopped);
    SearchResponse out;
    out.is_pipe = r.is_pipe;
    out.stats = r.stats;
    out.partial = r.partial;
    out.warnings = std::move(r.warnings);
    if (request.explain) {
      out.plan = std::move(r.plan);
    } else {
      out.hits = std::move(r.hits);
      out.rows = std::move(r.rows);
    }
    return out;
  }

  storage::Engine* engine_;
  QueryOptions options_;
  Clock* clock_;
  WorkerPool pool_;
  ResultCache cache_;
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_ GUARDED_BY(mu_);
  std::map<std::string, uint32_t> running_per_user_ GUARDED_BY(mu_);
};

bool SeqLess(const Record& a, const Record& b) { return a.seq < b.seq; }

// Where a line sits in a context's order (query_engine.h "Context in a cluster"): on one node by
// seq alone (its ingest order), in a cluster by (ingest_ts, seq).
enum class ContextOrder { kSeq, kIngestTime };
struct OrderKey {
  int64_t time = 0;  // 0 in seq order
  uint64_t seq = 0;
  friend auto operator<=>(const OrderKey&, const OrderKey&) = default;
};
OrderKey KeyOf(const Record& r, ContextOrder order) {
  return {order == ContextOrder::kSeq ? 0 : r.ingest_ts, r.seq};
}

std::string SegmentName(const storage::SegmentHandle& h) {
  return "segment " + std::to_string(h.info.id);
}

// The segments of a context that could not be read: never a silent gap. Each is named in a
// warning with its error, except one retention deleted after the snapshot was taken (NotFound,
// and among the engine's retired segments: its lines expired), skipped as a search skips it
// (executor.cc Retired). A segment compaction replaced stays readable while the snapshot holds
// it (storage/engine.h Snapshot), so no other vanished segment is skipped.
class Unreadable {
 public:
  explicit Unreadable(storage::Engine* engine) : engine_(engine) {}
  // Segment "h", which could not be opened ("st").
  void Segment(const storage::SegmentHandle& h, const Status& st) {
    if (Retired(h, st)) return;
    warnings.push_back(SegmentName(h) + " could not be read and was skipped: " + st.ToString());
  }
  // Block "b" of segment "h", which could not be read ("st"): when damaged (DataLoss) also
  // reported to the engine as corruption (the segment is marked corrupt and counted once), as a
  // search reports it (executor.cc CorruptBlock); a failed read (IOError, ...) is not.
  void Block(const storage::SegmentHandle& h, uint32_t b, const Status& st) {
    if (Retired(h, st)) return;
    if (engine_ != nullptr && st.IsDataLoss()) engine_->ReportCorruption(h.info.id, st);
    warnings.push_back(SegmentName(h) + " block " + std::to_string(b) +
                       " could not be read and was skipped: " + st.ToString());
  }
  std::vector<std::string> warnings;

 private:
  bool Retired(const storage::SegmentHandle& h, const Status& st) {
    if (!st.IsNotFound() || engine_ == nullptr) return false;
    if (!retired_) {
      // Unknown (the catalog failed): not retired, and the segment is named in a warning.
      Result<std::set<uint64_t>> ids = engine_->RetiredSegmentIds();
      if (!ids.ok()) return false;
      retired_ = std::move(ids).value();
    }
    return retired_->count(h.info.id) > 0;
  }
  storage::Engine* engine_;
  std::optional<std::set<uint64_t>> retired_;  // read at the first NotFound
};

// The record with seq "id" in "snap": in its memtables, then (unless "memtables_only") in the
// segments whose seq range holds it. "check_deadline" before every block read. A segment that
// cannot be read is skipped and named in "unreadable" (not found then means "not in the
// segments that could be read").
Result<std::optional<Record>> FindRecord(const storage::Snapshot& snap, uint64_t id,
                                         bool memtables_only,
                                         const std::function<Status()>& check_deadline,
                                         Unreadable* unreadable) {
  std::optional<Record> hit;
  for (const auto& m : snap.memtables) {
    for (const auto& chunk : m.chunks) {
      for (const Record& r : *chunk) {
        if (r.seq == id) hit = r;
      }
    }
  }
  if (memtables_only) return hit;
  for (const auto& h : snap.segments) {
    if (hit) break;
    if (id < h.info.min_seq || id > h.info.max_seq) continue;
    Result<std::shared_ptr<segment::SegmentReader>> opened = h.open();
    if (!opened.ok()) {
      unreadable->Segment(h, opened.status());
      continue;
    }
    const segment::SegmentReader& reader = **opened;
    for (uint32_t b = 0; b < reader.blocks().size() && !hit; ++b) {
      RETURN_IF_ERROR(check_deadline());
      std::vector<Record> rows;
      segment::ReadStats rs;
      Status st = reader.ReadBlock(b, segment::kColSeq, &rows, &rs);
      for (size_t i = 0; st.ok() && i < rows.size(); ++i) {
        if (rows[i].seq != id) continue;
        std::vector<Record> full;
        st = reader.ReadBlock(b, segment::kColAll, &full, &rs);
        if (st.ok() && i < full.size()) hit = std::move(full[i]);
        break;
      }
      if (!st.ok()) unreadable->Block(h, b, st);
    }
  }
  return hit;
}

// The "before" lines nearest below "anchor" and the "after" nearest above it in "order", of
// its service and host, from "snap" (its memtables alone when "memtables_only"); "partition":
// the anchor's, when partitions prune. Each side in no particular order. A segment (or block)
// that cannot be read is skipped and named in "unreadable".
struct Neighbours {
  std::vector<Record> below, above;
};
Result<Neighbours> FindNeighbours(const storage::Snapshot& snap, const ContextAnchor& anchor,
                                  size_t before, size_t after, ContextOrder order,
                                  bool memtables_only, std::optional<uint32_t> partition,
                                  const std::function<Status()>& check_deadline,
                                  Unreadable* unreadable) {
  const OrderKey at{order == ContextOrder::kSeq ? 0 : anchor.ingest_ts, anchor.seq};
  // Heaps: below keeps its farthest (smallest) on top, above its farthest (largest).
  Neighbours n;
  std::vector<Record>& below = n.below;
  std::vector<Record>& above = n.above;
  auto farther_below = [order](const Record& a, const Record& b) {
    return KeyOf(a, order) > KeyOf(b, order);
  };
  auto farther_above = [order](const Record& a, const Record& b) {
    return KeyOf(a, order) < KeyOf(b, order);
  };
  auto offer = [&](const Record& r) {
    if (r.service != anchor.service || r.host != anchor.host) return;
    const OrderKey key = KeyOf(r, order);
    if (key == at) return;  // the hit itself
    if (key < at) {
      if (before == 0) return;
      if (below.size() < before) {
        below.push_back(r);
        std::push_heap(below.begin(), below.end(), farther_below);
      } else if (key > KeyOf(below.front(), order)) {
        std::pop_heap(below.begin(), below.end(), farther_below);
        below.back() = r;
        std::push_heap(below.begin(), below.end(), farther_below);
      }
    } else {
      if (after == 0) return;
      if (above.size() < after) {
        above.push_back(r);
        std::push_heap(above.begin(), above.end(), farther_above);
      } else if (key < KeyOf(above.front(), order)) {
        std::pop_heap(above.begin(), above.end(), farther_above);
        above.back() = r;
        std::push_heap(above.begin(), above.end(), farther_above);
      }
    }
  };
  for (const auto& m : snap.memtables) {
    if (partition && m.partition != *partition) continue;
    for (const auto& chunk : m.chunks) {
      for (const Record& r : *chunk) offer(r);
    }
  }
  if (memtables_only) return n;
  const bool by_time = order == ContextOrder::kIngestTime;
  for (const auto& h : snap.segments) {
    if (partition && h.info.partition != *partition) continue;
    // Every row's key is within [lo, hi].
    const OrderKey lo{by_time ? h.info.min_ingest_ts : 0, h.info.min_seq};
    const OrderKey hi{by_time ? h.info.max_ingest_ts : 0, h.info.max_seq};
    bool need_below =
        before > 0 && lo < at && (below.size() < before || hi > KeyOf(below.front(), order));
    bool need_above =
        after > 0 && hi > at && (above.size() < after || lo < KeyOf(above.front(), order));
    if (!need_below && !need_above) continue;
    Result<std::shared_ptr<segment::SegmentReader>> opened = h.open();
    if (!opened.ok()) {
      unreadable->Segment(h, opened.status());
      continue;
    }
    const segment::SegmentReader& reader = **opened;
    std::optional<roaring::Roaring> rows;
    auto svc = reader.Postings("service", anchor.service);
    auto hst = reader.Postings("host", anchor.host);
    if (svc.ok() && *svc && hst.ok() && *hst) rows = **svc & **hst;
    if (rows && rows->isEmpty()) continue;
    const auto& blocks = reader.blocks();
    for (uint32_t b = 0; b < blocks.size(); ++b) {
      if (rows) {
        uint64_t first = blocks[b].first_row == 0 ? 0 : rows->rank(blocks[b].first_row - 1);
        if (rows->rank(blocks[b].first_row + blocks[b].rows - 1) == first) continue;
      }
      if (by_time) {  // the block's ingest times rule it out (seq order keeps every block)
        const OrderKey block_lo{blocks[b].min_ingest_ts, 0};
        const OrderKey block_hi{blocks[b].max_ingest_ts, UINT64_MAX};
        const bool below_wanted = before > 0 && block_lo < at &&
                                  (below.size() < before || block_hi > KeyOf(below.front(), order));
        const bool above_wanted = after > 0 && block_hi > at &&
                                  (above.size() < after || block_lo < KeyOf(above.front(), order));
        if (!below_wanted && !above_wanted) continue;
      }
      RETURN_IF_ERROR(check_deadline());
      std::vector<Record> recs;
      segment::ReadStats rs;
      if (Status st = reader.ReadBlock(b, segment::kColAll, &recs, &rs); !st.ok()) {
        unreadable->Block(h, b, st);
        continue;
      }
      for (const Record& r : recs) offer(r);
    }
  }
  return n;
}

// The error of a context whose hit was not found while segments that may hold it could not be
// read: Unavailable (503, as a cluster context whose hit may be on a node that did not answer),
// naming each such segment and its error.
Status NotFoundInUnreadable(uint64_t id, const Unreadable& unreadable) {
  std::string why;
  for (const std::string& w : unreadable.warnings) why += (why.empty() ? "" : "; ") + w;
  return Status::Unavailable("no record with id " + std::to_string(id) +
                             " in the segments that could be read, but not every segment could, "
                             "so it may exist (" +
                             why + ")");
}

std::function<Status()> QueryEngineImpl::ContextDeadline(int64_t budget_ns) {
  const int64_t now = clock_->MonotonicNanos();
  const int64_t deadline = budget_ns > INT64_MAX - now ? INT64_MAX : now + budget_ns;
  // The limit named is the budget given: a cluster part's is what is left of the context's time.
  return [this, deadline, budget_ns] {
    if (clock_->MonotonicNanos() <= deadline) return Status::OK();
    CountStopped(StopReason::kTime);
    return Status::DeadlineExceeded("context stopped at the " + FormatLimit(budget_ns) +
                                    " time limit (query_timeout); ask for fewer lines");
  };
}

Result<ContextResponse> QueryEngineImpl::Context(std::string_view tenant, uint64_t id,
                                                 size_t before, size_t after) {
  RETURN_IF_ERROR(CheckContextLines(before, after));
  std::shared_ptr<const storage::Snapshot> snap = engine_->GetSnapshot(tenant);
  if (!snap) return Status::NotFound("no record with id " + std::to_string(id));
  // Context has no partial answer: past the time limit it is an error that names the limit.
  const std::function<Status()> check_deadline = ContextDeadline(options_.max_query_ns);
  // 1. The hit itself. Not found while a segment that may hold it could not be read: no answer
  // can be given, and it is not "no such record" (404) either.
  Unreadable unreadable(engine_);
  ASSIGN_OR_RETURN(std::optional<Record> hit,
                   FindRecord(*snap, id, /*memtables_only=*/false, check_deadline, &unreadable));
  if (!hit && !unreadable.warnings.empty()) return NotFoundInUnreadable(id, unreadable);
  if (!hit) return Status::NotFound("no record with id " + std::to_string(id));
  // Found: the segments it was not in are read again for the neighbours when they are needed.
  unreadable.warnings.clear();

  // 2. Neighbours from the same service and host: the "before" nearest below, "after" above.
  std::optional<uint32_t> partition;
  if (options_.partitions > 0)
    partition = PartitionOf(hit->service, hit->host, options_.partitions);
  ASSIGN_OR_RETURN(
      Neighbours n,
      FindNeighbours(*snap, AnchorOf(*hit), before, after, ContextOrder::kSeq,
                     /*memtables_only=*/false, partition, check_deadline, &unreadable));
  ContextResponse out;
  out.partial = !unreadable.warnings.empty();
  out.warnings = std::move(unreadable.warnings);
  std::sort(n.below.begin(), n.below.end(), SeqLess);
  std::sort(n.above.begin(), n.above.end(), SeqLess);
  out.before = std::move(n.below);
  out.hit = std::move(*hit);
  out.after = std::move(n.above);
  return out;
}

Result<PartAnswer> QueryEngineImpl::ContextPart(const ContextPartRequest& request) {
  RETURN_IF_ERROR(CheckContextLines(request.before, request.after));
  std::shared_ptr<const storage::Snapshot> snap = engine_->GetSnapshot(request.tenant);
  PartAnswer out;
  // Always one cut, so that the asking node tells an answer from a failure; no snapshot: no
  // memtables and no segments, nothing it could have flushed.
  out.cuts.push_back({});
  if (!snap) return out;
  out.cuts[0].registered_through = snap->registered_through;
  out.cuts[0].registering = snap->registering;
  const int64_t budget =
      std::min(request.timeout_ns > 0 ? request.timeout_ns : INT64_MAX, options_.max_query_ns);
  const std::function<Status()> check_deadline = ContextDeadline(budget);
  Unreadable unreadable(engine_);
  std::optional<ContextAnchor> anchor = request.around;
  if (!anchor) {
    ASSIGN_OR_RETURN(
        std::optional<Record> hit,
        FindRecord(*snap, request.id, request.memtables_only, check_deadline, &unreadable));
    if (!hit) {  // partial, naming the segments that may hold it
      out.partial = !unreadable.warnings.empty();
      out.warnings = std::move(unreadable.warnings);
      return out;
    }
    unreadable.warnings.clear();  // as in Context
    anchor = AnchorOf(*hit);
    out.hits.push_back(std::move(*hit));
  }
  // No lines asked for (the asking node's lookup of the hit): no neighbours to look for.
  if (request.before == 0 && request.after == 0) return out;
  std::optional<uint32_t> partition;
  if (options_.partitions > 0)
    partition = PartitionOf(anchor->service, anchor->host, options_.partitions);
  ASSIGN_OR_RETURN(Neighbours n, FindNeighbours(*snap, *anchor, request.before, request.after,
                                                ContextOrder::kIngestTime, request.memtables_only,
                                                partition, check_deadline, &unreadable));
  out.partial = !unreadable.warnings.empty();
  out.warnings = std::move(unreadable.warnings);
  for (Record& r : n.below) out.hits.push_back(std::move(r));
  for (Record& r : n.above) out.hits.push_back(std::move(r));
  return out;
}

}  // namespace

Status CheckContextLines(size_t before, size_t after) {
  if (before > kMaxContextLines || after > kMaxContextLines) {
    return Status::InvalidArgument("context: at most " + std::to_string(kMaxContextLines) +
                                   " lines before and after");
  }
  return Status::OK();
}

std::unique_ptr<QueryEngine> QueryEngine::Create(storage::Engine* engine,
                                                 const QueryOptions& options) {
  return std::make_unique<QueryEngineImpl>(engine, options);
}

}  // namespace sawmill::query
