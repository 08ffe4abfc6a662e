#include "wal/record_batch.h"

#include <gtest/gtest.h>

#include "common/coding.h"

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

TEST(RecordBatch, RoundTripsAnIdempotencyKey) {
  BatchIdempotency key;
  key.key = "agent-7-1042";
  key.body_hash = 0xfedcba9876543210ull;
  key.created_ns = 1700000000123456789;
  key.answer = "2,1,0,0";
  std::string payload;
  auto in = Sample();
  EncodeBatch("acme", in, &payload, &key);
  SetBatchBaseSeq(payload.data(), 41);
  std::vector<Record> out;
  BatchHeader header;
  ASSERT_TRUE(DecodeBatch(payload, &out, &header).ok());
  EXPECT_EQ(header.version, 2);
  EXPECT_EQ(header.base_seq, 41u);
  EXPECT_EQ(header.tenant, "acme");
  EXPECT_EQ(header.count, 3u);
  ASSERT_TRUE(header.idempotency.has_value());
  EXPECT_EQ(*header.idempotency, key);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message, in[0].message);
  EXPECT_EQ(out[2].seq, 43u);
}

TEST(RecordBatch, EmptyBatchCarriesItsKey) {
  BatchIdempotency key;
  key.key = "k";
  std::string payload;
  EncodeBatch("t", {}, &payload, &key);
  SetBatchBaseSeq(payload.data(), 9);
  std::vector<Record> out;
  BatchHeader header;
  ASSERT_TRUE(DecodeBatch(payload, &out, &header).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(header.base_seq, 9u);
  EXPECT_EQ(header.count, 0u);
  ASSERT_TRUE(header.idempotency.has_value());
  EXPECT_EQ(header.idempotency->key, "k");
}

TEST(RecordBatch, BatchWithoutKeyHasNone) {
  std::string payload;
  EncodeBatch("acme", Sample(), &payload);
  std::vector<Record> out;
  BatchHeader header;
  ASSERT_TRUE(DecodeBatch(payload, &out, &header).ok());
  EXPECT_EQ(header.version, 2);
  EXPECT_FALSE(header.idempotency.has_value());
}

// Bytes written by the version 1 encoder (before Idempotency-Keys were kept in the WAL), for
// base seq 7, tenant "acme" and the two records below: WAL files of older servers replay.
TEST(RecordBatch, Version1PayloadFromAnOlderServerStillDecodes) {
  const std::string v1(
      "\x07\x00\x00\x00\x00\x00\x00\x00\x04\x61\x63\x6d\x65\x02\xd0\x0f\x0a\x03\x73\x76"
      "\x63\x01\x68\x04\x02\x74\x31\x00\x00\x05\x68\x65\x6c\x6c\x6f\x01\x01\x6b\x01\x76"
      "\x02\x05\x18\x00\x00\x00\x00\x00\x00\x06\x73\x65\x63\x6f\x6e\x64\x00\x00",
      58);
  std::vector<Record> out;
  BatchHeader header;
  Status s = DecodeBatch(v1, &out, &header);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(header.version, 1);
  EXPECT_EQ(header.base_seq, 7u);
  EXPECT_EQ(header.tenant, "acme");
  EXPECT_FALSE(header.idempotency.has_value());
  ASSERT_EQ(out.size(), 2u);
  Record first;
  first.seq = 7;
  first.tenant = "acme";
  first.ts = 1000;
  first.ingest_ts = 1005;
  first.service = "svc";
  first.host = "h";
  first.level = Level::kWarn;
  first.trace_id = "t1";
  first.message = "hello";
  first.fields = {{"k", "v"}};
  first.flags = 2;
  EXPECT_EQ(out[0], first);
  EXPECT_EQ(out[1].seq, 8u);
  EXPECT_EQ(out[1].ts, -3);
  EXPECT_EQ(out[1].ingest_ts, 9);
  EXPECT_EQ(out[1].message, "second");
}

// A version 1 reader takes the marker for a 4 GiB tenant name and stops with "truncated" rather
// than misreading a version 2 payload (a downgrade fails loudly).
TEST(RecordBatch, Version1ReaderRejectsVersion2Payload) {
  std::string payload;
  EncodeBatch("acme", Sample(), &payload);
  std::string_view rest(payload);
  uint64_t base = 0;
  std::string_view tenant;
  ASSERT_TRUE(GetFixed64(&rest, &base));
  EXPECT_FALSE(GetLengthPrefixed(&rest, &tenant));
}

TEST(RecordBatch, UnknownVersionIsDataLoss) {
  std::string payload;
  EncodeBatch("acme", Sample(), &payload);
  payload[13] = 3;  // version byte after base_seq and the 5-byte marker
  std::vector<Record> out;
  Status s = DecodeBatch(payload, &out);
  EXPECT_TRUE(s.IsDataLoss());
  EXPECT_NE(s.message().find("version 3"), std::string::npos) << s.ToString();
}

TEST(RecordBatch, TruncatedKeyedBatchIsDataLoss) {
  BatchIdempotency key;
  key.key = "some-key";
  key.answer = "1,0,0,0";
  std::string payload;
  EncodeBatch("acme", Sample(), &payload, &key);
  for (size_t cut = 0; cut < payload.size(); cut += 3) {
    std::vector<Record> out;
    BatchHeader header;
    EXPECT_TRUE(DecodeBatch(std::string_view(payload).substr(0, cut), &out, &header).IsDataLoss())
        << cut;
    EXPECT_TRUE(out.empty());
  }
}

}  // namespace
}  // namespace sawmill::wal
