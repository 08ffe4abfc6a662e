// Settings every node of a cluster must share (docs/cluster.md "Cluster-wide settings"): a node
// with another value than the others' loses or doubles no stored line, but its answers (or its
// promise to retrying clients) differ from theirs, e.g. an answer counting a taken-over node's
// lines twice. The catalog holds each one once (Catalog::SettleSetting); a node whose value was
// not given adopts it, a node given another value is refused at start, and an operator changes
// it with `sawmill admin settings set` (CheckSettingChange), each node taking it at its next start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/config_values.h"
#include "sawmill/status.h"

namespace sawmill::cluster {

// A cluster-wide setting: a server option of `sawmill server` (src/http/server_config.h, kept in
// milliseconds) and the setting's name in the catalog.
struct ClusterWideSetting {
  std::string_view name;  // "node_timeout": the option, its flag --node-timeout, the catalog's name
  std::string_view why;   // what nodes with different values get wrong (for messages)
};

// Their names.
inline constexpr std::string_view kNodeHeartbeat = "node_heartbeat";
inline constexpr std::string_view kNodeTimeout = "node_timeout";
inline constexpr std::string_view kQueryTimeout = "query_timeout";
inline constexpr std::string_view kIdempotencyWindow = "idempotency_window";

// node_heartbeat, node_timeout, query_timeout, idempotency_window.
const std::vector<ClusterWideSetting>& ClusterWideSettings();

// The value of setting "name" in "values" (name -> milliseconds); 0 where it is absent.
uint64_t ValueOf(const std::map<std::string, uint64_t>& values, std::string_view name);
// nullptr for a name that is not cluster-wide.
const ClusterWideSetting* FindClusterWideSetting(std::string_view name);

// One cluster-wide setting as this node is configured.
struct NodeSetting {
  std::string_view name;      // of ClusterWideSettings()
  uint64_t* value = nullptr;  // milliseconds; replaced by the recorded value when not "given"
  bool given = false;         // by a flag or the --config file (false: the built-in default)
};

// Settles the node's cluster-wide settings against "catalog": reads and compares them all
// first, refusing before writing anything, then records the settings nothing recorded yet with
// the node's values in one transaction (Catalog::SettleSettings; the first node's values are the
// cluster's, never a mix of two starting nodes'). A recorded value replaces the node's where the
// node's was not given, and refuses the start where it was given and differs, or where with the
// recorded values node_timeout would not be above node_heartbeat. "where": the catalog as messages
// name it (password hidden). "adopted" (may be null): one line per setting taken from the catalog
// with a value other than the node's default, for the log. Errors: FailedPrecondition naming every
// given value that differs, with the recorded one, the catalog and how to start or to change the
// cluster's value; the catalog's errors.
Status SettleNodeSettings(catalog::Catalog* catalog, std::string_view where,
                          const std::vector<NodeSetting>& settings,
                          std::vector<std::string>* adopted);

// Whether an operator may record "value" for "name" now. "current": every cluster-wide
// setting's value as the running nodes have it (the recorded one, or the default where nothing
// is recorded); "live": the ids of the nodes alive now. A node takes a changed value at its next
// start, so while nodes are live some run the old value and some the new one until each
// restarted: allowed only where that mix is safe (node_heartbeat and node_timeout: every
// node's halfway mark, by which it vouches for another's answer, stays at least one heartbeat
// below every node's node_timeout; idempotency_window: the shorter promise holds meanwhile;
// query_timeout: never, a merge after the shorter timeout could meet a longer query).
// "running": the values live nodes run where they differ from "current" (a node not restarted
// since an earlier change; catalog::NodeRow::settings), each in the mix too.
// Errors: InvalidArgument for a name that is not cluster-wide or a node_timeout not above
// node_heartbeat; FailedPrecondition for a change unsafe while "live" run, naming the nodes,
// why, and what to do instead.
Status CheckSettingChange(std::string_view name, uint64_t value,
                          const std::map<std::string, uint64_t>& current,
                          const std::vector<std::string>& live,
                          const std::vector<std::map<std::string, uint64_t>>& running = {});

// A node's check after its registration (its first heartbeat; ClusterNodeOptions::registry):
// until then it is not live, so a change of `sawmill admin settings set` meanwhile was checked
// without it, and the node would run the value it settled while the cluster records another.
// Reads the recorded settings again and compares each of "settled" (name -> milliseconds, the
// values the node settled with SettleNodeSettings) with them; "where": the catalog as messages
// name it. A setting no longer recorded is not a change (nothing removes one).
// Errors: FailedPrecondition "cluster-wide settings changed while this node started: restart
// it", naming every changed setting with the node's value and the recorded one; the catalog's.
Status CheckSettledSettingsUnchanged(catalog::Catalog* catalog, std::string_view where,
                                     const std::map<std::string, uint64_t>& settled);

// "20s", "1500ms", "24h", "90m": milliseconds as the server's flags take them (one definition,
// common/config_values.h).
using ::sawmill::FormatMillis;

}  // namespace sawmill::cluster
