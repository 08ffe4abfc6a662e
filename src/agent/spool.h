// The agent's bounded on-disk FIFO of batches. Every batch is written here (and fsynced) before
// it is sent, so a batch keeps its sequence number - and so its Idempotency-Key - across a crash:
// a restarted agent resends exactly the batches it may have sent, and the read positions stored
// in each batch keep it from re-batching lines that are already in one.
//
// A batch holds up to three sections, one per level class, each zstd-compressed on its own, so
// that the priority rules can drop the oldest DEBUG (then INFO) lines by rewriting one file
// without touching its WARN+ lines. File format: docs/agent.md "On-disk formats".
//
// Thread-safety: all methods are thread-safe. Append, DropOldest and RemoveAcked must be called
// from one thread (the pipeline); Append writes outside the mutex, DropOldest rewrites under it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/checkpoint.h"
#include "common/env.h"
#include "common/mutex.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::agent {

// Level classes in drop order: kLow (TRACE, DEBUG) first, then kInfo (INFO and lines without a
// level), never kHigh (WARN, ERROR, FATAL).
enum class LevelClass : uint8_t { kLow = 0, kInfo = 1, kHigh = 2 };
inline constexpr int kLevelClassCount = 3;
LevelClass ClassOf(Level level);
std::string_view LevelClassName(LevelClass cls);

using LevelCounts = std::array<uint64_t, kLevelCount>;  // indexed by static_cast<int>(Level)

struct BatchSection {
  LevelClass cls = LevelClass::kInfo;
  uint32_t lines = 0;
  uint32_t raw_bytes = 0;  // uncompressed NDJSON bytes
  LevelCounts counts{};
  std::string data;  // one zstd frame of NDJSON
};

struct SpoolBatch {
  uint64_t seq = 0;
  int64_t created_ns = 0;
  std::vector<FileCursor> cursors;  // read positions once this batch (and all before) is stored
  std::vector<BatchSection> sections;

  uint64_t Lines() const;
  LevelCounts Counts() const;
};

std::string EncodeBatch(const SpoolBatch& batch);
// Errors: DataLoss saying what is wrong.
Result<SpoolBatch> DecodeBatch(std::string_view data);

// Lines removed from the spool by the priority rules.
struct SpoolDrop {
  uint64_t seq = 0;
  LevelCounts counts{};
};

class Spool {
 public:
  // Opens (creating) "dir" and indexes the batches in it, oldest first. Unreadable headers are
  // renamed to *.corrupt and counted. Errors: IOError when the directory cannot be used.
  static Result<std::unique_ptr<Spool>> Open(Env* env, const std::string& dir, uint64_t max_bytes);

  // Read positions recorded in the batches found at Open(), merged per file.
  const std::vector<FileCursor>& RecoveredCursors() const { return recovered_cursors_; }
  uint64_t MaxSeq() const { return max_seq_; }
  uint64_t CorruptFiles() const { return corrupt_files_; }

  // Writes the batch durably. Errors: ResourceExhausted when it does not fit in max_bytes (the
  // caller applies the drop rules and retries, or stops reading); IOError.
  Status Append(const SpoolBatch& batch);

  // Removes the "cls" section of the oldest batch that has one and is not being sent. Returns
  // nullopt when there is none. A batch left with no section is treated as acknowledged.
  std::optional<SpoolDrop> DropOldest(LevelClass cls);

  enum class Pick { kOldest, kNewest };
  // The next batch to send, marked in flight; nullopt when there is nothing to send.
  std::optional<uint64_t> NextToSend(Pick pick);
  // Loads a batch for sending. Errors: DataLoss (the file is renamed *.corrupt and forgotten;
  // "*lost" receives its counts), IOError.
  Result<SpoolBatch> Load(uint64_t seq, LevelCounts* lost);
  // The server stored the batch (or the batch was dropped): its file is removed by the next
  // RemoveAcked().
  void Ack(uint64_t seq);
  // Sending failed; the batch may be picked again.
  void Release(uint64_t seq);
  // Removes the files of every batch acknowledged before this call. Call only after a
  // checkpoint that covers their read positions is durable.
  void RemoveAcked(const std::vector<uint64_t>& seqs);
  std::vector<uint64_t> AckedSeqs() const;

  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t UsedBytes() const;
  size_t PendingBatches() const;
  // Created time of the oldest unsent batch, or nullopt.
  std::optional<int64_t> OldestCreatedNs() const;
  // Lines per level class of unsent batches.
  std::array<uint64_t, kLevelClassCount> PendingLinesByClass() const;

 private:
  struct Entry {
    int64_t created_ns = 0;
    uint64_t file_bytes = 0;
    std::array<uint64_t, kLevelClassCount> class_lines{};
    bool acked = false;
    bool in_flight = false;
  };
  Spool(Env* env, std::string dir, uint64_t max_bytes)
      : env_(env), dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string PathOf(uint64_t seq) const;
  void Quarantine(const std::string& path);

  Env* const env_;
  const std::string dir_;
  const uint64_t max_bytes_;
  std::vector<FileCursor> recovered_cursors_;
  uint64_t max_seq_ = 0;
  uint64_t corrupt_files_ = 0;

  mutable Mutex mu_;
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
  uint64_t used_bytes_ GUARDED_BY(mu_) = 0;  // bytes of unacknowledged batches
};

}  // namespace sawmill::agent
