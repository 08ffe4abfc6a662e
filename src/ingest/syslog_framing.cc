#include "ingest/syslog_framing.h"

#include <algorithm>
#include <string>

namespace sawmill::ingest {

namespace {

// Longer length prefixes than this are not octet counting but text that starts with digits.
constexpr size_t kMaxLengthDigits = 9;

}  // namespace

void SyslogFrameDecoder::Feed(std::string_view data, const Emit& emit) {
  size_t pos = 0;
  while (pos < data.size() && state_ != State::kRefused) {
    switch (state_) {
      case State::kStart: {
        char c = data[pos];
        if (c == '\n' || c == '\r' || c == '\0' || c == ' ') {
          ++pos;  // keep-alive newlines and padding between frames
        } else if (c >= '1' && c <= '9') {
          state_ = State::kLength;
        } else {
          state_ = State::kLine;
        }
        break;
      }
      case State::kLength: {
        char c = data[pos];
        if (c >= '0' && c <= '9' && buffer_.size() < kMaxLengthDigits) {
          buffer_ += c;
          ++pos;
        } else if (c == ' ' && !buffer_.empty()) {
          ++pos;
          remaining_ = std::stoul(buffer_);
          buffer_.clear();
          if (refuse_oversized_ && remaining_ > max_frame_bytes_) {
            state_ = State::kRefused;
            break;
          }
          // An oversized frame keeps its first max_frame_bytes; the rest is skipped.
          truncated_ = remaining_ > max_frame_bytes_;
          state_ = State::kOctets;
        } else {
          // Not a length prefix after all: a line that starts with digits.
          state_ = State::kLine;
        }
        break;
      }
      case State::kOctets: {
        size_t want = std::min(remaining_, data.size() - pos);
        size_t room = max_frame_bytes_ > buffer_.size() ? max_frame_bytes_ - buffer_.size() : 0;
        buffer_.append(data.substr(pos, std::min(want, room)));
        pos += want;
        remaining_ -= want;
        if (remaining_ == 0) {
          emit(buffer_, truncated_);
          buffer_.clear();
          truncated_ = false;
          state_ = State::kStart;
        }
        break;
      }
      case State::kLine: {
        size_t end = data.find('\n', pos);
        size_t stop = end == std::string_view::npos ? data.size() : end;
        size_t room = max_frame_bytes_ > buffer_.size() ? max_frame_bytes_ - buffer_.size() : 0;
        if (stop - pos > room) {
          buffer_.append(data.substr(pos, room));
          emit(buffer_, true);
          buffer_.clear();
          if (end == std::string_view::npos) {
            state_ = State::kSkipLine;
            pos = data.size();
          } else {
            state_ = State::kStart;
            pos = end + 1;
          }
          break;
        }
        buffer_.append(data.substr(pos, stop - pos));
        if (end == std::string_view::npos) {
          pos = data.size();
        } else {
          if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
          emit(buffer_, false);
          buffer_.clear();
          state_ = State::kStart;
          pos = end + 1;
        }
        break;
      }
      case State::kRefused: break;  // not reached: the loop ends first
      case State::kSkipLine: {
        size_t end = data.find('\n', pos);
        if (end == std::string_view::npos) {
          pos = data.size();
        } else {
          pos = end + 1;
          state_ = State::kStart;
        }
        break;
      }
    }
  }
}

void SyslogFrameDecoder::Finish(const Emit& emit) {
  if (state_ == State::kRefused) return;
  switch (state_) {
    case State::kLength:
    case State::kLine:
      if (!buffer_.empty()) emit(buffer_, false);
      break;
    case State::kOctets:
      if (!buffer_.empty()) emit(buffer_, true);
      break;
    default: break;
  }
  buffer_.clear();
  state_ = State::kStart;
  remaining_ = 0;
  truncated_ = false;
}

}  // namespace sawmill::ingest
