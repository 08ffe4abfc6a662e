// Encoding::kRiceRuns (format version 15): an int64 column block whose rows fall into runs of
// ascending values (the `ts` of rows sorted by (service, host, ts, seq) inside a time slice:
// one run a source) stored as each run's first value above the block's least and Rice codes of
// the steps between the run's rows.
//
//   body := divisor(varint >= 1) least(zigzag varint) run_count(varint) run*run_count steps
//   run := length(varint >= 1) k(u8 <= 63) first(varint)
//   the values: v = least + u * divisor, u >= 0; a run's first row has u = first, each later
//         row of the run u = the previous row's u + its step (a step >= 0: values within a run
//         never fall). The runs' lengths add up to "count".
//   steps: for each run of length L, its L - 1 steps, each as a Rice code with the run's k:
//         q = step >> k as q 0-bits and a 1-bit, then the step's k low bits; a q of kRiceEscape
//         or more as kRiceEscape 0-bits, then the step's 64 bits. Bits follow each other least
//         significant bit first from the low bit of the first byte; the last byte's unused high
//         bits are 0.
//
// Why: a source's times inside a time slice are random points, so the steps between them are
// about exponentially distributed, which a Rice code with k near log2 of their mean stores
// within a few percent of their entropy; zstd of their varint deltas (kDelta, kScaled) stores
// two or three bytes of near-random low bits a row plus the varints' continuation bits and the
// jumps back at every new source (docs/performance.md "Session 18: the rest of the 10 M
// store"). The writer cuts a run where the values fall (EncodeRiceRuns) and picks each run's k
// by its cost; the chooser (EncodeTimeColumn) keeps the block only where its own bytes are fewer
// than the others' at zstd 3.
#include <algorithm>
#include <bit>
#include <numeric>

#include "common/coding.h"
#include "common/rice_code.h"
#include "segment/column_encoding.h"

namespace sawmill::segment {

namespace {

constexpr uint32_t kMaxK = 63;

// The bits of the Rice codes of "steps" with parameter k.
uint64_t RiceBits(const uint64_t* steps, size_t n, uint32_t k) {
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    bits += RiceCodeBits(steps[i], k);
  }
  return bits;
}

struct Run {
  uint64_t length;
  uint32_t k;
  uint64_t first;
};

// The values of the first "through" rows (all "count" when through >= count), or with "rows"
// not null (ascending, each below "count") of the listed rows only, one each, in order: a run
// holding no listed row has its codes skipped (no value made or stored), a run holding one is
// decoded into "scratch" and its listed rows taken, and nothing past the last listed row is read.
Status DecodeRiceRunsRows(std::string_view body, size_t count, size_t through,
                          const std::vector<uint32_t>* rows, std::vector<int64_t>* out) {
  uint64_t divisor, zigzag_least, run_count;
  if (!GetVarint64(&body, &divisor) || divisor == 0 || divisor > uint64_t{INT64_MAX}) {
    return Status::DataLoss("rice-runs int column: bad divisor");
  }
  if (!GetVarint64(&body, &zigzag_least) || !GetVarint64(&body, &run_count) || run_count > count ||
      (count > 0 && run_count == 0)) {
    return Status::DataLoss("rice-runs int column: bad header");
  }
  const int64_t least = ZigZagDecode(zigzag_least);
  std::vector<Run> runs(run_count);
  uint64_t rows_in_runs = 0;
  for (uint64_t r = 0; r < run_count; ++r) {
    Run& run = runs[r];
    if (body.empty() || !GetVarint64(&body, &run.length) || run.length == 0 ||
        run.length > count - rows_in_runs) {
      return Status::DataLoss("rice-runs int column: run " + std::to_string(r) + " (from row " +
                              std::to_string(rows_in_runs) + ") has a bad length");
    }
    run.k = static_cast<uint8_t>(body.empty() ? 255 : body[0]);
    if (!body.empty()) body.remove_prefix(1);
    if (run.k > kMaxK || !GetVarint64(&body, &run.first)) {
      return Status::DataLoss("rice-runs int column: run " + std::to_string(r) + " (from row " +
                              std::to_string(rows_in_runs) + ") has a bad header");
    }
    rows_in_runs += run.length;
  }
  if (rows_in_runs != count) {
    return Status::DataLoss("rice-runs int column: runs hold " + std::to_string(rows_in_runs) +
                            " rows, not " + std::to_string(count));
  }
  const size_t base = out->size();
  const size_t want =
      rows == nullptr ? std::min(count, through) : (rows->empty() ? 0 : size_t{rows->back()} + 1);
  if (want > count)
    return Status::DataLoss("rice-runs int column holds no row " + std::to_string(want - 1));
  out->resize(base + (rows == nullptr ? want : rows->size()));
  // The largest u whose value fits: least + u * divisor <= INT64_MAX.
  const uint64_t room = static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(least);
  const uint64_t max_u = room / divisor;
  RiceBitReader bits(body);
  thread_local std::vector<int64_t> scratch;
  size_t row = 0;
  size_t next = 0;  // with "rows": the first listed row not yet taken
  auto fail = [&](const std::string& what) {
    out->resize(base);
    return Status::DataLoss("rice-runs int column: row " + std::to_string(row) + " " + what);
  };
  // Passes over the steps of "run" from its "i"-th row (i >= 1) to its end.
  auto skip = [&](const Run& run, uint64_t i) -> Status {
    while (i < run.length) {
      if (run.k <= 32) i += bits.FastSkip(run.k, run.length - i);
      if (i >= run.length) break;
      uint64_t step;
      const RiceBitReader::Read read = bits.Next(run.k, &step);
      if (read == RiceBitReader::Read::kEnd) return fail("is past the end of the steps");
      if (read == RiceBitReader::Read::kOverflow) return fail("has a step that overflows");
      ++i;
    }
    return Status::OK();
  };
  for (const Run& run : runs) {
    if (row >= want) break;
    const size_t start = row, end = row + run.length;
    if (rows != nullptr && (*rows)[next] >= end) {
      // No listed row here: the run's steps are passed over.
      RETURN_IF_ERROR(skip(run, 1));
      row = end;
      continue;
    }
    // The run's rows through the last wanted one, into the output (every row: dst[row]) or
    // the scratch (dst[row - start]).
    const size_t stop = std::min(end, want);
    int64_t* dst;
    size_t at = 0;  // the row dst[0] holds
    if (rows == nullptr) {
      dst = out->data() + base;
    } else {
      scratch.resize(stop - start);
      dst = scratch.data();
      at = start;
    }
    uint64_t u = run.first;
    for (uint64_t i = 0; row < stop; ++i, ++row) {
      if (i > 0 && run.k <= 32 && u <= max_u) {
        // The run's codes that fit the buffer, at once; the loop goes on from the first that
        // does not.
        const size_t fast = bits.FastRun(run.k, stop - row, max_u, static_cast<uint64_t>(least),
                                         divisor, &u, dst + (row - at));
        i += fast;
        row += fast;
        if (row >= stop) break;
      }
      if (i > 0) {
        uint64_t step;
        const RiceBitReader::Read read = bits.Next(run.k, &step);
        if (read == RiceBitReader::Read::kEnd) return fail("is past the end of the steps");
        if (read == RiceBitReader::Read::kOverflow) return fail("has a step that overflows");
        if (__builtin_add_overflow(u, step, &u)) return fail("overflows");
      }
      if (u > max_u) return fail("overflows");
      dst[row - at] = static_cast<int64_t>(static_cast<uint64_t>(least) + u * divisor);
    }
    if (rows != nullptr) {
      // (stop < end only when the last listed row is in this run: the loop then ends.)
      int64_t* taken = out->data() + base;
      for (; next < rows->size() && (*rows)[next] < stop; ++next) {
        taken[next] = dst[(*rows)[next] - at];
      }
      if (next == rows->size()) break;
    }
  }
  if (rows == nullptr && want == count && !bits.Done()) {
    out->resize(base);
    return Status::DataLoss("rice-runs int column: bytes after the steps");
  }
  return Status::OK();
}

Status DecodeRiceRunsPrefix(std::string_view body, size_t count, size_t through,
                            std::vector<int64_t>* out) {
  return DecodeRiceRunsRows(body, count, through, nullptr, out);
}

Status DecodeRiceRuns(std::string_view body, size_t count, std::vector<int64_t>* out) {
  return DecodeRiceRunsPrefix(body, count, count, out);
}

}  // namespace

Status DecodeRiceRunsThrough(std::string_view body, size_t count, size_t through,
                             std::vector<int64_t>* out) {
  return DecodeRiceRunsPrefix(body, count, through, out);
}

Status DecodeRiceRunsListed(std::string_view body, size_t count, const std::vector<uint32_t>& rows,
                            std::vector<int64_t>* out) {
  return DecodeRiceRunsRows(body, count, count, &rows, out);
}

bool EncodeRiceRuns(const int64_t* values, size_t count, std::string* out) {
  if (count == 0) return false;
  const int64_t least = *std::min_element(values, values + count);
  uint64_t divisor = 0;
  std::vector<uint64_t> u(count);
  for (size_t row = 0; row < count; ++row) {
    u[row] = static_cast<uint64_t>(values[row]) - static_cast<uint64_t>(least);
    divisor = std::gcd(divisor, u[row]);
  }
  if (divisor == 0) divisor = 1;
  if (divisor > uint64_t{INT64_MAX}) return false;
  for (uint64_t& v : u) v /= divisor;
  // Runs end where the values fall.
  std::vector<Run> runs;
  std::vector<uint64_t> steps;
  steps.reserve(count);
  size_t start = 0;
  for (size_t row = 1; row <= count; ++row) {
    if (row < count && u[row] >= u[row - 1]) {
      steps.push_back(u[row] - u[row - 1]);
      continue;
    }
    runs.push_back(Run{row - start, 0, u[start]});
    start = row;
  }
  // Each run's k: the cheapest near log2 of its mean step.
  size_t at = 0;
  for (Run& run : runs) {
    const size_t n = run.length - 1;
    if (n == 0) continue;
    unsigned __int128 sum = 0;
    for (size_t i = 0; i < n; ++i) sum += steps[at + i];
    const uint64_t mean = static_cast<uint64_t>(sum / n);
    const uint32_t guess = mean == 0 ? 0 : static_cast<uint32_t>(std::bit_width(mean)) - 1;
    uint64_t best = UINT64_MAX;
    for (uint32_t k = guess > 1 ? guess - 2 : 0; k <= std::min(guess + 1, kMaxK); ++k) {
      const uint64_t bits = RiceBits(steps.data() + at, n, k);
      if (bits < best) {
        best = bits;
        run.k = k;
      }
    }
    at += n;
  }
  out->push_back(static_cast<char>(Encoding::kRiceRuns));
  PutVarint64(out, count);
  PutVarint64(out, divisor);
  PutVarint64(out, ZigZagEncode(least));
  PutVarint64(out, runs.size());
  for (const Run& run : runs) {
    PutVarint64(out, run.length);
    out->push_back(static_cast<char>(run.k));
    PutVarint64(out, run.first);
  }
  RiceBitWriter writer(out);
  at = 0;
  for (const Run& run : runs) {
    for (size_t i = 0; i + 1 < run.length; ++i) writer.Rice(steps[at++], run.k);
  }
  writer.Finish();
  return true;
}

extern const ColumnEncoding kRiceRunsEncoding;  // registered in column_encoding.cc
const ColumnEncoding kRiceRunsEncoding{Encoding::kRiceRuns, "rice-runs", &DecodeRiceRuns, nullptr};

}  // namespace sawmill::segment
