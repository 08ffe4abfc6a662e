// Turns one (possibly joined) line into a Record. Level, timestamp and the JSON key mapping are
// the server's own code (ingest/normalize.h): logfmt pairs and regex groups are handed to
// NormalizeLine as a JSON object, so a key means the same thing on both sides.
//
// Thread-safety: a Parser is immutable after Create().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/normalize.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace re2 {
class RE2;
}

namespace sawmill::agent {

enum class ParserKind {
  kAuto,    // a JSON object is mapped, anything else is plain text (the server's behaviour)
  kJson,    // like kAuto, but a line that is not a JSON object is flagged parse_failed
  kLogfmt,  // key=value key2="quoted value"
  kRegex,   // named groups (?P<name>...) become keys
};

struct ParserOptions {
  ParserKind kind = ParserKind::kAuto;
  std::string pattern;  // kRegex only
};

class Parser {
 public:
  // Errors: InvalidArgument when the regex does not compile or has no named group.
  static Result<std::unique_ptr<Parser>> Create(const ParserOptions& options);
  ~Parser();

  // Parses "line" into "*out". Returns false for an empty line (nothing to ship).
  bool Parse(std::string_view line, const ingest::Defaults& defaults,
             const ingest::NormalizeOptions& normalize, int64_t now_ns, Record* out) const;

  ParserKind kind() const { return options_.kind; }

 private:
  Parser() = default;

  ParserOptions options_;
  std::unique_ptr<re2::RE2> regex_;
  std::vector<std::string> group_names_;  // by group index - 1; empty for unnamed groups
};

// Splits a logfmt line into pairs. A bare word becomes a key with an empty value. Returns false
// when the line holds no key=value pair at all.
bool ParseLogfmt(std::string_view line, std::vector<std::pair<std::string, std::string>>* out);

}  // namespace sawmill::agent
