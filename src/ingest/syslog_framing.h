// Splits a syslog TCP stream into messages (RFC 6587): octet counting ("LEN SP MSG") and
// non-transparent framing (messages ended by LF), chosen per message by its first byte, as
// rsyslog and syslog-ng do. Memory is bounded by max_frame_bytes whatever the peer sends.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sawmill::ingest {

class SyslogFrameDecoder {
 public:
  // "frame" is only valid during the call. "truncated" is true when the message was longer
  // than max_frame_bytes (the first max_frame_bytes are given, the rest is skipped) or when the
  // stream ended inside an octet-counted frame.
  using Emit = std::function<void(std::string_view frame, bool truncated)>;

  explicit SyslogFrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Consumes "data" and emits every complete frame it ends.
  void Feed(std::string_view data, const Emit& emit);

  // End of the stream: emits what is left of an unfinished frame, if anything.
  void Finish(const Emit& emit);

  // Bytes held for an unfinished frame; never more than max_frame_bytes + 16.
  size_t buffered() const { return buffer_.size(); }

  // Refusing mode (syslog over TLS): an octet-counted frame whose length is larger than
  // max_frame_bytes is not cut but refused: Feed stops there (the frames before it were
  // emitted) and refused() becomes true; the caller closes the stream.
  void set_refuse_oversized(bool refuse) { refuse_oversized_ = refuse; }
  bool refused() const { return state_ == State::kRefused; }
  // The length the refused frame announced.
  size_t refused_length() const { return remaining_; }

 private:
  enum class State {
    kStart,     // between frames
    kLength,    // reading the decimal length of an octet-counted frame
    kOctets,    // reading "remaining_" bytes of an octet-counted frame (beyond
                // max_frame_bytes they are skipped)
    kLine,      // reading up to LF
    kSkipLine,  // dropping the rest of an oversized line
    kRefused,   // an oversized octet-counted frame in refusing mode: nothing more is read
  };

  const size_t max_frame_bytes_;
  State state_ = State::kStart;
  std::string buffer_;
  size_t remaining_ = 0;
  bool truncated_ = false;
  bool refuse_oversized_ = false;
};

}  // namespace sawmill::ingest
