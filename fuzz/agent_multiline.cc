// Fuzz target: the agent's multiline joiner (built-in stack-trace rule, or a start pattern)
// fed the input's lines, with flushes in between.
// Input: byte 0 picks the rule (bit 0), max_lines (bits 1-2), max_bytes (bits 3-4) and how
// often time moves past the flush timeout (bits 5-6); the rest is split into lines at LF.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "agent/multiline.h"
#include "fuzz_util.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr size_t kMaxLines[] = {1, 2, 5, 500};
  static constexpr size_t kMaxBytes[] = {1, 16, 100, 256 * 1024};
  agent::MultilineOptions options;
  options.enabled = true;
  if (data[0] & 1) options.start_pattern = R"(^(\d{4}-\d{2}-\d{2}|\[|[A-Z][a-z]{2} ))";
  options.max_lines = kMaxLines[(data[0] >> 1) & 3];
  options.max_bytes = kMaxBytes[(data[0] >> 3) & 3];
  const int flush_every = 1 + ((data[0] >> 5) & 3) * 3;
  auto joiner = agent::MultilineJoiner::Create(options);
  FUZZ_CHECK(joiner.ok());

  std::string_view rest = fuzz::AsView(data + 1, size - 1);
  const bool utf8_in = fuzz::IsValidUtf8(rest);
  std::vector<agent::JoinedLine> out;
  int64_t now = 1;
  uint64_t offset = 0;
  size_t longest = 0;
  int n = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    offset += line.size() + 1;
    longest = std::max(longest, line.size());
    joiner.value()->Add(line, offset, false, now, &out);
    if (++n % flush_every == 0) now += options.flush_timeout_ns;
    joiner.value()->Flush(now, false, &out);
  }
  joiner.value()->Flush(now, true, &out);
  FUZZ_CHECK(!joiner.value()->HasPending());
  uint64_t last_end = 0;
  for (const agent::JoinedLine& j : out) {
    // A record is at most max_bytes, except a single line that was longer on its own.
    FUZZ_CHECK(j.text.size() <= std::max(options.max_bytes, longest));
    FUZZ_CHECK(j.end_offset >= last_end && j.end_offset <= offset);
    last_end = j.end_offset;
    if (utf8_in) FUZZ_CHECK(fuzz::IsValidUtf8(j.text));  // cuts never split a character
  }
  return 0;
}
