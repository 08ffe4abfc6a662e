// Cluster (docs/cluster.md "Background work by lease"): whether this process may run a round of
// a background job of the storage engine now ("compaction", "tiers"). The server sets the gate
// once, to a claim of the job's lease in the catalog, so that each job runs on one node of a
// cluster at a time. Unset (tests, tools): every round runs. Process-wide, because the engine's
// background threads start inside Engine::Open; one server per process sets it.
#pragma once

#include <functional>
#include <string_view>

namespace sawmill::storage {

// Thread-safe; "gate" may be null (every round runs).
void SetJobGate(std::function<bool(std::string_view job)> gate);
// True when a round of "job" may run now (the gate, or true without one).
bool MayRunJob(std::string_view job);

}  // namespace sawmill::storage
