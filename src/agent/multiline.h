// Joins continuation lines into one record (a Java stack trace becomes one record).
//
// A line starts a new record when it matches "start_pattern" (if set); otherwise, in the
// built-in rule, a line is a continuation when it begins with whitespace, "at ", "Caused by:",
// "Suppressed:", "... N more", or is a qualified exception name ("java.io.IOException: ..."). A
// pending record is emitted when the next record starts, when it reaches max_lines / max_bytes, or
// when no line arrived for flush_timeout.
//
// Not thread-safe: one joiner per source.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace re2 {
class RE2;
}

namespace sawmill::agent {

struct MultilineOptions {
  bool enabled = false;
  std::string start_pattern;  // empty: the built-in continuation rule
  int64_t flush_timeout_ns = 1'000'000'000;
  size_t max_lines = 500;
  size_t max_bytes = 256 * 1024;
};

// One record of joined text and the source offset just after its last line.
struct JoinedLine {
  std::string text;
  uint64_t end_offset = 0;
  bool truncated = false;
};

class MultilineJoiner {
 public:
  // Errors: InvalidArgument when start_pattern does not compile.
  static Result<std::unique_ptr<MultilineJoiner>> Create(const MultilineOptions& options);
  ~MultilineJoiner();

  // Adds one line (without its newline) that ends at "end_offset"; appends finished records to
  // "*out". "now_ns" is monotonic.
  void Add(std::string_view line, uint64_t end_offset, bool truncated, int64_t now_ns,
           std::vector<JoinedLine>* out);
  // Emits the pending record when it has waited flush_timeout (or always when "force").
  void Flush(int64_t now_ns, bool force, std::vector<JoinedLine>* out);
  bool HasPending() const { return lines_ > 0; }

  // True when "line" continues the previous one under the built-in rule.
  static bool IsContinuation(std::string_view line);

 private:
  explicit MultilineJoiner(const MultilineOptions& options);
  void Emit(std::vector<JoinedLine>* out);

  MultilineOptions options_;
  std::unique_ptr<re2::RE2> start_;
  JoinedLine pending_;
  size_t lines_ = 0;
  int64_t last_add_ns_ = 0;
};

}  // namespace sawmill::agent
