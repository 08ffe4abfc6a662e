// Fuzz target: a syslog TCP stream through SyslogFrameDecoder (RFC 6587 octet counting and
// LF framing) and every frame through ParseSyslogMessage (RFC 5424 / RFC 3164), as the syslog
// listener does; in datagram mode the whole input is one UDP message.
// Input: byte 0 picks the frame limit (low 2 bits), the read size the stream is cut into
// (bits 2-4) and datagram mode (bit 5); the rest is the stream.
#include "fuzz_util.h"
#include "ingest/syslog_framing.h"
#include "ingest/syslog_parser.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr size_t kLimits[] = {16, 128, 2048, 64 * 1024};
  static constexpr size_t kReads[] = {1, 2, 3, 7, 64, 500, 4096, 1 << 20};
  const size_t max_frame = kLimits[data[0] & 3];
  const size_t read_size = kReads[(data[0] >> 2) & 7];
  const bool datagram = (data[0] & 32) != 0;
  std::string_view stream = fuzz::AsView(data + 1, size - 1);

  ingest::ShipperContext context;
  context.now_ns = fuzz::kNowNs;
  context.defaults.host = "192.0.2.1";
  context.options.max_line_bytes = 1024;
  auto parse = [&](std::string_view frame) {
    Record r = ingest::ParseSyslogMessage(frame, context);
    fuzz::CheckRecordUtf8(r);
    FUZZ_CHECK(!r.host.empty());
  };
  if (datagram) {
    parse(stream);
    return 0;
  }
  ingest::SyslogFrameDecoder decoder(max_frame);
  auto emit = [&](std::string_view frame, bool truncated) {
    FUZZ_CHECK(frame.size() <= max_frame);
    (void)truncated;
    parse(frame);
  };
  for (size_t at = 0; at < stream.size(); at += read_size) {
    decoder.Feed(stream.substr(at, read_size), emit);
    FUZZ_CHECK(decoder.buffered() <= max_frame + 16);  // the documented memory bound
  }
  decoder.Finish(emit);
  return 0;
}
