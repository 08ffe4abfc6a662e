// Tails files matched by globs.
//
// - New files are picked up on every rescan (scan_interval).
// - Each file is tracked by (device, inode) plus a fingerprint of its first bytes, so rotation by
//   rename keeps reading the renamed file through its open descriptor until its end (the rotated
//   file is finished before the new one at the same path is read), and a deleted file is read to
//   its end before it is closed.
// - Copy-truncate is detected when the file shrinks below the read position or its first bytes
//   change; the unread tail is then finished from the copy (a sibling file whose first bytes
//   match) when one exists, and reading restarts at offset 0.
// - Positions come from the checkpoint (and the spool's batches); a file without one starts at
//   the beginning, except at the very first start when start_at is "end".
// - A line longer than max_line_bytes is cut, flagged truncated, and the rest of it skipped
//   without being held in memory. CRLF endings are stripped. A last line without a newline is
//   emitted after partial_line_timeout without growth.
//
// Not thread-safe: used by the pipeline thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/input.h"
#include "agent/inputs/file/container_log.h"

namespace sawmill::agent {

struct FileInputOptions {
  std::vector<std::string> paths;
  std::vector<std::string> exclude;
  bool start_at_end = false;
  int64_t scan_interval_ns = 1'000'000'000;
  int64_t rotate_wait_ns = 1'000'000'000;
  int64_t partial_line_timeout_ns = 1'000'000'000;
  uint64_t max_line_bytes = 128 * 1024;
  size_t max_open_files = 1024;
  // How lines are written (container_log.h); container formats join partial lines and carry
  // the runtime's time and stream.
  LineFormat format = LineFormat::kPlain;
  bool kubernetes = true;         // Kubernetes names from /var/log/containers file names
  bool service_from_pod = false;  // the container name is the service (no `service` set)
};

const std::vector<OptionSpec>& FileInputOptionTable();

// "known" holds the positions recovered from the checkpoint and the spool; "first_start" is true
// when the agent has never run with this spool (start_at applies only then).
Result<std::unique_ptr<Input>> CreateFileInput(const OptionValues& values,
                                               std::unique_ptr<InputContext> context,
                                               uint64_t max_line_bytes,
                                               const std::vector<FileCursor>& known,
                                               bool first_start);

std::unique_ptr<Input> NewFileInput(const FileInputOptions& options,
                                    std::unique_ptr<InputContext> context,
                                    const std::vector<FileCursor>& known, bool first_start);

// The regular files the globs "paths" match now, minus those matching "exclude", sorted.
std::vector<std::string> MatchingFiles(const std::vector<std::string>& paths,
                                       const std::vector<std::string>& exclude);

// XXH3 of the first "len" bytes of the open file "fd"; false when it has fewer bytes.
bool FingerprintFd(int fd, uint32_t len, uint64_t* fingerprint);

}  // namespace sawmill::agent
