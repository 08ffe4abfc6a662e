// Where the engine's segment files live and what the catalog says about them: the path of a
// segment (relative to the data directory, as the catalog stores it), the catalog row of a
// written segment, and the read-back check every new segment passes before it is registered.
//
// Threading: free functions without shared state; callable from any thread.
// Errors: only VerifyWritten fails (below). Durable: nothing is written here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <roaring/roaring64map.hh>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/env.h"
#include "objstore/object_store.h"
#include "sawmill/status.h"
#include "segment/segment.h"

namespace sawmill::storage {

// A tenant name as one safe path component: [A-Za-z0-9_-] and inner dots kept, the rest %XX.
std::string PathComponent(std::string_view s);

// "<tenant>/<id>.seg": a segment's object name in the shared (cluster or cold) store.
std::string SharedSegmentName(std::string_view tenant, uint64_t id);

// "segments/<tier>/<tenant>/<partition>/<id>.seg", relative to the data directory.
std::string SegmentRelPath(const std::string& tier, const std::string& tenant, uint32_t partition,
                           uint64_t id);

// The catalog row (state active) of a segment whose file says "info".
catalog::SegmentRow RowFromInfo(const segment::SegmentInfo& info, std::string path,
                                std::string tier, int64_t now_ns);

// Reads back segment "name" of "store" just written, before it is registered (a flush: before the
// WAL that holds its records may be trimmed; a compaction: before its inputs are deleted), the
// way queries will read it: it must verify (its identity, every block's checksum and encoding)
// and hold exactly "seqs". Errors: DataLoss saying what is wrong; IOError from the store.
Status VerifyWritten(const std::shared_ptr<objstore::ObjectStore>& store, const std::string& name,
                     const segment::SegmentInfo& want, std::vector<uint64_t> seqs);

// What a read-back checks besides the seqs. kEncoded: a segment this process just encoded (a
// flush, a compaction, a warm re-encode): every block decodes as a search decodes it, and the
// encoder's own invariants hold (each ts and ingest_ts inside its block's range, which the writer
// computed from the values before encoding them). kCopied: the bytes of a segment written
// earlier, by any build and in any format version, copied as they are (the move to cold): every
// block decodes as a search decodes it, not the invariants of the build that encoded it (checked
// then, or not before session 19): a copy cannot mend them, and refusing it would keep the
// segment on local disk for good, its move failing every round.
enum class ReadBack { kEncoded, kCopied };

// The same check against the seqs of segments (a compaction's or a tier move's inputs) as a
// set: "rows" rows holding exactly the seqs in "seqs", each once. The set of a segment's seqs is
// a few bytes per run of consecutive seqs, not 8 bytes per row (docs/storage.md, "Compaction
// memory"). "stop" (may be empty) is asked before each block: true ends the read-back with
// Unavailable (a server stopping; the caller abandons what it wrote).
Status VerifyWritten(const std::shared_ptr<objstore::ObjectStore>& store, const std::string& name,
                     const segment::SegmentInfo& want, const Roaring64Map& seqs, uint64_t rows,
                     ReadBack check = ReadBack::kEncoded,
                     const std::function<bool()>& stop = nullptr);

// The one catalog transaction of a compaction or a warm move on a cluster node: "output"
// registered and "inputs" retired (Catalog::Replace; NotFound when another node retired an
// input first). A swap whose answer was lost (Unavailable) may have committed: the output's row
// is then read back (a few tries): found is OK. "*keep_output": the output's object must stay
// (the swap committed, or whether it did is unknown; if no row names it, the orphan sweep
// deletes it later); false when it was certainly not registered.
// After a registration of segment "id" (a flush's, or a swap's output) whose answer was lost:
// the change that registered it, 0 if it certainly was not (Catalog::SegmentRegistration, which
// waits for registrations still in flight), asked up to "tries" times 200 ms apart and more as
// the catalog reconnects. Unavailable (the last error) when no try was answered.
Result<uint64_t> ReadBackRegistration(catalog::Catalog* catalog, uint64_t id, int tries);

// "fence": the job lease the swap is made under (Catalog::Replace), null for none.
Status SwapShared(catalog::Catalog* catalog, const std::vector<uint64_t>& inputs,
                  const catalog::SegmentRow& output, const catalog::LeaseFence* fence,
                  bool* keep_output);

// A cluster node merges or re-encodes a segment that a node flushed only once that node has
// confirmed its registration (docs/cluster.md "Compaction and tier moves on cluster nodes"): a
// flush whose registration's answer was lost keeps its memtable, which the node's answers
// hold, until it learns the outcome, and an output has no origin that would cut it from a
// query, so merged meanwhile its lines would be counted twice. Per node the catalog knows, the
// change through which its segments may be taken (catalog::NodeRow::confirmed_through), or
// UINT64_MAX for every segment once the node answers nobody and no query that asked it can
// still run: it left cleanly or was fenced out while dead (catalog::GoneNodeRow) at least
// "gone_wait_ns" (query_timeout and a margin for stale live lists and clocks) before "now_ns".
// Until then a gone node's number is the one it last wrote.
Result<std::map<std::string, uint64_t>> ConfirmedThroughByNode(catalog::Catalog* catalog,
                                                               int64_t now_ns,
                                                               int64_t gone_wait_ns);
// Whether a segment flushed by "node" and registered by change "registered" may be merged or
// re-encoded: it has no origin (not a flush), the catalog knows nothing of its node (no row,
// none gone: removed by an operator, or a build before node_gone), or the node's number
// (ConfirmedThroughByNode) is at least "registered".
inline bool OriginConfirmed(const std::map<std::string, uint64_t>& confirmed,
                            const std::string& node, uint64_t registered) {
  if (node.empty()) return true;
  auto it = confirmed.find(node);
  return it == confirmed.end() || registered <= it->second;
}

// Adds the seqs of every row of "reader" to "*seqs" and their number to "*rows", reading only
// the seq column block by block. Errors: as SegmentReader::ReadColumnValues.
Status CollectSeqs(const segment::SegmentReader& reader, Roaring64Map* seqs, uint64_t* rows);

}  // namespace sawmill::storage
