// Encoding::kIsoPrefix (format version 10): text whose rows mostly begin with a UTC time written
// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (CI build logs, Kubernetes container logs, lines shipped with
// their own RFC 3339 stamp). Kept as text, the stamp's fraction digits are the dearest bytes of
// such a block (on cidiff_gha_build_logs zstd spends two thirds of the block on them, because
// consecutive stamps differ in digits zstd cannot predict); as nanoseconds in a delta block
// they cost a byte or two a row. Each prefix is rendered back and compared at encoding, so a
// value comes back byte for byte (docs/format/segment.md "Time prefixes").
//
//   body   := digits_block(lp) ns_block(lp) plain_block
//   digits_block: an int column block, per row the prefix's fraction digits (0 to 9), or
//                 kNoPrefix (10) for a row without one; plus kEcho (16) where the text after
//                 the prefix is one byte, then the same time as decimal nanoseconds (the
//                 Kubernetes exports of nezha_k8s_microservice_logs: "...Z,1661145496154660034,"),
//                 which the rest then leaves out
//   ns_block:     an int column block, the prefixed rows' times in row order
//   plain_block:  a complete kPlain column block of every row's text after its prefix (or,
//                 format version 12, a kMarkedLines block where no such text holds a newline)
//
// The plain block comes last, so a read of a few rows (SegmentReader::ReadRows) decompresses
// only the two small blocks and the plain block through its last wanted row, as for kPlain
// (or through the group of rows holding it, as for kMarkedLines).

#include "common/coding.h"
#include "common/time_format.h"
#include "segment/column_encoding.h"
#include "segment/time_text_encoding.h"

namespace sawmill::segment {

namespace {

constexpr std::string_view kWhat = "time-prefixed text";
constexpr int64_t kNoPrefix = 10;
constexpr int64_t kEcho = 16;

// The length of the RFC 3339 UTC time that "s" begins with, and its time and fraction digits;
// 0 when it begins with none that renders back to the same bytes.
size_t TimePrefix(std::string_view s, int64_t* ns, int* digits) {
  if (s.size() < 20 || s[4] != '-' || s[10] != 'T') return 0;
  size_t end = 19;
  if (s[19] == '.') {
    end = 20;
    while (end < s.size() && end < 29 && s[end] >= '0' && s[end] <= '9') ++end;
    if (end == 20) return 0;
  }
  if (end >= s.size() || s[end] != 'Z') return 0;
  const std::string_view prefix = s.substr(0, end + 1);
  if (!ParseIsoTimestamp(prefix, ns)) return 0;
  *digits = end == 19 ? 0 : static_cast<int>(end - 20);
  thread_local std::string rendered;
  rendered.clear();
  AppendRfc3339(*ns, *digits, &rendered);
  return rendered == prefix ? prefix.size() : 0;
}

// The parts before the plain block, decoded; "plain" is what follows them.
struct Parsed {
  std::vector<int64_t> digits;
  std::vector<int64_t> ns;
  std::string_view plain;
};

Status ParseBody(std::string_view body, size_t count, Parsed* p) {
  std::string_view digits_block, ns_block;
  if (!GetLengthPrefixed(&body, &digits_block) || !GetLengthPrefixed(&body, &ns_block)) {
    return Status::DataLoss("time-prefixed text: malformed header");
  }
  RETURN_IF_ERROR(DecodeIntColumn(digits_block, count, &p->digits));
  if (p->digits.size() != count) {
    return Status::DataLoss("time-prefixed text: " + std::to_string(p->digits.size()) +
                            " fraction digit counts for " + std::to_string(count) + " rows");
  }
  size_t prefixed = 0;
  for (size_t i = 0; i < count; ++i) {
    const int64_t d = p->digits[i];
    const int64_t digits = d & ~kEcho;
    if (d < 0 || digits > kNoPrefix || d > (kEcho | 9)) {
      return Status::DataLoss("time-prefixed text: row " + std::to_string(i) +
                              " has fraction digit code " + std::to_string(d) +
                              ", not one of 0 to 10 and 16 to 25");
    }
    prefixed += digits != kNoPrefix;
  }
  RETURN_IF_ERROR(DecodeIntColumn(ns_block, prefixed, &p->ns));
  if (p->ns.size() != prefixed) {
    return Status::DataLoss("time-prefixed text: " + std::to_string(p->ns.size()) + " times for " +
                            std::to_string(prefixed) + " rows with a time");
  }
  p->plain = body;
  return Status::OK();
}

// AppendRfc3339 for rows whose times mostly fall in the same second as the row before (log
// lines): the date and time of day are rendered once per second, the fraction by hand (a scan
// of 8,192 such rows rendered each through snprintf cost more than its decompression).
class TimeRenderer {
 public:
  void Append(int64_t ns, int digits, std::string* out) {
    constexpr int64_t kNs = 1'000'000'000;
    if (ns < INT64_MIN + kNs) {  // no whole second below it to cache
      AppendRfc3339(ns, digits, out);
      return;
    }
    int64_t sec = ns / kNs;
    int64_t frac = ns % kNs;
    if (frac < 0) {
      frac += kNs;
      sec -= 1;
    }
    if (sec != second_ || head_.empty()) {
      head_.clear();
      AppendRfc3339(sec * kNs, 0, &head_);
      head_.pop_back();  // its 'Z'
      second_ = sec;
    }
    out->append(head_);
    if (digits > 0) {
      char f[9];
      for (int i = 8; i >= 0; --i, frac /= 10) f[i] = static_cast<char>('0' + frac % 10);
      out->push_back('.');
      out->append(f, static_cast<size_t>(digits));
    }
    out->push_back('Z');
  }

 private:
  int64_t second_ = 0;
  std::string head_;
};

// Puts a block's times back (TimesBack): row "i"'s prefix, then its "rest" (with the time
// repeated after its first byte for a kEcho row).
class IsoTimesBack final : public TimesBack {
 public:
  Status Parse(std::string_view body, size_t count) override { return ParseBody(body, count, &p_); }
  bool Timed(size_t row) const override { return p_.digits[row] != kNoPrefix; }
  Status Put(size_t i, size_t k, std::string_view rest, std::string* arena) override {
    const int64_t code = p_.digits[i];
    if (code == kNoPrefix) {
      arena->append(rest);
      return Status::OK();
    }
    const int64_t ns = p_.ns[k];
    times_.Append(ns, static_cast<int>(code & ~kEcho), arena);
    if ((code & kEcho) == 0) {
      arena->append(rest);
      return Status::OK();
    }
    if (rest.empty())
      return Status::DataLoss("time-prefixed text: row " + std::to_string(i) +
                              " repeats its time after a byte it lacks");
    arena->push_back(rest[0]);
    arena->append(std::to_string(ns));
    arena->append(rest.substr(1));
    return Status::OK();
  }
  // The text block after the times.
  std::string_view plain() const { return p_.plain; }

 private:
  Parsed p_;
  TimeRenderer times_;
};

Status DecodeIsoPrefix(std::string_view body, size_t count, std::vector<std::string_view>* out,
                       std::string* arena) {
  IsoTimesBack times;
  RETURN_IF_ERROR(times.Parse(body, count));
  std::vector<std::string_view> rest;
  std::string scratch;
  RETURN_IF_ERROR(ReadTextAfterTimes(kWhat, times.plain(), 0, times.plain().size(), count, nullptr,
                                     &rest, &scratch));
  arena->clear();
  return PutTimesBack(count, nullptr, rest, &times, out, arena);
}

// The bytes of the header (encoding, count, the two int blocks) at the front of "block", or 0
// when "block" is too short to hold them.
size_t HeaderBytes(std::string_view block) {
  if (block.empty()) return 0;
  std::string_view in = block.substr(1);
  uint64_t count;
  std::string_view a, b;
  if (!GetVarint64(&in, &count) || !GetLengthPrefixed(&in, &a) || !GetLengthPrefixed(&in, &b)) {
    return 0;
  }
  return block.size() - in.size();
}

}  // namespace

bool EncodeIsoPrefix(const std::string_view* values, size_t count, std::string* out,
                     bool marked_lines) {
  std::vector<int64_t> digits(count);
  std::vector<int64_t> ns;
  std::vector<std::string_view> rest(count);
  // The rests of the rows that repeat their time (kEcho), without it.
  std::vector<std::string> echoed;
  std::vector<std::pair<size_t, size_t>> echo_rows;  // (row, index in echoed)
  ns.reserve(count);
  for (size_t row = 0; row < count; ++row) {
    int64_t t;
    int d;
    const size_t n = TimePrefix(values[row], &t, &d);
    digits[row] = n == 0 ? kNoPrefix : d;
    rest[row] = values[row].substr(n);
    if (n == 0) continue;
    ns.push_back(t);
    const std::string decimal = std::to_string(t);
    if (rest[row].size() > decimal.size() && rest[row].substr(1, decimal.size()) == decimal) {
      digits[row] |= kEcho;
      std::string r(1, rest[row][0]);
      r.append(rest[row].substr(1 + decimal.size()));
      echo_rows.emplace_back(row, echoed.size());
      echoed.push_back(std::move(r));
    }
  }
  for (const auto& [row, at] : echo_rows) rest[row] = echoed[at];
  // Worth a layout of its own only where most rows have the prefix.
  if (count < 2 || ns.size() * 2 < count) return false;
  out->push_back(static_cast<char>(Encoding::kIsoPrefix));
  PutVarint64(out, count);
  std::string block;
  std::vector<uint64_t> counts(digits.begin(), digits.end());
  EncodeRle(counts.data(), count, &block);
  PutLengthPrefixed(out, block);
  block.clear();
  EncodeIntsSmallest(ns.data(), ns.size(), &block);
  PutLengthPrefixed(out, block);
  EncodeRowTexts(rest.data(), count, marked_lines, out);
  return true;
}

uint64_t IsoPrefixBytesThrough(std::string_view prefix, size_t max_count, uint32_t last_row) {
  if (prefix.empty()) return 0;
  if (static_cast<Encoding>(prefix[0]) != Encoding::kIsoPrefix) return UINT64_MAX;
  return TextBytesThroughAfter(prefix, HeaderBytes(prefix), max_count, last_row);
}

Status DecodeIsoPrefixRows(std::string_view prefix, uint64_t raw_size, size_t max_count,
                           const std::vector<uint32_t>& rows, std::vector<std::string_view>* views,
                           std::string* arena) {
  IsoTimesBack times;
  return DecodeRowsWithTimes(kWhat, prefix, HeaderBytes(prefix), raw_size, max_count, rows, &times,
                             views, arena);
}

extern const ColumnEncoding kIsoPrefixEncoding;  // registered in column_encoding.cc
const ColumnEncoding kIsoPrefixEncoding{Encoding::kIsoPrefix, "iso-prefix", nullptr,
                                        &DecodeIsoPrefix};

}  // namespace sawmill::segment
