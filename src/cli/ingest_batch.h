// The client side of `sawmill ingest`: lines read with bounded memory and cut into batches
// (about 1,000 lines or 1 MiB each) that become one POST /api/v1/ingest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace sawmill::cli {

// Reads lines from a FILE* in 64 KiB chunks. A line longer than "max_line_bytes" is cut there
// and the rest of it skipped (the server would truncate it anyway, at 256 KiB), so memory stays
// bounded whatever the input. LF ends a line; CR before it is kept for the server to drop.
class LineReader {
 public:
  LineReader(FILE* file, size_t max_line_bytes);
  // The next line without its '\n'; false at end of input. "*clipped" is set for a cut line.
  bool Next(std::string* line, bool* clipped);
  // Non-zero errno when reading failed (then Next returned false).
  int error() const { return error_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool Fill();

  FILE* file_;
  size_t max_line_bytes_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  int error_ = 0;
  uint64_t bytes_read_ = 0;
};

// Collects lines into a body of at most "max_lines" lines and about "max_bytes" bytes (a single
// longer line makes a batch on its own).
class LineBatcher {
 public:
  LineBatcher(size_t max_lines, size_t max_bytes) : max_lines_(max_lines), max_bytes_(max_bytes) {}

  // True when the batch would be full with "line": call Take() first, then Add.
  bool WouldOverflow(std::string_view line) const {
    return lines_ > 0 && (lines_ >= max_lines_ || body_.size() + line.size() + 1 > max_bytes_);
  }
  void Add(std::string_view line) {
    body_.append(line);
    body_.push_back('\n');
    ++lines_;
  }
  bool empty() const { return lines_ == 0; }
  size_t lines() const { return lines_; }
  size_t bytes() const { return body_.size(); }
  // The batch body (each line followed by '\n'); the batcher is empty afterwards.
  std::string Take();

 private:
  size_t max_lines_, max_bytes_;
  std::string body_;
  size_t lines_ = 0;
};

}  // namespace sawmill::cli
