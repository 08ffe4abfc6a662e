#include "agent/multiline.h"

#include <re2/re2.h>

namespace sawmill::agent {

Result<std::unique_ptr<MultilineJoiner>> MultilineJoiner::Create(const MultilineOptions& options) {
  std::unique_ptr<MultilineJoiner> joiner(new MultilineJoiner(options));
  if (!options.start_pattern.empty()) {
    RE2::Options quiet;
    quiet.set_log_errors(false);
    joiner->start_ = std::make_unique<RE2>(options.start_pattern, quiet);
    if (!joiner->start_->ok()) {
      return Status::InvalidArgument("multiline.start_pattern '" + options.start_pattern +
                                     "': " + joiner->start_->error());
    }
  }
  return joiner;
}

MultilineJoiner::MultilineJoiner(const MultilineOptions& options) : options_(options) {}
MultilineJoiner::~MultilineJoiner() = default;

bool MultilineJoiner::IsContinuation(std::string_view line) {
  if (line.empty()) return false;
  if (line[0] == ' ' || line[0] == '\t') return true;
  if (line.starts_with("at ") || line.starts_with("Caused by:") ||
      line.starts_with("Suppressed:")) {
    return true;
  }
  if (line.starts_with("... ") && line.ends_with(" more")) return true;
  // "java.lang.IllegalStateException: boom": a qualified exception name opens the trace.
  size_t end = line.find_first_of(": ");
  std::string_view name = line.substr(0, end);
  if (name.find('.') != std::string_view::npos &&
      (end == std::string_view::npos || line[end] == ':') &&
      (name.ends_with("Exception") || name.ends_with("Error") || name.ends_with("Throwable"))) {
    return true;
  }
  return false;
}

void MultilineJoiner::Emit(std::vector<JoinedLine>* out) {
  if (lines_ == 0) return;
  out->push_back(std::move(pending_));
  pending_ = JoinedLine();
  lines_ = 0;
}

void MultilineJoiner::Add(std::string_view line, uint64_t end_offset, bool truncated,
                          int64_t now_ns, std::vector<JoinedLine>* out) {
  if (!options_.enabled) {
    out->push_back(JoinedLine{std::string(line), end_offset, truncated});
    return;
  }
  bool starts;
  if (start_ != nullptr) {
    starts = RE2::PartialMatch(line, *start_);
  } else {
    starts = !IsContinuation(line);
  }
  if (lines_ > 0 && (starts || lines_ >= options_.max_lines)) Emit(out);
  if (lines_ > 0) {
    // The joined record stays within max_bytes: the newline and the line are cut to the room
    // left, never inside a UTF-8 sequence. (Before, a full record still grew by a newline per
    // line and a cut could split a character.)
    size_t room =
        options_.max_bytes > pending_.text.size() ? options_.max_bytes - pending_.text.size() : 0;
    if (room == 0) {
      pending_.truncated = true;
    } else {
      pending_.text.push_back('\n');
      --room;
      if (line.size() > room) {
        size_t cut = room;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line = line.substr(0, cut);
        pending_.truncated = true;
      }
      pending_.text.append(line);
    }
  } else {
    pending_.text.assign(line);
  }
  pending_.truncated |= truncated;
  pending_.end_offset = end_offset;
  ++lines_;
  last_add_ns_ = now_ns;
}

void MultilineJoiner::Flush(int64_t now_ns, bool force, std::vector<JoinedLine>* out) {
  if (lines_ == 0) return;
  if (force || now_ns - last_add_ns_ >= options_.flush_timeout_ns) Emit(out);
}

}  // namespace sawmill::agent
