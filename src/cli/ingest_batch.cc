#include "cli/ingest_batch.h"

#include <cerrno>
#include <cstring>

namespace sawmill::cli {

LineReader::LineReader(FILE* file, size_t max_line_bytes)
    : file_(file), max_line_bytes_(max_line_bytes), buf_(64 * 1024) {}

bool LineReader::Fill() {
  if (eof_) return false;
  size_t n = std::fread(buf_.data(), 1, buf_.size(), file_);
  if (n == 0) {
    if (std::ferror(file_)) error_ = errno != 0 ? errno : EIO;
    eof_ = true;
    return false;
  }
  bytes_read_ += n;
  pos_ = 0;
  end_ = n;
  return true;
}

bool LineReader::Next(std::string* line, bool* clipped) {
  line->clear();
  *clipped = false;
  bool any = false;
  while (true) {
    if (pos_ == end_ && !Fill()) return any;
    any = true;
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', end_ - pos_);
    size_t len = nl != nullptr ? static_cast<const char*>(nl) - start : end_ - pos_;
    size_t room = max_line_bytes_ > line->size() ? max_line_bytes_ - line->size() : 0;
    if (len > room) *clipped = true;
    line->append(start, std::min(len, room));
    pos_ += len;
    if (nl != nullptr) {
      ++pos_;  // the '\n'
      return true;
    }
  }
}

std::string LineBatcher::Take() {
  std::string out;
  out.swap(body_);
  lines_ = 0;
  return out;
}

}  // namespace sawmill::cli
