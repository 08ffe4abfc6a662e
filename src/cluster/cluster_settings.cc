#include "cluster/cluster_settings.h"

#include <algorithm>

namespace sawmill::cluster {
namespace {

// The heartbeat age up to which a node with these values vouches for another node's answer
// (NodeRegistry::may_look_dead_after_ns): halfway between node_heartbeat and node_timeout.
uint64_t HalfwayMark(uint64_t heartbeat, uint64_t timeout) {
  // An invalid recorded pair (timeout not above heartbeat) must not wrap around.
  return timeout <= heartbeat ? heartbeat : heartbeat + (timeout - heartbeat) / 2;
}

std::string NodeList(const std::vector<std::string>& live) {
  std::string out;
  for (size_t i = 0; i < live.size() && i < 5; ++i) out += (i == 0 ? "" : ", ") + live[i];
  if (live.size() > 5) out += ", ...";
  return out;
}

}  // namespace

uint64_t ValueOf(const std::map<std::string, uint64_t>& values, std::string_view name) {
  auto it = values.find(std::string(name));
  return it == values.end() ? 0 : it->second;
}

const std::vector<ClusterWideSetting>& ClusterWideSettings() {
  static const std::vector<ClusterWideSetting> kSettings = {
      {kNodeHeartbeat,
       "a node vouches for another node's answer while that node's heartbeat is younger than "
       "halfway between node_heartbeat and node_timeout, which holds only when nobody takes a "
       "node over sooner; otherwise an answer counts a taken-over node's lines twice"},
      {kNodeTimeout,
       "a node takes another over after node_timeout without a heartbeat, and vouches for "
       "answers by the halfway mark between node_heartbeat and node_timeout: a node with a "
       "shorter node_timeout may take over a node whose answer another node still vouches "
       "for, and that answer counts its lines twice"},
      {kQueryTimeout,
       "a node merges and re-encodes a segment only once it is older than its query_timeout: a "
       "node with a shorter one may merge while a longer query on another node holds the lines, "
       "and that answer counts them twice"},
      {kIdempotencyWindow,
       "a retried batch is recognised only within the shortest window of the nodes: a retry "
       "later than that through another node is stored again"},
  };
  return kSettings;
}

const ClusterWideSetting* FindClusterWideSetting(std::string_view name) {
  for (const ClusterWideSetting& setting : ClusterWideSettings()) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

namespace {

// Compares the node's settings with "recorded" (the catalog's): the values the node would run
// ("merged": recorded where recorded and not given, else the node's), the lines of what it
// adopts, and the refusal for given values that differ. Writes nothing.
Status CompareWithRecorded(std::string_view where, const std::vector<NodeSetting>& settings,
                           const std::map<std::string, uint64_t>& recorded,
                           std::map<std::string, uint64_t>* merged,
                           std::vector<std::string>* adopted) {
  std::string differ, names;
  merged->clear();
  adopted->clear();
  for (const NodeSetting& setting : settings) {
    const std::string name(setting.name);
    auto it = recorded.find(name);
    if (it == recorded.end() || it->second == *setting.value) {
      (*merged)[name] = *setting.value;
      continue;
    }
    if (!setting.given) {
      adopted->push_back(name + " = " + FormatMillis(it->second) + " from the catalog (the " +
                         "cluster's; this node's default is " + FormatMillis(*setting.value) + ")");
      (*merged)[name] = it->second;
      continue;
    }
    differ += (differ.empty() ? "" : "; ") + name + " = " + FormatMillis(*setting.value) +
              " in this node's configuration, but the cluster's is " + FormatMillis(it->second) +
              " (" + std::string(FindClusterWideSetting(setting.name)->why) + ")";
    names += (names.empty() ? "" : ", ") + FlagForKey(setting.name);
  }
  if (differ.empty()) {
    // Recorded values and this node's given ones together must still be a valid pair (e.g. a
    // heartbeat recorded at 5s and this node's node_timeout of 3s, not recorded yet).
    auto hb = merged->find(std::string(kNodeHeartbeat)),
         to = merged->find(std::string(kNodeTimeout));
    if (hb != merged->end() && to != merged->end() && to->second <= hb->second) {
      return Status::FailedPrecondition(
          "cluster-wide settings: with the values recorded in catalog " + std::string(where) +
          " this node would run node_timeout " + FormatMillis(to->second) +
          ", not longer than node_heartbeat " + FormatMillis(hb->second) +
          ": start it with values that keep node_timeout above node_heartbeat (sawmill admin "
          "settings --catalog " +
          std::string(where) + " shows the recorded ones)");
    }
    return Status::OK();
  }
  return Status::FailedPrecondition(
      "cluster-wide settings: every node of the cluster of catalog " + std::string(where) +
      " must have the same values, recorded in that catalog: " + differ +
      ". Start this node without " + names +
      " (flag or --config key) to take the cluster's values, or with them; to change the "
      "cluster's value: sawmill admin settings set NAME VALUE --catalog " +
      std::string(where) +
      ", which each node takes at its next start (docs/cluster.md \"Cluster-wide settings\")");
}

}  // namespace

Status SettleNodeSettings(catalog::Catalog* catalog, std::string_view where,
                          const std::vector<NodeSetting>& settings,
                          std::vector<std::string>* adopted) {
  for (const NodeSetting& setting : settings) {
    if (FindClusterWideSetting(setting.name) == nullptr || setting.value == nullptr) {
      return Status::InvalidArgument("cluster settings: '" + std::string(setting.name) +
                                     "' is not a cluster-wide setting");
    }
  }
  // Read and compare everything first and refuse before writing anything; then record what is
  // missing in one transaction, which records nothing when another node recorded any of it
  // meanwhile: then compare again with that. Each round that records nothing found at least one
  // more setting recorded, so this ends after at most one round per setting.
  std::map<std::string, uint64_t> merged;
  std::vector<std::string> lines;
  for (size_t round = 0; round <= settings.size(); ++round) {
    ASSIGN_OR_RETURN(auto recorded, catalog->ReadSettings());
    RETURN_IF_ERROR(CompareWithRecorded(where, settings, recorded, &merged, &lines));
    std::map<std::string, uint64_t> missing;
    for (const auto& [name, value] : merged) {
      if (recorded.count(name) == 0) missing[name] = value;
    }
    bool settled = missing.empty();
    if (!settled) {
      ASSIGN_OR_RETURN(auto now, catalog->SettleSettings(missing));
      settled = now == missing;
    }
    if (!settled) continue;
    for (const NodeSetting& setting : settings) *setting.value = merged[std::string(setting.name)];
    if (adopted != nullptr) adopted->insert(adopted->end(), lines.begin(), lines.end());
    return Status::OK();
  }
  return Status::Unavailable("cluster-wide settings: catalog " + std::string(where) +
                             " kept changing while this node settled them; start it again");
}

Status CheckSettledSettingsUnchanged(catalog::Catalog* catalog, std::string_view where,
                                     const std::map<std::string, uint64_t>& settled) {
  ASSIGN_OR_RETURN(const auto recorded, catalog->ReadSettings());
  std::string changed;
  for (const auto& [name, value] : settled) {
    auto it = recorded.find(name);
    if (it == recorded.end() || it->second == value) continue;
    changed += (changed.empty() ? "" : "; ") + name + " was " + FormatMillis(value) +
               " when this node took it, and is now " + FormatMillis(it->second);
  }
  if (changed.empty()) return Status::OK();
  return Status::FailedPrecondition(
      "cluster-wide settings changed while this node started: restart it (" + changed +
      ", in catalog " + std::string(where) +
      "; changed by sawmill admin settings set before this node was live, so that change was "
      "checked without it, and this node would run the old value; docs/cluster.md "
      "\"Cluster-wide settings\")");
}

Status CheckSettingChange(std::string_view name, uint64_t value,
                          const std::map<std::string, uint64_t>& current,
                          const std::vector<std::string>& live,
                          const std::vector<std::map<std::string, uint64_t>>& running) {
  if (FindClusterWideSetting(name) == nullptr) {
    std::string known;
    for (const ClusterWideSetting& s : ClusterWideSettings()) {
      known += (known.empty() ? "" : ", ") + std::string(s.name);
    }
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' is not a cluster-wide setting (those are " + known + ")");
  }
  std::map<std::string, uint64_t> next = current;
  next[std::string(name)] = value;
  const uint64_t heartbeat0 = ValueOf(current, kNodeHeartbeat),
                 timeout0 = ValueOf(current, kNodeTimeout);
  const uint64_t heartbeat1 = ValueOf(next, kNodeHeartbeat), timeout1 = ValueOf(next, kNodeTimeout);
  if (timeout1 <= heartbeat1) {
    return Status::InvalidArgument("node_timeout (" + FormatMillis(timeout1) +
                                   ") must be longer than node_heartbeat (" +
                                   FormatMillis(heartbeat1) + ")");
  }
  if (value == ValueOf(current, name) || live.empty()) return Status::OK();
  const std::string nodes = std::to_string(live.size()) + " node" +
                            (live.size() == 1 ? " is" : "s are") + " live (" + NodeList(live) +
                            ") and take" + (live.size() == 1 ? "s" : "") +
                            " the new value only as each restarts";
  if (name == kNodeHeartbeat || name == kNodeTimeout) {
    // Until every node restarted, nodes of both values run side by side: each one's halfway
    // mark must stay below each one's node_timeout, by a heartbeat for clocks and the answer's
    // way back, or a node vouches for an answer of a node another one has taken over already.
    uint64_t halfway =
        std::max(HalfwayMark(heartbeat0, timeout0), HalfwayMark(heartbeat1, timeout1));
    uint64_t shortest = std::min(timeout0, timeout1);
    uint64_t margin = std::max(heartbeat0, heartbeat1);
    for (const std::map<std::string, uint64_t>& values : running) {
      // A value a node does not name is the recorded one ("current").
      auto of = [&](std::string_view n) {
        return values.count(std::string(n)) > 0 ? ValueOf(values, n) : ValueOf(current, n);
      };
      halfway = std::max(halfway, HalfwayMark(of(kNodeHeartbeat), of(kNodeTimeout)));
      shortest = std::min(shortest, of(kNodeTimeout));
      margin = std::max(margin, of(kNodeHeartbeat));
    }
    if (halfway + margin <= shortest) return Status::OK();
    return Status::FailedPrecondition(
        nodes + ": meanwhile a node vouches for answers of nodes whose heartbeat is up to " +
        FormatMillis(halfway) + " old while another takes a node over after " +
        FormatMillis(shortest) + " without one (at least one node_heartbeat, " +
        FormatMillis(margin) +
        ", must lie between), so an answer could count a taken-over node's lines twice. Change "
        "it in smaller steps, restarting every node between them, or stop every node, change it "
        "and start them");
  }
  if (name == kQueryTimeout) {
    return Status::FailedPrecondition(
        nodes +
        ": meanwhile a node merges segments after the shorter query_timeout while a query "
        "on a node of the longer one may still hold their lines, and its answer would count "
        "them twice. Stop every node, change it and start them");
  }
  return Status::OK();  // idempotency_window: the shorter window holds until every node took it
}

}  // namespace sawmill::cluster
