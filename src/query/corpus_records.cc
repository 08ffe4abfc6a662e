#include "query/corpus_records.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "query/test_dataset.h"
#include "query/time_range.h"

namespace sawmill::query::testing {

std::vector<Record> GeneratedCorpusRecords(uint64_t lines, const std::string& path,
                                           bench::CorpusFacts* facts) {
  std::vector<Record> records;
  auto pool = bench::LoadMessagePool(SharedDir() + "/data/real");
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  if (!pool.ok()) return records;
  std::FILE* f = std::fopen(path.c_str(), "w");
  EXPECT_NE(f, nullptr) << path;
  if (f == nullptr) return records;
  auto generated = bench::GenerateCorpus(*pool, lines, f);
  std::fclose(f);
  EXPECT_TRUE(generated.ok()) << generated.status().ToString();
  if (!generated.ok()) return records;
  *facts = *generated;
  simdjson::ondemand::parser parser;
  simdjson::padded_string json = simdjson::padded_string::load(path);
  simdjson::ondemand::document_stream stream;
  EXPECT_FALSE(parser.iterate_many(json).get(stream));
  for (auto doc : stream) {
    Record r;
    r.tenant = "default";
    std::string_view sv;
    if (!doc["ts"].get_string().get(sv)) {
      if (auto t = ParseInstant(sv)) r.ts = r.ingest_ts = *t;
    }
    if (!doc["service"].get_string().get(sv)) r.service = std::string(sv);
    if (!doc["host"].get_string().get(sv)) r.host = std::string(sv);
    if (!doc["level"].get_string().get(sv)) r.level = ParseLevel(sv).value_or(Level::kUnknown);
    if (!doc["trace_id"].get_string().get(sv)) r.trace_id = std::string(sv);
    if (!doc["user_id"].get_string().get(sv)) r.user_id = std::string(sv);
    if (!doc["message"].get_string().get(sv)) r.message = std::string(sv);
    r.seq = records.size() + 1;
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace sawmill::query::testing
