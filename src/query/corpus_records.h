// The benchmark corpus (bench/corpus_generator.h) as records, for the differential tests that run
// on it (query_columnar_test): generated into a file and read back the way bench_query loads it.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus_generator.h"
#include "sawmill/record.h"

namespace sawmill::query::testing {

// "lines" corpus lines from the real datasets' message pool, written to "path" and parsed back
// (ts, service, host, level, trace_id, user_id, message; seq from 1). Fails the calling test
// (and returns what it has) when the pool or the file cannot be made.
std::vector<Record> GeneratedCorpusRecords(uint64_t lines, const std::string& path,
                                           bench::CorpusFacts* facts);

}  // namespace sawmill::query::testing
