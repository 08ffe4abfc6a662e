// The benchmark corpus as the server stores its lines (bench/corpus_records.h).
#include "corpus_records.h"

#include <cstdio>
#include <cstdlib>

#include "ingest/normalize.h"

namespace sawmill::bench {

std::vector<Record> CorpusRecords(const std::string& path, size_t lines, std::string* raw) {
  std::vector<Record> out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open corpus %s\n", path.c_str());
    return out;
  }
  // NormalizeBody reserves room for each batch only; without this every batch moved all the
  // records before it.
  out.reserve(lines);
  const int64_t start = 1'795'910'400'000'000'000;  // the corpus window's first second
  ingest::Defaults defaults;
  ingest::NormalizeOptions options;
  ingest::IngestCounts counts;
  std::string batch;
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  size_t read = 0;
  auto flush = [&] {
    const size_t first = out.size();
    ingest::NormalizeBody(batch, defaults, options, start + static_cast<int64_t>(read) * 1'000'000,
                          &out, &counts);
    for (size_t i = first; i < out.size(); ++i) {
      out[i].seq = i + 1;
      out[i].ingest_ts = start + static_cast<int64_t>(read) * 1'000'000;
      if (out[i].ts == 0) out[i].ts = out[i].ingest_ts;
      out[i].tenant = "bench";
    }
    if (raw != nullptr) raw->append(batch);
    batch.clear();
  };
  while (read < lines && (n = getline(&line, &cap, f)) > 0) {
    batch.append(line, static_cast<size_t>(n));
    if (++read % 1000 == 0) flush();
  }
  flush();
  std::free(line);
  std::fclose(f);
  return out;
}

}  // namespace sawmill::bench
