// Shared by the storage tests: the batches of numbered lines they append, the records of a
// memtable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sawmill/record.h"

namespace sawmill::storage {

// The ts of line 0 (2023-11-14).
inline constexpr int64_t kFirstLineTs = 1'700'000'000'000'000'000;

// How NumberedLines makes line n: service "svc<n % services>", host "host<n % hosts>", ts
// kFirstLineTs + n * ts_step.
struct LineSpec {
  int services = 3;
  int hosts = 2;
  int64_t ts_step = 1;
};

// Lines n = first .. first + count - 1: service, host and ts as "spec" says, level
// n % kLevelCount, message "line <n>"; then "more(n, &line)" when given (a longer message,
// fields).
inline std::vector<Record> NumberedLines(int first, int count, const LineSpec& spec = {},
                                         const std::function<void(int, Record*)>& more = {}) {
  std::vector<Record> v(count);
  for (int i = 0; i < count; ++i) {
    Record& r = v[i];
    const int n = first + i;
    r.service = "svc" + std::to_string(n % spec.services);
    r.host = "host" + std::to_string(n % spec.hosts);
    r.level = static_cast<Level>(n % kLevelCount);
    r.ts = kFirstLineTs + int64_t{n} * spec.ts_step;
    r.message = "line " + std::to_string(n);
    if (more) more(n, &r);
  }
  return v;
}

// A record of "seq" alone with the message "m<seq>" (the memtable tests).
inline Record SeqRecord(uint64_t seq) {
  Record r;
  r.seq = seq;
  r.message = "m" + std::to_string(seq);
  return r;
}

}  // namespace sawmill::storage
