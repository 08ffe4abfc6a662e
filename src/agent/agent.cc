#include "agent/agent.h"

#include <fcntl.h>
#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "agent/agent_metrics.h"
#include "agent/agent_status.h"
#include "agent/batch_builder.h"
#include "agent/checkpoint.h"
#include "agent/http_sender.h"
#include "agent/input.h"
#include "agent/inputs/file/file_input.h"
#include "agent/inputs/stdin/stdin_input.h"
#include "agent/inputs/syslog/syslog_input.h"
#include "agent/priority.h"
#include "agent/spool.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "ingest/redact.h"

namespace sawmill::agent {

namespace {

std::string Hostname() {
  char name[256] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A drop is logged at most this often (and once more at shutdown); the metric counts every one.
constexpr int64_t kDropLogIntervalNs = 10 * kNanosPerSecond;

DropCounts CurrentDrops(const AgentMetrics& metrics) {
  DropCounts counts{};
  for (int level = 0; level < kLevelCount; ++level) {
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      counts[level][reason] = static_cast<uint64_t>(
          metrics.DroppedCount(static_cast<Level>(level), static_cast<DropReason>(reason)));
    }
  }
  return counts;
}

uint64_t SpoolLines(const Spool& spool) {
  uint64_t lines = 0;
  for (uint64_t n : spool.PendingLinesByClass()) lines += n;
  return lines;
}

Result<std::string> LoadOrCreateAgentId(Env* env, const std::string& dir) {
  std::string path = JoinPath(dir, "agent_id");
  if (env->FileExists(path)) {
    std::string id;
    RETURN_IF_ERROR(ReadFileToString(env, path, &id));
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (!id.empty()) return id;
  }
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof(suffix), "%08x%08x", rd(), rd());
  std::string id = Hostname() + "-" + suffix;
  RETURN_IF_ERROR(WriteFileAtomically(env, path, id + "\n"));
  return id;
}

}  // namespace

struct Agent::Impl {
  AgentConfig config;
  Env* env = nullptr;
  Clock* clock = Clock::Real();
  std::string agent_id;
  std::string host;
  int lock_fd = -1;
  std::unique_ptr<Spool> spool;
  std::unique_ptr<ingest::Redactor> redactor;
  std::vector<std::unique_ptr<Input>> inputs;
  std::unique_ptr<prometheus::Exposer> exposer;
  AgentMetrics& metrics = Metrics();

  // Pipeline state (pipeline thread only).
  uint64_t next_seq = 1;
  std::vector<FileCursor> committed;  // positions covered by the spool
  std::unique_ptr<BatchBuilder> builder;
  std::optional<SpoolBatch> pending;  // sealed but not yet in the spool (spool full)
  std::unique_ptr<RateLimiter> limiter;
  Level drop_level = Level::kUnknown;
  bool paused_full = false;
  bool paused_memory = false;
  std::string checkpoint_path;
  DropCounts drops_logged{};    // totals at the last drop log line
  int64_t drops_logged_ns = 0;  // monotonic time of that line (or of the start)
  bool drops_ever_logged = false;

  // Shipping thread.
  std::thread shipper;
  Mutex ship_mu;
  CondVar ship_cv;
  bool ship_stop GUARDED_BY(ship_mu) = false;
  std::atomic<bool> ship_abort{false};  // ends a request in progress at shutdown
  std::atomic<uint64_t> consecutive_failures{0};
  std::atomic<bool> backing_off{false};
  std::atomic<int64_t> last_success_unix_ns{0};
  std::atomic<int64_t> last_latency_us{0};
  Mutex error_mu;
  std::string last_error GUARDED_BY(error_mu);

  Status Start(int stdin_fd, const std::vector<FileCursor>& known, bool first_start);
  void Process(std::vector<SourceRecord>* records, int64_t mono, int64_t wall);
  Status SealAndSpool(int64_t wall);
  bool TrySpoolPending();
  void ApplySpoolThresholds();
  Status WriteCheckpointAndTrim();
  void UpdateGauges(int64_t wall);
  AgentStatusReport Report(int64_t wall);
  void WriteStatus(int64_t wall);
  void LogDrops(int64_t mono, bool force);
  void ShipLoop();
  bool WaitShip(int64_t ns);
  void SetError(std::string error) {
    MutexLock lock(&error_mu);
    last_error = std::move(error);
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  if (impl_->shipper.joinable()) {
    {
      MutexLock lock(&impl_->ship_mu);
      impl_->ship_stop = true;
    }
    impl_->ship_abort.store(true);
    impl_->ship_cv.NotifyAll();
    impl_->shipper.join();
  }
  for (auto& input : impl_->inputs) {
    input->Stop();
    // A stdin reader blocked in read() cannot be joined; leave it to process exit.
    if (!input->Finished()) input.release();  // NOLINT(bugprone-unused-return-value)
  }
  if (impl_->lock_fd >= 0) ::close(impl_->lock_fd);
}

const std::string& Agent::agent_id() const { return impl_->agent_id; }

Result<std::unique_ptr<Agent>> Agent::Create(const AgentConfig& config, Env* env, int stdin_fd) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->env = env;
  RETURN_IF_ERROR(env->CreateDirs(config.spool_path));
  std::string lock_path = JoinPath(config.spool_path, "LOCK");
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0) {
    return Status::IOError("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("spool " + config.spool_path +
                                      " is in use by another agent (" + lock_path + " is locked)");
  }
  if (config.agent_id.empty()) {
    ASSIGN_OR_RETURN(impl->agent_id, LoadOrCreateAgentId(env, config.spool_path));
  } else {
    impl->agent_id = config.agent_id;
  }
  impl->host = config.host.empty() ? Hostname() : config.host;
  impl->checkpoint_path = JoinPath(config.spool_path, "checkpoint");
  bool first_start = false;
  Checkpoint checkpoint;
  auto read = ReadCheckpoint(env, impl->checkpoint_path);
  const bool have_checkpoint = read.ok();
  if (have_checkpoint) {
    checkpoint = std::move(read).value();
  } else if (read.status().IsNotFound()) {
    first_start = true;
  } else {
    spdlog::error("agent: {}; continuing from the positions in the spool",
                  read.status().ToString());
  }
  ASSIGN_OR_RETURN(impl->spool, Spool::Open(env, config.spool_path, config.spool_max_bytes));
  std::vector<FileCursor> known = checkpoint.files;
  for (const auto& c : impl->spool->RecoveredCursors()) MergeCursor(c, &known);
  impl->next_seq = std::max(checkpoint.next_seq, impl->spool->MaxSeq() + 1);
  if (!have_checkpoint) {
    // No checkpoint (first start, or the spool was wiped or damaged): number batches from the
    // current time in microseconds, above any number an earlier life of this spool reached (it
    // started the same way and uses far less than one number a microsecond). The server keeps
    // Idempotency-Keys for a day, so a key reused for another batch would be refused (422).
    impl->next_seq = std::max<uint64_t>(
        impl->next_seq,
        static_cast<uint64_t>(std::max<int64_t>(impl->clock->NowNanos(), 0)) / 1000);
  }
  impl->committed = known;
  if (impl->spool->PendingBatches() > 0) {
    spdlog::info("agent: {} batches ({} bytes) waiting in the spool", impl->spool->PendingBatches(),
                 impl->spool->UsedBytes());
  }
  if (config.redact_enabled) {
    ASSIGN_OR_RETURN(impl->redactor, ingest::Redactor::Create(config.redact));
  }
  impl->builder = std::make_unique<BatchBuilder>(config.zstd_level);
  impl->limiter = std::make_unique<RateLimiter>(config.rate_lines_per_sec, config.rate_burst);
  impl->drops_logged = CurrentDrops(impl->metrics);
  impl->drops_logged_ns = impl->clock->MonotonicNanos();
  RETURN_IF_ERROR(impl->Start(stdin_fd, known, first_start));
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::Impl::Start(int stdin_fd, const std::vector<FileCursor>& known, bool first_start) {
  for (const auto& values : config.inputs) {
    ASSIGN_OR_RETURN(std::unique_ptr<InputContext> ctx,
                     MakeInputContext(values, config.max_line_bytes));
    const std::string& type = values.String("type");
    std::unique_ptr<Input> input;
    if (type == "file") {
      ASSIGN_OR_RETURN(input, CreateFileInput(values, std::move(ctx), config.max_line_bytes, known,
                                              first_start));
    } else if (type == "stdin") {
      ASSIGN_OR_RETURN(input,
                       CreateStdinInput(values, std::move(ctx), config.max_line_bytes, stdin_fd));
    } else {
      ASSIGN_OR_RETURN(input, CreateSyslogInput(values, std::move(ctx), config.max_line_bytes));
    }
    inputs.push_back(std::move(input));
  }
  if (!config.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config.metrics_listen);
      exposer->RegisterCollectable(MetricsRegistryPtr());
    } catch (const std::exception& e) {
      return Status::Unavailable("status.metrics_listen " + config.metrics_listen +
                                 ": cannot listen: " + e.what());
    }
  }
  shipper = std::thread([this] { ShipLoop(); });
  return Status::OK();
}

void Agent::Impl::Process(std::vector<SourceRecord>* records, int64_t mono, int64_t wall) {
  ingest::NormalizeOptions normalize;
  normalize.max_line_bytes = config.max_line_bytes;
  for (SourceRecord& source : *records) {
    const InputContext* ctx = source.context;
    ingest::Defaults defaults;
    defaults.service = source.service.empty() ? ctx->service : source.service;
    defaults.host = host;
    defaults.level = ctx->level;
    defaults.zone = ctx->zone;
    Record record;
    if (source.record) {
      record = std::move(*source.record);
      if (record.host.empty()) record.host = host;
    } else if (!ctx->parser->Parse(source.text, defaults, normalize, wall, &record)) {
      continue;
    }
    if (source.level) record.level = *source.level;
    if (record.ts == 0 && source.ts) record.ts = *source.ts;
    if (record.ts == 0) record.ts = wall;
    for (auto& field : source.fields) record.fields.push_back(std::move(field));
    if (source.truncated) record.flags |= kFlagTruncated;
    for (const auto& field : ctx->fields) record.fields.push_back(field);
    for (const auto& field : config.fields) record.fields.push_back(field);
    if (redactor) redactor->RedactRecord(&record);
    metrics.Read(record.level);
    if (!limiter->Admit(record.level, mono)) {
      metrics.Dropped(record.level, DropReason::kRateLimit);
      continue;
    }
    if (ShedAtDropLevel(record.level, drop_level)) {
      metrics.Dropped(record.level, DropReason::kBackpressure);
      continue;
    }
    builder->Add(record, mono);
  }
  records->clear();
}

Status Agent::Impl::SealAndSpool(int64_t wall) {
  SpoolBatch batch;
  RETURN_IF_ERROR(builder->Seal(&batch));
  batch.seq = next_seq++;
  batch.created_ns = wall;
  for (const auto& input : inputs) input->Cursors(&batch.cursors);
  pending = std::move(batch);
  TrySpoolPending();
  return Status::OK();
}

// Writes the pending batch to the spool, making room by the priority rules: the oldest DEBUG
// lines in the spool first, then this batch's own DEBUG lines, then the same for INFO. When only
// WARN and above are left and there is still no room, the batch waits and inputs are not read.
bool Agent::Impl::TrySpoolPending() {
  if (!pending) return true;
  for (int cls = 0; cls <= static_cast<int>(LevelClass::kInfo); ++cls) {
    while (true) {
      Status st = spool->Append(*pending);
      if (st.ok()) {
        committed = pending->cursors;
        pending.reset();
        if (paused_full) spdlog::info("agent: spool has room again; reading inputs");
        paused_full = false;
        ship_cv.NotifyAll();
        return true;
      }
      if (!st.IsResourceExhausted()) {
        SetError("spool: " + st.ToString());
        spdlog::error("agent: cannot write to the spool: {}", st.ToString());
        paused_full = true;
        return false;
      }
      auto drop = spool->DropOldest(static_cast<LevelClass>(cls));
      if (drop) {
        for (int level = 0; level < kLevelCount; ++level) {
          if (drop->counts[level] > 0) {
            metrics.Dropped(static_cast<Level>(level), DropReason::kSpoolFull,
                            static_cast<double>(drop->counts[level]));
          }
        }
        continue;
      }
      // Nothing of this class left in the spool: shed this batch's own lines of the class.
      auto& sections = pending->sections;
      auto it = std::find_if(sections.begin(), sections.end(), [&](const BatchSection& s) {
        return s.cls == static_cast<LevelClass>(cls);
      });
      if (it == sections.end()) break;
      for (int level = 0; level < kLevelCount; ++level) {
        if (it->counts[level] > 0) {
          metrics.Dropped(static_cast<Level>(level), DropReason::kSpoolFull,
                          static_cast<double>(it->counts[level]));
        }
      }
      sections.erase(it);
    }
  }
  if (!paused_full) {
    spdlog::warn("agent: spool full of WARN and above; not reading inputs until it drains");
  }
  paused_full = true;
  return false;
}

void Agent::Impl::ApplySpoolThresholds() {
  uint64_t max = spool->max_bytes();
  auto drop_while = [&](double threshold, LevelClass cls) {
    while (static_cast<double>(spool->UsedBytes()) > threshold * static_cast<double>(max)) {
      auto drop = spool->DropOldest(cls);
      if (!drop) return;
      for (int level = 0; level < kLevelCount; ++level) {
        if (drop->counts[level] > 0) {
          metrics.Dropped(static_cast<Level>(level), DropReason::kSpoolFull,
                          static_cast<double>(drop->counts[level]));
        }
      }
    }
  };
  drop_while(0.90, LevelClass::kLow);
  drop_while(0.95, LevelClass::kInfo);
  Level level = ComputeDropLevel(consecutive_failures.load(), config.failures_before_drop,
                                 spool->UsedBytes(), max);
  if (level != drop_level) {
    spdlog::warn("agent: drop level is now {}", level == Level::kUnknown ? "none"
                                                : level == Level::kInfo
                                                    ? "DEBUG (DEBUG and TRACE are shed)"
                                                    : "INFO (DEBUG and INFO are shed)");
    drop_level = level;
  }
}

Status Agent::Impl::WriteCheckpointAndTrim() {
  // Batches acknowledged before this point may go once the checkpoint that covers them is durable.
  std::vector<uint64_t> acked = spool->AckedSeqs();
  Checkpoint checkpoint;
  checkpoint.next_seq = next_seq;
  if (builder->empty() && !pending) {
    // Everything handed over is spooled or dropped: the current positions are covered.
    for (const auto& input : inputs) input->Cursors(&checkpoint.files);
    committed = checkpoint.files;
  } else {
    checkpoint.files = committed;
  }
  RETURN_IF_ERROR(WriteCheckpoint(env, checkpoint_path, checkpoint));
  spool->RemoveAcked(acked);
  return Status::OK();
}

void Agent::Impl::UpdateGauges(int64_t wall) {
  metrics.spool_bytes.Set(static_cast<double>(spool->UsedBytes()));
  metrics.spool_batches.Set(static_cast<double>(spool->PendingBatches()));
  metrics.spool_lines.Set(static_cast<double>(SpoolLines(*spool)));
  auto oldest = spool->OldestCreatedNs();
  metrics.oldest_batch_age_seconds.Set(oldest ? static_cast<double>(wall - *oldest) / 1e9 : 0);
  metrics.drop_level.Set(drop_level == Level::kUnknown ? 0 : drop_level == Level::kInfo ? 2 : 3);
  metrics.paused.Set(paused_full || paused_memory ? 1 : 0);
  metrics.consecutive_failures.Set(static_cast<double>(consecutive_failures.load()));
  metrics.rss_bytes.Set(static_cast<double>(ResidentBytes()));
}

// Logs the lines dropped since the last such line: at most once per kDropLogIntervalNs (the first
// drop at once), and whatever is left when "force" (at shutdown).
void Agent::Impl::LogDrops(int64_t mono, bool force) {
  if (!force && drops_ever_logged && mono - drops_logged_ns < kDropLogIntervalNs) return;
  DropCounts now = CurrentDrops(metrics);
  DropCounts delta{};
  for (int level = 0; level < kLevelCount; ++level) {
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      delta[level][reason] = now[level][reason] - drops_logged[level][reason];
    }
  }
  DropSettings settings;
  settings.rate_lines_per_sec = config.rate_lines_per_sec;
  settings.rate_burst = config.rate_burst;
  settings.spool_max_bytes = config.spool_max_bytes;
  settings.failures_before_drop = config.failures_before_drop;
  std::string line =
      FormatDropLog(delta, static_cast<double>(mono - drops_logged_ns) / 1e9, settings);
  if (line.empty()) return;
  spdlog::warn("{}", line);
  drops_logged = now;
  drops_logged_ns = mono;
  drops_ever_logged = true;
}

void Agent::Impl::WriteStatus(int64_t wall) {
  AgentStatusReport report = Report(wall);
  Status st = WriteFileAtomically(env, config.status_file, FormatStatusJson(report));
  if (!st.ok()) spdlog::warn("agent: cannot write {}: {}", config.status_file, st.ToString());
}

AgentStatusReport Agent::Impl::Report(int64_t wall) {
  AgentStatusReport report;
  report.agent_id = agent_id;
  report.server = config.server;
  report.pid = ::getpid();
  report.updated_unix_ns = wall;
  report.spool_bytes = spool->UsedBytes();
  report.spool_max_bytes = spool->max_bytes();
  report.spool_batches = spool->PendingBatches();
  report.spool_lines = SpoolLines(*spool);
  auto oldest = spool->OldestCreatedNs();
  report.oldest_batch_age_s = oldest ? static_cast<double>(wall - *oldest) / 1e9 : 0;
  report.paused = paused_full || paused_memory;
  report.drop_level = drop_level == Level::kUnknown ? "none"
                      : drop_level == Level::kInfo  ? "DEBUG"
                                                    : "INFO";
  report.consecutive_failures = consecutive_failures.load();
  report.last_success_unix_ns = last_success_unix_ns.load();
  report.send_latency_ms = static_cast<double>(last_latency_us.load()) / 1000.0;
  report.rss_bytes = ResidentBytes();
  {
    MutexLock lock(&error_mu);
    report.last_error = last_error;
  }
  for (int level = 0; level < kLevelCount; ++level) {
    Level l = static_cast<Level>(level);
    report.read[level] = static_cast<uint64_t>(metrics.ReadCount(l));
    report.sent[level] = static_cast<uint64_t>(metrics.SentCount(l));
    for (int reason = 0; reason < kDropReasonCount; ++reason) {
      report.dropped[level][reason] =
          static_cast<uint64_t>(metrics.DroppedCount(l, static_cast<DropReason>(reason)));
    }
  }
  return report;
}

Status Agent::Run(const std::atomic<bool>* stop) {
  Impl& s = *impl_;
  std::vector<SourceRecord> records;
  int64_t last_tick = s.clock->MonotonicNanos();
  s.WriteStatus(s.clock->NowNanos());
  bool all_finished = false;
  while (!stop->load()) {
    int64_t mono = s.clock->MonotonicNanos();
    int64_t wall = s.clock->NowNanos();
    bool coalesce = s.backing_off.load();
    uint64_t max_lines = s.config.batch_max_lines * (coalesce ? 10 : 1);
    int64_t max_wait = s.config.batch_max_wait_ns * (coalesce ? 10 : 1);
    uint64_t max_bytes = s.config.batch_max_bytes;
    size_t read_bytes = 0;
    if (s.pending) s.TrySpoolPending();
    if (!s.pending && !s.paused_memory) {
      for (auto& input : s.inputs) {
        if (s.builder->lines() >= max_lines || s.builder->bytes() >= max_bytes) break;
        size_t room_lines = static_cast<size_t>(max_lines - s.builder->lines());
        size_t room_bytes = static_cast<size_t>(max_bytes - s.builder->bytes());
        read_bytes += input->Poll(mono, room_lines, room_bytes, &records);
        s.Process(&records, mono, wall);
      }
    }
    if (!s.pending && !s.builder->empty() &&
        (s.builder->lines() >= max_lines || s.builder->bytes() >= max_bytes ||
         mono - s.builder->first_add_ns() >= max_wait)) {
      RETURN_IF_ERROR(s.SealAndSpool(wall));
    }
    if (mono - last_tick >= kNanosPerSecond) {
      last_tick = mono;
      s.ApplySpoolThresholds();
      Status st = s.WriteCheckpointAndTrim();
      if (!st.ok()) {
        spdlog::error("agent: checkpoint: {}", st.ToString());
        s.SetError("checkpoint: " + st.ToString());
      }
      uint64_t rss = ResidentBytes();
      if (!s.paused_memory && rss > s.config.memory_limit) {
        spdlog::warn("agent: resident memory {} over memory_limit {}; not reading inputs", rss,
                     s.config.memory_limit);
        s.paused_memory = true;
      } else if (s.paused_memory && rss < s.config.memory_limit * 9 / 10) {
        s.paused_memory = false;
      }
      s.UpdateGauges(wall);
      s.WriteStatus(wall);
      s.LogDrops(mono, false);
    }
    all_finished = !s.inputs.empty();
    for (auto& input : s.inputs) all_finished &= input->Finished();
    if (all_finished && s.builder->empty() && !s.pending && s.spool->PendingBatches() == 0) break;
    if (all_finished && !s.builder->empty() && !s.pending) RETURN_IF_ERROR(s.SealAndSpool(wall));
    if (read_bytes == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Shutdown: hand over what the inputs hold, spool it, sync the checkpoint.
  int64_t wall = s.clock->NowNanos();
  if (!s.pending) {
    for (auto& input : s.inputs) {
      input->Drain(&records);
      s.Process(&records, s.clock->MonotonicNanos(), wall);
    }
    if (!s.builder->empty()) RETURN_IF_ERROR(s.SealAndSpool(wall));
  }
  {
    MutexLock lock(&s.ship_mu);
    s.ship_stop = true;
  }
  s.ship_abort.store(true);
  s.ship_cv.NotifyAll();
  if (s.shipper.joinable()) s.shipper.join();
  Status st = s.WriteCheckpointAndTrim();
  s.UpdateGauges(wall);
  // The last status file and the shutdown line carry the same numbers.
  AgentStatusReport report = s.Report(wall);
  Status written = WriteFileAtomically(s.env, s.config.status_file, FormatStatusJson(report));
  if (!written.ok()) {
    spdlog::warn("agent: cannot write {}: {}", s.config.status_file, written.ToString());
  }
  s.LogDrops(s.clock->MonotonicNanos(), true);
  uint64_t unspooled = s.pending ? s.pending->Lines() : 0;
  spdlog::info("{}", FormatShutdownLog(report, unspooled));
  return st;
}

bool Agent::Impl::WaitShip(int64_t ns) {
  UniqueLock lock(&ship_mu);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (!ship_stop) {
    if (!ship_cv.WaitUntil(&lock, deadline)) break;
  }
  return !ship_stop;
}

void Agent::Impl::ShipLoop() {
  // One sender per server. Batches go to the servers in turn; a server that fails is left alone
  // for a jittered, growing backoff (or its Retry-After) while the others take its share, and
  // the batch it failed goes to the next one at once. With one server this is a plain retry
  // with backoff.
  struct Target {
    std::string url;
    std::unique_ptr<HttpSender> sender;
    uint64_t failures = 0;    // in a row, on this server
    int64_t retry_at_ns = 0;  // monotonic; not before this after a failure
  };
  std::vector<Target> targets;
  for (const std::string& url : config.servers) {
    targets.push_back(
        Target{url, std::make_unique<HttpSender>(url, config.token, config.request_timeout_ns,
                                                 &ship_abort, config.tls)});
  }
  size_t turn = 0;
  std::mt19937_64 rng(std::random_device{}());
  const double drain_rate = static_cast<double>(config.drain_lines_per_sec);
  const double drain_cap = std::max(drain_rate, static_cast<double>(config.batch_max_lines));
  double drain_tokens = drain_cap;
  int64_t drain_last = clock->MonotonicNanos();
  bool oldest_turn = false;
  // Batches created before this time are a backlog from an outage (or from before a restart):
  // they drain at spool.drain_rate. Everything newer is sent as fast as the server answers.
  int64_t backlog_before_ns = clock->NowNanos();
  while (true) {
    {
      MutexLock lock(&ship_mu);
      if (ship_stop) return;
    }
    int64_t mono = clock->MonotonicNanos();
    // The next server in turn that is not backing off; if every one is, wait for the first.
    Target* target = nullptr;
    int64_t first_ready = INT64_MAX;
    for (size_t i = 0; i < targets.size() && target == nullptr; ++i) {
      Target& t = targets[(turn + i) % targets.size()];
      if (t.retry_at_ns <= mono) {
        target = &t;
        turn = (turn + i + 1) % targets.size();
      }
      first_ready = std::min(first_ready, t.retry_at_ns);
    }
    if (target == nullptr) {
      WaitShip(first_ready - mono);
      continue;
    }
    if (drain_rate > 0) {
      drain_tokens = std::min(
          drain_cap, drain_tokens + drain_rate * static_cast<double>(mono - drain_last) / 1e9);
    }
    drain_last = mono;
    bool drain_ok = drain_rate <= 0 || drain_tokens > 0;
    // Oldest first. While a backlog drains, turns alternate between its oldest batch and the
    // newest batch, so that live data is not stuck behind an outage's worth of batches.
    std::optional<int64_t> oldest = spool->OldestCreatedNs();
    bool backlog = oldest && *oldest < backlog_before_ns;
    oldest_turn = !oldest_turn;
    std::optional<uint64_t> seq;
    if (!backlog || (oldest_turn && drain_ok)) seq = spool->NextToSend(Spool::Pick::kOldest);
    if (!seq) seq = spool->NextToSend(Spool::Pick::kNewest);
    if (!seq) {
      WaitShip(50 * kNanosPerMilli);
      continue;
    }
    LevelCounts lost{};
    auto batch = spool->Load(*seq, &lost);
    if (!batch.ok()) {
      if (batch.status().IsDataLoss()) {
        for (int level = 0; level < kLevelCount; ++level) {
          if (lost[level] > 0) {
            metrics.Dropped(static_cast<Level>(level), DropReason::kCorrupt,
                            static_cast<double>(lost[level]));
          }
        }
      } else {
        spool->Release(*seq);
        WaitShip(100 * kNanosPerMilli);
      }
      continue;
    }
    // New data is not rate-limited; a batch of the backlog counts against the drain rate.
    if (batch->created_ns < backlog_before_ns) {
      if (!drain_ok) {
        spool->Release(*seq);
        WaitShip(50 * kNanosPerMilli);
        continue;
      }
      drain_tokens -= static_cast<double>(batch->Lines());
    }
    auto body = BatchBody(*batch, config.zstd_level);
    if (!body.ok()) {
      spdlog::error("agent: batch {}: {}", *seq, body.status().ToString());
      spool->Release(*seq);
      WaitShip(kNanosPerSecond);
      continue;
    }
    // The same key whichever server takes the batch: servers that share a store (a cluster)
    // store a batch sent to two of them once (docs/agent.md).
    std::string key = agent_id + "-" + std::to_string(*seq);
    int64_t start = clock->MonotonicNanos();
    SendResult result = target->sender->Send(*body, key);
    int64_t latency = clock->MonotonicNanos() - start;
    last_latency_us.store(latency / 1000);
    metrics.send_latency.Observe(static_cast<double>(latency) / 1e9);
    long code = result.http_status;
    bool permanent = code == 400 || code == 413 || code == 415 || code == 422;
    if (code == 200 || code == 201 || code == 202 || code == 204 || code == 409) {
      spool->Ack(*seq);
      LevelCounts counts = batch->Counts();
      for (int level = 0; level < kLevelCount; ++level) {
        if (counts[level] > 0) {
          metrics.Sent(static_cast<Level>(level), static_cast<double>(counts[level]));
        }
      }
      metrics.requests_ok.Increment();
      if (target->failures > 0) {
        spdlog::info("agent: {} takes batches again", target->url);
        target->failures = 0;
      }
      if (consecutive_failures.load() > 0) backlog_before_ns = clock->NowNanos();
      consecutive_failures.store(0);
      backing_off.store(false);
      last_success_unix_ns.store(clock->NowNanos());
      continue;
    }
    metrics.requests_failed.Increment();
    if (permanent) {
      spdlog::error("agent: {} rejected batch {} ({}): {}", target->url, key, code, result.error);
      SetError("batch " + key + " rejected by " + target->url + " with " + std::to_string(code) +
               ": " + result.error);
      spool->Ack(*seq);
      LevelCounts counts = batch->Counts();
      for (int level = 0; level < kLevelCount; ++level) {
        if (counts[level] > 0) {
          metrics.Dropped(static_cast<Level>(level), DropReason::kRejected,
                          static_cast<double>(counts[level]));
        }
      }
      continue;
    }
    spool->Release(*seq);
    // Failures in a row on every server: what the drop rules and the status look at.
    consecutive_failures.fetch_add(1);
    const uint64_t failures = ++target->failures;
    std::string why =
        code == 0 ? result.error : "HTTP " + std::to_string(code) + " " + result.error;
    SetError("sending to " + target->url + ": " + why);
    // Jittered exponential backoff: 1-5 s, then 5-15 s, then 15-60 s (capped by max_backoff).
    double low = failures == 1 ? 1 : failures == 2 ? 5 : 15;
    double high = failures == 1 ? 5 : failures == 2 ? 15 : 60;
    double wait_s = std::uniform_real_distribution<double>(low, high)(rng);
    if (result.retry_after_s >= 0)
      wait_s = std::max<double>(1.0, static_cast<double>(result.retry_after_s));
    int64_t wait_ns = std::min<int64_t>(static_cast<int64_t>(wait_s * 1e9), config.backoff_max_ns);
    target->retry_at_ns = clock->MonotonicNanos() + wait_ns;
    bool all_backing_off = true;
    for (const Target& t : targets) all_backing_off = all_backing_off && t.retry_at_ns > mono;
    backing_off.store(all_backing_off);
    if (targets.size() > 1) {
      spdlog::warn("agent: send to {} failed ({}); retry {} there in {:.1f}s{}", target->url, why,
                   failures, static_cast<double>(wait_ns) / 1e9,
                   all_backing_off ? "; no server takes batches now" : ", the others go on");
    } else {
      spdlog::warn("agent: send failed ({}); retry {} in {:.1f}s", why, failures,
                   static_cast<double>(wait_ns) / 1e9);
    }
  }
}

}  // namespace sawmill::agent
