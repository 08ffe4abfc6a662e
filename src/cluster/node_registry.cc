#include "cluster/node_registry.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "common/metrics.h"

namespace sawmill::cluster {
namespace {

struct RegistryMetrics {
  prometheus::Counter* heartbeat_failures;
  prometheus::Counter* id_conflicts;
  prometheus::Gauge* live_nodes;
};

RegistryMetrics& Metrics() {
  static RegistryMetrics m = [] {
    RegistryMetrics r{};
    r.heartbeat_failures =
        UnlabelledCounter("sawmill_node_heartbeat_failures_total",
                          "Heartbeats of this node that could not be written to the catalog");
    r.id_conflicts = UnlabelledCounter(
        "sawmill_node_id_conflicts_total",
        "Heartbeats that found this node's id registered by another process (another "
        "incarnation): two processes share one data directory's node id");
    r.live_nodes =
        UnlabelledGauge("sawmill_cluster_live_nodes",
                        "Nodes whose heartbeat is recent (node_timeout), this one included");
    return r;
  }();
  return m;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::string HostLabel() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "node";
  std::string label;
  for (const char* p = name; *p != '\0' && *p != '.'; ++p) {
    const char c = *p;
    label += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '-';
  }
  if (label.empty()) label = "node";
  return label.substr(0, 40);
}

}  // namespace

NodeRegistry::NodeRegistry(catalog::Catalog* catalog, NodeRegistryOptions options,
                           int64_t started_ns)
    : catalog_(catalog), options_(std::move(options)), started_ns_(started_ns) {}

Result<std::unique_ptr<NodeRegistry>> NodeRegistry::Start(catalog::Catalog* catalog,
                                                          NodeRegistryOptions options) {
  if (catalog == nullptr) return Status::InvalidArgument("node registry: no catalog");
  if (!ValidId(options.id)) {
    return Status::InvalidArgument("node registry: node id '" + options.id +
                                   "' is not 1-64 letters, digits, '-', '_' or '.'");
  }
  if (options.url.empty()) return Status::InvalidArgument("node registry: no advertised URL");
  if (options.heartbeat_interval_ns <= 0 ||
      options.node_timeout_ns <= options.heartbeat_interval_ns) {
    return Status::InvalidArgument(
        "node registry: node_timeout must be longer than the heartbeat interval (" +
        std::to_string(options.heartbeat_interval_ns / kNanosPerMilli) + " ms), got " +
        std::to_string(options.node_timeout_ns / kNanosPerMilli) + " ms");
  }
  if (options.clock == nullptr) options.clock = Clock::Real();
  const int64_t started = options.clock->NowNanos();
  std::unique_ptr<NodeRegistry> registry(new NodeRegistry(catalog, std::move(options), started));
  if (Status first = registry->Beat(); !first.ok()) {
    return first.WithContext("registering node " + registry->id() + " in the catalog");
  }
  if (registry->options_.background) {
    NodeRegistry* r = registry.get();
    r->worker_.Start(r->options_.heartbeat_interval_ns, [r] { r->BeatAndLog(); });
  }
  spdlog::info("node {} (incarnation {}) registered at {}", registry->id(), started,
               registry->url());
  return registry;
}

NodeRegistry::~NodeRegistry() { Stop(/*remove=*/false); }

void NodeRegistry::Stop(bool remove) {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  worker_.Stop();
  if (!remove) return;
  // Only our own incarnation's row: a newer process with this id keeps its registration. The
  // catalog records when we left (node_gone), so that the others merge the segments we had not
  // confirmed only once no query that asked us can still run (docs/cluster.md "Compaction and
  // tier moves on cluster nodes").
  Status left = catalog_->LeaveCluster(id(), started_ns_, options_.clock->NowNanos());
  if (!left.ok() && !left.IsNotFound()) {
    spdlog::warn(
        "node {}: cannot remove its row on shutdown ({}); the others see it dead after "
        "node_timeout",
        id(), left.ToString());
  }
}

std::vector<NodeView> NodeRegistry::Classify(const std::vector<catalog::NodeRow>& rows) const {
  const int64_t now = options_.clock->NowNanos();
  std::vector<NodeView> out;
  out.reserve(rows.size());
  for (const catalog::NodeRow& row : rows) {
    NodeView view{row, HeartbeatLive(row, now, options_.node_timeout_ns),
                  row.id == id() && row.started_ns == started_ns_};
    out.push_back(std::move(view));
  }
  return out;
}

Status NodeRegistry::Beat() {
  const int64_t now = options_.clock->NowNanos();
  const int64_t mono = options_.clock->MonotonicNanos();
  // Before writing: a row of our id with a later incarnation means another process took the id,
  // or another node fenced the id out while it was dead (the row's heartbeat is older than its
  // incarnation: FenceDeadNode leaves it). The catalog decides which of the two refuses us.
  std::optional<catalog::NodeRow> later;
  auto rows = catalog_->ListNodes();
  if (rows.ok()) {
    for (const catalog::NodeRow& row : *rows) {
      if (row.id == id() && row.started_ns > started_ns_) later = row;
    }
  }
  catalog::NodeRow self{id(), url(), started_ns_, now};
  {
    MutexLock lock(&confirmed_mu_);
    if (confirmed_fn_) confirmed_ = confirmed_fn_();
    self.confirmed_through = confirmed_;
  }
  const bool with_settings = !settings_written_.load();
  if (with_settings) self.settings = options_.settings;
  Status status = catalog_->Heartbeat(self);
  if (status.ok() && with_settings) settings_written_.store(true);
  const bool fence = later.has_value() && later->heartbeat_ns < later->started_ns;
  if (status.ok() && fence) {
    // A restart whose start time is below a fence aimed at an earlier incarnation (the fence
    // committed between this process's start and its first heartbeat, or the fencing node's
    // clock is ahead): the catalog let this process take the row (docs/cluster.md "Gone nodes").
    spdlog::warn(
        "node {}: registered over the fence another node set at {} ns on an earlier incarnation "
        "of this id while it was dead; this process (incarnation {}) holds nothing of it",
        id(), later->started_ns, started_ns_);
  } else if (!status.ok() && status.code() == StatusCode::kFailedPrecondition && fence) {
    spdlog::error(
        "node {}: another node fenced this process out at {} ns while it was dead (no "
        "heartbeat for longer than node_timeout; its WAL objects were taken over or flushed): "
        "it answers and writes nothing more; restart it",
        id(), later->started_ns);
  } else if (!status.ok() && status.code() == StatusCode::kFailedPrecondition && later) {
    Metrics().id_conflicts->Increment();
    spdlog::error(
        "node {}: the catalog names another process with this node id (started at {} ns, "
        "url {}; this one started at {} ns, url {}): two servers share one data "
        "directory's node_id, so each overwrites the other's registration",
        id(), later->started_ns, later->url, started_ns_, url());
  }
  if (!status.ok()) {
    Metrics().heartbeat_failures->Increment();
    MarkUnreachable();
    return status;
  }
  if (rows.ok()) {
    // The peers as listed before the write (one round trip ago), and this node's own row as the
    // write just left it: no second listing per beat.
    std::erase_if(*rows, [&](const catalog::NodeRow& row) { return row.id == id(); });
    rows->push_back(self);
  } else {
    rows = catalog_->ListNodes();
    if (!rows.ok()) {
      MarkUnreachable();
      return rows.status();
    }
  }
  std::vector<catalog::NodeRow> peers;
  size_t live = 0;
  for (NodeView& view : Classify(*rows)) {
    if (!view.live) continue;
    ++live;
    if (view.row.id != id()) peers.push_back(std::move(view.row));
  }
  MutexLock lock(&mu_);
  peers_ = std::move(peers);
  live_ = std::max<size_t>(live, 1);
  // After the peers it counts: whoever sees the gauge (a test waiting for it) asks them.
  Metrics().live_nodes->Set(static_cast<double>(live));
  last_ok_ns_ = now;
  if (reachable_since_ns_ == 0) reachable_since_ns_ = now;
  // Counted in the same step as the heartbeat becomes the newest: whoever sees it fresh (Own)
  // sees the gap before it too. Measured to the end of this write, not its start: until it
  // committed, the catalog showed the one before (a write held up for long, PostgreSQL slow or
  // cut, is a gap too, docs/cluster.md "Fenced answers").
  const int64_t written = options_.clock->MonotonicNanos();
  if (last_ok_mono_ != 0 && written - last_ok_mono_ > may_look_dead_after_ns()) ++gaps_;
  last_ok_mono_ = std::max(last_ok_mono_, mono);
  return Status::OK();
}

NodeRegistry::OwnBeats NodeRegistry::Own() const {
  const int64_t mono = options_.clock->MonotonicNanos();
  MutexLock lock(&mu_);
  OwnBeats own;
  own.age_ns = last_ok_mono_ == 0 ? INT64_MAX : mono - last_ok_mono_;
  own.gaps = gaps_;
  return own;
}

void NodeRegistry::MarkUnreachable() {
  MutexLock lock(&mu_);
  reachable_since_ns_ = 0;
}

bool NodeRegistry::CatalogSteadyForNodeTimeout() const {
  const int64_t now = options_.clock->NowNanos();
  MutexLock lock(&mu_);
  return reachable_since_ns_ != 0 && now - reachable_since_ns_ >= options_.node_timeout_ns;
}

void NodeRegistry::SetConfirmedThrough(std::function<uint64_t()> fn) {
  MutexLock lock(&confirmed_mu_);
  confirmed_fn_ = std::move(fn);
}

void NodeRegistry::BeatAndLog() {
  Status status = Beat();
  if (status.ok()) {
    if (failures_ > 0) spdlog::info("node {}: heartbeat written again", id());
    failures_ = 0;
    return;
  }
  // Logged at the first failure and then once a minute's worth of heartbeats.
  if (failures_++ % 30 == 0) {
    spdlog::warn(
        "node {}: heartbeat failed ({} in a row): {}; other nodes see it dead after "
        "node_timeout",
        id(), failures_, status.ToString());
  }
}

std::vector<catalog::NodeRow> NodeRegistry::Peers() const {
  MutexLock lock(&mu_);
  return peers_;
}

size_t NodeRegistry::LiveCount() const {
  MutexLock lock(&mu_);
  return live_;
}

Result<std::vector<NodeView>> NodeRegistry::List() const {
  ASSIGN_OR_RETURN(std::vector<catalog::NodeRow> rows, catalog_->ListNodes());
  return Classify(rows);
}

bool HeartbeatLive(const catalog::NodeRow& row, int64_t now_ns, int64_t node_timeout_ns) {
  return now_ns - row.heartbeat_ns <= node_timeout_ns;
}

Result<WatchedNodes> WatchLiveNodes(const catalog::Catalog* catalog,
                                    std::vector<catalog::NodeRow> first, int64_t first_read_mono_ns,
                                    int64_t heartbeat_interval_ns, int64_t node_timeout_ns,
                                    int64_t poll_ns) {
  const Clock* clock = Clock::Real();  // its monotonic time only: how long this watched
  const int64_t start = first_read_mono_ns;
  std::map<std::string, int64_t> first_beat;
  for (const catalog::NodeRow& row : first) first_beat[row.id] = row.heartbeat_ns;
  WatchedNodes out;
  std::vector<catalog::NodeRow> rows = std::move(first);
  while (!rows.empty()) {
    out.watched_ns = clock->MonotonicNanos() - start;
    out.registered.clear();
    for (const catalog::NodeRow& row : rows) out.registered[row.id] = row.started_ns;
    // Every node beating has written a heartbeat after one interval of watching (before, a
    // node whose clock is ahead would make those not beaten yet look old).
    const bool waited_interval = out.watched_ns >= heartbeat_interval_ns;
    const bool waited_enough = out.watched_ns >= node_timeout_ns + heartbeat_interval_ns;
    // Live: advanced (or registered) since the first read. The newest of their heartbeats is
    // the nodes' own "now", at most one interval behind it.
    std::vector<catalog::NodeRow> live;
    std::optional<int64_t> reference;
    for (const catalog::NodeRow& row : rows) {
      auto before = first_beat.find(row.id);
      if (before != first_beat.end() && row.heartbeat_ns <= before->second) continue;
      reference = std::max(reference.value_or(row.heartbeat_ns), row.heartbeat_ns);
      live.push_back(row);
    }
    bool undecided = false;
    for (const catalog::NodeRow& row : rows) {
      auto before = first_beat.find(row.id);
      if (before == first_beat.end() || row.heartbeat_ns > before->second) continue;
      if (!waited_interval || !reference.has_value() ||
          HeartbeatLive(row, *reference, node_timeout_ns)) {
        undecided = true;  // stalled, or stopped lately: as the others would judge it, later
      }
    }
    if (!undecided || waited_enough) {
      out.live = std::move(live);
      return out;
    }
    std::this_thread::sleep_for(std::chrono::nanoseconds(poll_ns));
    ASSIGN_OR_RETURN(rows, catalog->ListNodes());
  }
  out.watched_ns = clock->MonotonicNanos() - start;
  return out;
}

Result<std::string> LoadOrCreateNodeId(const std::string& data_dir) {
  const std::filesystem::path path = std::filesystem::path(data_dir) / "node_id";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::string id;
    if (!in || !std::getline(in, id)) {
      return Status::IOError("cannot read the node id from " + path.string());
    }
    if (!ValidId(id)) {
      return Status::DataLoss(path.string() + " holds no valid node id ('" + id.substr(0, 80) +
                              "'); remove it to make a new one");
    }
    return id;
  }
  std::random_device device;
  std::ostringstream id;
  id << HostLabel() << '-' << std::hex;
  for (int i = 0; i < 4; ++i) {
    id.width(4);
    id.fill('0');
    id << (device() & 0xffff);
  }
  // The first start of a server whose data directory does not exist yet: the id comes first.
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return Status::IOError("cannot create the data directory " + data_dir + ": " + ec.message());
  const std::string tmp = path.string() + ".tmp";
  const std::string text = id.str() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot write the node id to " + path.string() + ": " +
                           std::strerror(errno));
  }
  int dir = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return id.str();
}

std::string DefaultAdvertiseUrl(const std::string& scheme, const std::string& bind_address,
                                int port) {
  std::string host = bind_address;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0' ? name : "127.0.0.1";
  } else if (host.find(':') != std::string::npos && host.front() != '[') {
    host = "[" + host + "]";
  }
  return scheme + "://" + host + ":" + std::to_string(port);
}

std::string AdvertisedHost(const std::string& advertise_url, const std::string& bind_address) {
  if (advertise_url.empty()) {
    if (!bind_address.empty() && bind_address != "0.0.0.0" && bind_address != "::") return "";
    char name[256] = {};
    return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string();
  }
  std::string_view rest = advertise_url;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  rest = rest.substr(0, rest.find('/'));
  // Host without the port ([v6] keeps its brackets off).
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    return close == std::string_view::npos ? std::string() : std::string(rest.substr(1, close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

}  // namespace sawmill::cluster
