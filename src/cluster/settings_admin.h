// What `sawmill admin settings` (src/cli/admin_settings_command.cc) reads of a cluster's catalog
// and checks a change against (docs/cluster.md "Cluster-wide settings"): the recorded
// cluster-wide settings, the live nodes told by their heartbeats (WatchLiveNodes, not by the
// admin machine's clock), and the values each live node runs (catalog::NodeRow::settings, which
// a node records with its registration): a node not restarted since an earlier change still runs
// the value before it, and a node of an earlier build, which records no values, recorded none.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "sawmill/status.h"

namespace sawmill::cluster {

struct ClusterSettingsView {
  std::map<std::string, uint64_t> recorded;  // every recorded setting (Catalog::ReadSettings)
  // The value of each cluster-wide setting the next node to start takes: the recorded one, or
  // the server's default ("defaults") where none is recorded.
  std::map<std::string, uint64_t> current;
  std::vector<catalog::NodeRow> live;  // WatchLiveNodes', by id, each with what it runs
  int64_t watched_ns = 0;              // how long the heartbeats were watched
  // The incarnations the watch counted, live or dead (WatchedNodes::registered): given to
  // Catalog::ChangeSettingIf, which refuses the change when a node registered since.
  std::map<std::string, int64_t> registered;
};

// The recorded settings and "current" (from "defaults": the server's default of each
// cluster-wide setting, by name, in milliseconds, where none is recorded), without watching the
// nodes: "live" empty. What a value is validated against before the watch.
Result<ClusterSettingsView> ReadClusterSettings(const catalog::Catalog* catalog,
                                                const std::map<std::string, uint64_t>& defaults);

// Fills "view->live" and "view->watched_ns" (ReadClusterSettingsView's watch, "view" read by
// ReadClusterSettings).
Status WatchLiveNodeValues(const catalog::Catalog* catalog, ClusterSettingsView* view);

// ReadClusterSettings, then WatchLiveNodeValues: reads the settings and watches the live nodes for
// the longest node_heartbeat and node_timeout recorded (or in "defaults" where none is: the
// server's default of each cluster-wide setting, by name, in milliseconds) or run by a registered
// node.
Result<ClusterSettingsView> ReadClusterSettingsView(
    const catalog::Catalog* catalog, const std::map<std::string, uint64_t>& defaults);

// True when node "row" recorded no values (a build that records none): it may run any.
bool RunsUnknownValues(const catalog::NodeRow& row);

// One line per live node that runs other values than "view.current" ("a runs node_timeout 10s
// (14s recorded): it started before the change and takes it at its restart") or recorded none.
std::vector<std::string> DescribeLiveNodeValues(const ClusterSettingsView& view);

// Whether an operator may record "value" for cluster-wide setting "name" now: CheckSettingChange
// with "view.current" as the values before, "view.live" as the nodes running, and the values each
// of them runs in the mix (chained changes: 10s -> 14s taken, then 14s -> 18s refused while a
// node still runs 10s). node_heartbeat, node_timeout and query_timeout are refused while a live
// node recorded no values. Errors: CheckSettingChange's (InvalidArgument, FailedPrecondition),
// the latter naming the nodes whose values made it unsafe (those whose value of "name" differs;
// for node_heartbeat and node_timeout, whose value of either does).
Status CheckSettingChangeNow(const ClusterSettingsView& view, std::string_view name,
                             uint64_t value);

}  // namespace sawmill::cluster
