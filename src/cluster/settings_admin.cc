#include "cluster/settings_admin.h"

#include <algorithm>

#include "cluster/cluster_settings.h"
#include "cluster/node_registry.h"
#include "common/clock.h"

namespace sawmill::cluster {
namespace {

// "a runs node_timeout 10s (14s recorded)..." for a live node whose values of "names" (every
// cluster-wide setting when empty) differ; "" when none does.
std::string DescribeNode(const catalog::NodeRow& row,
                         const std::map<std::string, uint64_t>& current,
                         const std::vector<std::string_view>& names = {}) {
  if (RunsUnknownValues(row)) {
    return row.id +
           " recorded no values (a build that records none: upgrade and restart it): it may run "
           "other values than the recorded ones";
  }
  std::string differ;
  for (const ClusterWideSetting& setting : ClusterWideSettings()) {
    if (!names.empty() && std::find(names.begin(), names.end(), setting.name) == names.end()) {
      continue;
    }
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

Result<ClusterSettingsView> ReadClusterSettings(const catalog::Catalog* catalog,
                                                const std::map<std::string, uint64_t>& defaults) {
  ClusterSettingsView view;
  ASSIGN_OR_RETURN(view.recorded, catalog->ReadSettings());
  for (const ClusterWideSetting& setting : ClusterWideSettings()) {
    const std::string name(setting.name);
    auto it = view.recorded.find(name);
    view.current[name] = it != view.recorded.end() ? it->second : ValueOf(defaults, name);
  }
  return view;
}

Status WatchLiveNodeValues(const catalog::Catalog* catalog, ClusterSettingsView* view) {
  // Watched for the longest heartbeat and timeout any node may run: the recorded ones (the
  // defaults where none is), and those of every registered node (one not restarted since a
  // change runs another).
  // That listing is the watch's first read: one listing, not two.
  uint64_t heartbeat = ValueOf(view->current, kNodeHeartbeat);
  uint64_t timeout = ValueOf(view->current, kNodeTimeout);
  const int64_t listed_mono = Clock::Real()->MonotonicNanos();
  ASSIGN_OR_RETURN(std::vector<catalog::NodeRow> rows, catalog->ListNodes());
  for (const catalog::NodeRow& row : rows) {
    heartbeat = std::max(heartbeat, ValueOf(row.settings, kNodeHeartbeat));
    timeout = std::max(timeout, ValueOf(row.settings, kNodeTimeout));
  }
  ASSIGN_OR_RETURN(WatchedNodes watched,
                   WatchLiveNodes(catalog, std::move(rows), listed_mono, MillisToNanos(heartbeat),
                                  MillisToNanos(timeout)));
  view->live = std::move(watched.live);
  view->watched_ns = watched.watched_ns;
  view->registered = std::move(watched.registered);
  return Status::OK();
}

Result<ClusterSettingsView> ReadClusterSettingsView(
    const catalog::Catalog* catalog, const std::map<std::string, uint64_t>& defaults) {
  ASSIGN_OR_RETURN(ClusterSettingsView view, ReadClusterSettings(catalog, defaults));
  RETURN_IF_ERROR(WatchLiveNodeValues(catalog, &view));
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
  // The nodes a refusal names: those whose values of the changed setting differ (of node_heartbeat
  // or node_timeout, the pair, which are checked together).
  std::vector<std::string_view> relevant = {name};
  if (name == kNodeHeartbeat || name == kNodeTimeout) relevant = {kNodeHeartbeat, kNodeTimeout};
  std::vector<std::string> live, unknown, differ;
  std::vector<std::map<std::string, uint64_t>> running;
  for (const catalog::NodeRow& row : view.live) {
    live.push_back(row.id);
    if (RunsUnknownValues(row)) {
      unknown.push_back(row.id);
    } else {
      running.push_back(row.settings);
      if (std::string line = DescribeNode(row, view.current, relevant); !line.empty()) {
        differ.push_back(line);
      }
    }
  }
  Status checked = CheckSettingChange(name, value, view.current, live, running);
  if (checked.code() == StatusCode::kInvalidArgument) return checked;
  if (!unknown.empty() && name != kIdempotencyWindow && value != ValueOf(view.current, name)) {
    std::string nodes;
    for (const std::string& id : unknown) nodes += (nodes.empty() ? "" : ", ") + id;
    return Status::FailedPrecondition(
        std::to_string(unknown.size()) + (unknown.size() == 1 ? " live node (" : " live nodes (") +
        nodes + ") recorded no values: of a build that records none, it may run another " +
        std::string(name) + " than the " +
        (view.recorded.count(std::string(name)) > 0 ? "recorded " : "default ") +
        FormatMillis(ValueOf(view.current, name)) +
        ", so no change of it can be checked as safe. Upgrade those nodes to this build and "
        "restart them first (each records its values at start), or stop every node, change it "
        "and start them");
  }
  if (checked.ok() || differ.empty()) return checked;
  std::string why;
  for (const std::string& line : differ) why += "; " + line;
  return Status::FailedPrecondition(checked.message() + " (node " + why.substr(2) + ")");
}

}  // namespace sawmill::cluster
