// The benchmark corpus (NDJSON, bench/corpus_generator.h) as the server stores its lines, for the
// in-process benchmarks that write segments (bench_segment, bench_storage).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sawmill/record.h"

namespace sawmill::bench {

// The first "lines" lines of the corpus at "path" as the server stores them: normalised by
// ingest::NormalizeBody, in batches of 1,000 lines that share an ingest time (as a shipper's
// requests would), seqs in order, tenant "bench". "*raw" (when not null) gets the lines read.
// Empty (and a message on stderr) when the file cannot be opened.
std::vector<Record> CorpusRecords(const std::string& path, size_t lines, std::string* raw);

}  // namespace sawmill::bench
