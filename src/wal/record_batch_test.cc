#include "wal/record_batch.h"

#include <gtest/gtest.h>

namespace sawmill::wal {
namespace {

std::vector<Record> Sample() {
  std::vector<Record> v(3);
  v[0].ts = 1700000000000000000;
  v[0].ingest_ts = 1700000000000000500;
  v[0].service = "payments";
  v[0].host = "web-1";
  v[0].level = Level::kError;
  v[0].trace_id = "abc";
  v[0].message = "timeout\r\nsecond line \xc3\xa9";
  v[0].fields = {{"http.status", "500"}, {"path", "/x"}};
  v[0].flags = kFlagTruncated;
  v[1].ts = -5;  // before the epoch, earlier than ingest
  v[1].ingest_ts = 10;
  v[1].message = std::string(25000, 'x');
  v[2].ts = 20;
  v[2].ingest_ts = 10;  // source clock ahead of the server
  return v;
}

TEST(RecordBatch, RoundTripsEveryField) {
  std::string payload;
  auto in = Sample();
  EncodeBatch("acme", in, &payload);
  SetBatchBaseSeq(payload.data(), 41);
  std::vector<Record> out;
  ASSERT_TRUE(DecodeBatch(payload, &out).ok());
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    in[i].seq = 41 + i;
    in[i].tenant = "acme";
    EXPECT_EQ(out[i], in[i]) << i;
  }
}

TEST(RecordBatch, TruncatedBatchIsDataLossAndAddsNothing) {
  std::string payload;
  EncodeBatch("acme", Sample(), &payload);
  for (size_t cut = 0; cut < payload.size(); cut += 7) {
    std::vector<Record> out;
    Status s = DecodeBatch(std::string_view(payload).substr(0, cut), &out);
    EXPECT_TRUE(s.IsDataLoss()) << cut;
    EXPECT_TRUE(out.empty());
  }
}

}  // namespace
}  // namespace sawmill::wal
