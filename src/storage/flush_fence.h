// A cluster node's fence on its flushes (docs/cluster.md "Fenced flush"): a segment is
// registered only while the node still answers for the WAL objects holding its rows, and rows
// of objects another node took over are left out. Implemented by the WAL step of a cluster node
// (src/cluster/wal_object_writer.h), which the engine asks for it (a wal::WalSink that is also a
// FlushFence); the local WAL is none, and a flush then registers its segment unfenced.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "sawmill/status.h"

namespace sawmill::storage {

class FlushFence {
 public:
  virtual ~FlushFence() = default;
  // Seq ranges [first, last] whose rows this node no longer answers for (their WAL objects
  // were taken over): a flush leaves them out.
  virtual std::vector<std::pair<uint64_t, uint64_t>> LostSeqs() const = 0;
  // The fence of the registration (Catalog::RegisterSegment) of a segment whose rows have the
  // seqs "seqs" (ascending): the objects holding them, and those whose records are all in
  // segments once it is registered ("min_unflushed_after": the smallest seq left in memtables
  // then; called after the objects are read). FailedPrecondition when this process no longer
  // takes part (a later incarnation of its node answers for everything).
  virtual Status PrepareFence(const std::vector<uint64_t>& seqs,
                              const std::function<uint64_t()>& min_unflushed_after,
                              catalog::Catalog::WalFence* fence) = 0;
  // After the catalog refused "fence" (FailedPrecondition): finds every object this node lost
  // (LostSeqs then holds their ranges), logged and counted.
  virtual void Fenced(catalog::Catalog* catalog, const catalog::Catalog::WalFence& fence) = 0;
};

}  // namespace sawmill::storage
