// Read positions of tailed files, and the next batch sequence number, kept in
// "<spool>/checkpoint" (format: docs/agent.md "On-disk formats").
//
// A file is identified by (device, inode) plus a fingerprint: the XXH3 of its first
// "fp_len" bytes (up to kFingerprintBytes), so a reused inode or a copy-truncated file is not
// mistaken for the file that was read before.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::agent {

inline constexpr uint32_t kFingerprintBytes = 1024;

struct FileCursor {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t fingerprint = 0;
  uint32_t fp_len = 0;
  uint64_t offset = 0;  // every byte before it is in a spooled batch (or was dropped)
  std::string path;     // where the file was last seen (informational, and for rotation)

  bool SameFile(const FileCursor& other) const {
    return dev == other.dev && ino == other.ino && fingerprint == other.fingerprint &&
           fp_len == other.fp_len;
  }
};

struct Checkpoint {
  uint64_t next_seq = 1;
  std::vector<FileCursor> files;
};

void EncodeCursors(const std::vector<FileCursor>& cursors, std::string* dst);
bool DecodeCursors(std::string_view* input, std::vector<FileCursor>* cursors);

// Writes the checkpoint durably (temporary file, fsync, rename, directory fsync).
Status WriteCheckpoint(Env* env, const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint. Errors: NotFound when there is none; DataLoss when it is corrupt.
Result<Checkpoint> ReadCheckpoint(Env* env, const std::string& path);

// Adds "cursor" to "*cursors", or raises the offset of the entry for the same file.
void MergeCursor(const FileCursor& cursor, std::vector<FileCursor>* cursors);

}  // namespace sawmill::agent
