#include "cluster/settings_admin.h"

#include <algorithm>

#include "cluster/cluster_settings.h"
#include "cluster/node_registry.h"
#include "common/clock.h"

namespace sawmill::cluster {
namespace {

constexpr std::string_view kHeartbeat = "node_heartbeat";
constexpr std::string_view kTimeout = "node_timeout";
constexpr std::string_view kWindow = "idempotency_window";

uint64_t ValueOf(const std::map<std::string, uint64_t>& values, std::string_view name) {
  auto it = values.find(std::string(name));
  return it == values.end() ? 0 : it->second;
}

int64_t MillisToNanos(uint64_t ms) {
  return static_cast<int64_t>(std::min<uint64_t>(ms, INT64_MAX / kNanosPerMilli / 2)) *
         kNanosPerMilli;
}

// "a runs node_timeout 10s (14s recorded)..." for a live node whose values differ; "" when none
// does.
std::string DescribeNode(const catalog::NodeRow& row,
                         const std::map<std::string, uint64_t>& current) {
  if (RunsUnknownValues(row)) {
    return row.id +
           " recorded no values (a build before session 15): it may run other values than "
           "the recorded ones";
  }
  std::string differ;
  for (const ClusterWideSetting& setting : ClusterWideSettings()) {
    auto it = row.settings.find(std::string(setting.name));
    if (it == row.settings.end() || it->second == ValueOf(current, setting.name)) continue;
    differ += (differ.empty() ? "" : ", ") + std::string(setting.name) + " " +
              FormatMillis(it->second) + " (" + FormatMillis(ValueOf(current, setting.name)) +
              " recorded)";
  }
  if (differ.empty()) return "";
  return row.id + " runs " + differ +
         ": it started before the change and takes the recorded value at its restart";
}

}  // namespace

bool RunsUnknownValues(const catalog::NodeRow& row) { return row.settings.empty(); }

Result<ClusterSettingsView> ReadClusterSettingsView(
    const catalog::Catalog* catalog, const std::map<std::string, uint64_t>& defaults) {
  ClusterSettingsView view;
  ASSIGN_OR_RETURN(view.recorded, catalog->ReadSettings());
  for (const ClusterWideSetting& setting : ClusterWideSettings()) {
    const std::string name(setting.name);
    auto it = view.recorded.find(name);
    view.current[name] = it != view.recorded.end() ? it->second : ValueOf(defaults, name);
  }
  // Watched for the longest heartbeat and timeout any node may run: the recorded ones (the
  // defaults where none is), and those of every registered node (one not restarted since a
  // change runs another).
  uint64_t heartbeat = ValueOf(view.current, kHeartbeat);
  uint64_t timeout = ValueOf(view.current, kTimeout);
  ASSIGN_OR_RETURN(const std::vector<catalog::NodeRow> rows, catalog->ListNodes());
  for (const catalog::NodeRow& row : rows) {
    heartbeat = std::max(heartbeat, ValueOf(row.settings, kHeartbeat));
    timeout = std::max(timeout, ValueOf(row.settings, kTimeout));
  }
  ASSIGN_OR_RETURN(WatchedNodes watched,
                   WatchLiveNodes(catalog, MillisToNanos(heartbeat), MillisToNanos(timeout)));
  view.live = std::move(watched.live);
  view.watched_ns = watched.watched_ns;
  view.registered = std::move(watched.registered);
  return view;
}

std::vector<std::string> DescribeLiveNodeValues(const ClusterSettingsView& view) {
  std::vector<std::string> lines;
  for (const catalog::NodeRow& row : view.live) {
    if (std::string line = DescribeNode(row, view.current); !line.empty()) lines.push_back(line);
  }
  return lines;
}

Status CheckSettingChangeNow(const ClusterSettingsView& view, std::string_view name,
                             uint64_t value) {
  std::vector<std::string> live, unknown, differ;
  std::vector<std::map<std::string, uint64_t>> running;
  for (const catalog::NodeRow& row : view.live) {
    live.push_back(row.id);
    if (RunsUnknownValues(row)) {
      unknown.push_back(row.id);
    } else {
      running.push_back(row.settings);
      if (std::string line = DescribeNode(row, view.current); !line.empty()) {
        differ.push_back(line);
      }
    }
  }
  Status checked = CheckSettingChange(name, value, view.current, live, running);
  if (checked.code() == StatusCode::kInvalidArgument) return checked;
  if (!unknown.empty() && name != kWindow && value != ValueOf(view.current, name)) {
    std::string nodes;
    for (const std::string& id : unknown) nodes += (nodes.empty() ? "" : ", ") + id;
    return Status::FailedPrecondition(
        std::to_string(unknown.size()) + (unknown.size() == 1 ? " live node (" : " live nodes (") +
        nodes +
        ") recorded no values: of a build before session 15, which records none, it may run "
        "another " +
        std::string(name) + " than the " +
        (view.recorded.count(std::string(name)) > 0 ? "recorded " : "default ") +
        FormatMillis(ValueOf(view.current, name)) +
        ", so no change of it can be checked as safe. Restart those nodes with this build "
        "first (each records its values at start), or stop every node, change it and start "
        "them");
  }
  if (checked.ok() || differ.empty()) return checked;
  std::string why;
  for (const std::string& line : differ) why += "; " + line;
  return Status::FailedPrecondition(checked.message() + " (node " + why.substr(2) + ")");
}

}  // namespace sawmill::cluster
