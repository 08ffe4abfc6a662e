// Fuzz target: the agent's line parsers (auto, JSON, logfmt, regex with named groups) on each
// line of the input, and ParseLogfmt itself.
// Input: byte 0 picks the parser (low 2 bits) and the line limit (bit 2); the rest is split
// into lines at LF.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/parser.h"
#include "fuzz_util.h"

using namespace sawmill;

namespace {

const agent::Parser& ParserFor(int kind) {
  static const agent::Parser* parsers[4] = {};
  if (parsers[kind] == nullptr) {
    agent::ParserOptions options;
    options.kind = static_cast<agent::ParserKind>(kind);
    if (options.kind == agent::ParserKind::kRegex) {
      options.pattern = R"(^(?P<ts>\S+) \[?(?P<level>[A-Za-z]+)\]? )"
                        R"((?P<service>[\w.-]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$)";
    }
    auto created = agent::Parser::Create(options);
    FUZZ_CHECK(created.ok());
    parsers[kind] = created.value().release();
  }
  return *parsers[kind];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const agent::Parser& parser = ParserFor(data[0] & 3);
  ingest::Defaults defaults{"fuzz-agent", "fuzz-host", std::nullopt};
  ingest::NormalizeOptions normalize;
  normalize.max_line_bytes = (data[0] & 4) ? 64 : 256 * 1024;
  std::string_view rest = fuzz::AsView(data + 1, size - 1);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    Record r;
    if (parser.Parse(line, defaults, normalize, fuzz::kNowNs, &r)) fuzz::CheckRecordUtf8(r);
    std::vector<std::pair<std::string, std::string>> pairs;
    if (agent::ParseLogfmt(line, &pairs)) FUZZ_CHECK(!pairs.empty());
    for (const auto& [k, v] : pairs) FUZZ_CHECK(k.size() + v.size() <= line.size());
  }
  return 0;
}
