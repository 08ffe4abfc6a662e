// The rule of which exact-value fields get postings (index::ValuePostingsRule, issue 19): a
// near-unique field (trace ids) has no inverted index in a segment, so its values are "cannot
// tell" (nullopt), never "no row", while its blooms still find every value it holds; a field
// whose values repeat, a field without a bloom, service, host and level keep their postings.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"

namespace sawmill::segment {
namespace {

SegmentInfo Info() {
  SegmentInfo info;
  info.id = 7;
  info.tenant = "acme";
  return info;
}

// 3,000 rows: a trace_id of its own in every row (near-unique); a user_id of 4 rows each (on
// the rule's boundary: 1 distinct value per 4, posted); a span_id of 3 rows each (1 per 3,
// above 0.25: not posted); a dynamic field "order" unique per row but without a bloom.
std::vector<Record> Rows() {
  std::vector<Record> out;
  for (uint64_t i = 0; i < 3000; ++i) {
    Record r;
    r.seq = i;
    r.ts = r.ingest_ts = 1'000'000'000 + static_cast<int64_t>(i) * 1000;
    r.service = "svc" + std::to_string(i % 3);
    r.host = "h" + std::to_string(i % 5);
    r.level = static_cast<Level>(i % kLevelCount);
    r.message = "line " + std::to_string(i);
    r.trace_id = "t" + std::to_string(i * 7919);
    r.user_id = "u" + std::to_string(i / 4);
    r.span_id = "s" + std::to_string(i / 3);
    r.fields.emplace_back("order", "o" + std::to_string(i));
    out.push_back(std::move(r));
  }
  return out;
}

std::shared_ptr<SegmentReader> Write(FaultInjectionEnv* env, const std::string& path,
                                     const std::vector<Record>& rows,
                                     const index::ValuePostingsRule& rule, uint32_t version = 14) {
  WriterOptions o;
  o.block_rows = 512;
  o.time_slice_rows = 512;
  o.indexed_fields = {"trace_id", "user_id", "span_id", "order", "message"};
  o.value_postings = rule;
  // The rule of which fields get an index, with rows postings and blooms (version 14); from
  // version 16 a posted field with a bloom is block lists without blooms (BlockLists.*).
  o.format_version = version;
  Status s = WriteSegment(env, path, Info(), rows, o, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto reader = SegmentReader::Open(env, path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  return reader.ok() ? *reader : nullptr;
}

// Whether the segment answers `field = value` with rows (an index) rather than "cannot tell".
bool Posted(const SegmentReader& reader, const std::string& field, const std::string& value) {
  auto rows = reader.Postings(field, value);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() && rows->has_value();
}

TEST(ValuePostings, NearUniqueFieldsAreCannotTellAndTheirBloomsFindEveryValue) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  auto reader = Write(&env, "/rule.seg", rows, DefaultValuePostingsRule());
  ASSERT_NE(reader, nullptr);
  std::vector<Record> stored;
  for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
    ASSERT_TRUE(reader->ReadBlock(b, kColAll, &stored, nullptr).ok());
  }
  ASSERT_EQ(stored.size(), rows.size());

  // Near-unique with a bloom: no postings, for a value held or not, and no value list.
  EXPECT_FALSE(Posted(*reader, "trace_id", rows[17].trace_id));
  EXPECT_FALSE(Posted(*reader, "trace_id", "no-such-trace"));
  EXPECT_FALSE(Posted(*reader, "span_id", rows[17].span_id));
  auto values = reader->IndexedValues("trace_id");
  ASSERT_TRUE(values.ok());
  EXPECT_FALSE(values->has_value());
  // Its blooms still say "maybe" for every value the segment and each block hold.
  for (uint32_t row = 0; row < stored.size(); ++row) {
    const std::string& t = stored[row].trace_id;
    ASSERT_TRUE(reader->SegmentMayContain("trace_id", t).value_or(false)) << t;
    const uint32_t block = row / 512;
    ASSERT_TRUE(reader->BlockMayContain(block, "trace_id", t).value_or(false))
        << t << " block " << block;
  }

  // On the boundary (4 rows a value) and without a bloom: posted, exactly.
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"user_id", "u10"}, {"order", "o123"}, {"service", "svc1"}, {"host", "h4"}}) {
    auto got = reader->Postings(field, value);
    ASSERT_TRUE(got.ok() && got->has_value()) << field;
    roaring::Roaring want;
    for (uint32_t row = 0; row < stored.size(); ++row) {
      const Record& r = stored[row];
      const std::string* v = r.FindField(field);
      std::string_view have = field == "user_id"   ? std::string_view(r.user_id)
                              : field == "service" ? std::string_view(r.service)
                              : field == "host"    ? std::string_view(r.host)
                              : v != nullptr       ? std::string_view(*v)
                                                   : std::string_view();
      if (have == value) want.add(row);
    }
    EXPECT_GT(want.cardinality(), 0u) << field;
    EXPECT_EQ(**got, want) << field;
  }
  // A posted field still answers "no row" for a value it does not hold.
  auto absent = reader->Postings("user_id", "no-such-user");
  ASSERT_TRUE(absent.ok() && absent->has_value());
  EXPECT_TRUE((*absent)->isEmpty());
}

TEST(ValuePostings, RuleOffOrSmallSegmentPostsEveryField) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  auto off = Write(&env, "/off.seg", rows, index::ValuePostingsRule());
  ASSERT_NE(off, nullptr);
  EXPECT_TRUE(Posted(*off, "trace_id", rows[17].trace_id));
  EXPECT_TRUE(Posted(*off, "span_id", rows[17].span_id));

  index::ValuePostingsRule small = DefaultValuePostingsRule();
  small.small_segment_rows = rows.size();
  auto few = Write(&env, "/small.seg", rows, small);
  ASSERT_NE(few, nullptr);
  auto got = few->Postings("trace_id", rows[17].trace_id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->cardinality(), 1u);

  small.small_segment_rows = rows.size() - 1;  // one row more than the exception covers
  auto more = Write(&env, "/more.seg", rows, small);
  ASSERT_NE(more, nullptr);
  EXPECT_FALSE(Posted(*more, "trace_id", rows[17].trace_id));
}

TEST(ValuePostings, AFieldWithoutABloomKeepsItsPostings) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  WriterOptions o;
  o.block_rows = 512;
  o.bloom_fields = {"message"};  // trace_id has no bloom: its postings are all that serve it
  Status s = WriteSegment(&env, "/nobloom.seg", Info(), rows, o, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto reader = SegmentReader::Open(&env, "/nobloom.seg");
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(Posted(**reader, "trace_id", rows[17].trace_id));
}

// The segment-wide bloom is kept only where it is the smaller answer: the message's words repeat
// in every block (kept), a trace id is in one block (left out: the block filters together are as
// large). Without it every held value is still "maybe" for the segment, and absent ones mostly
// "no" from the block filters.
TEST(ValuePostings, SegmentBloomOnlyForValuesRepeatedAcrossBlocks) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  Write(&env, "/blooms.seg", rows, DefaultValuePostingsRule());
  auto reader = SegmentFileReader::OpenFile(&env, "/blooms.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_GT((*reader)->blocks().size(), 1u);
  std::map<std::string, const BloomMeta*> blooms;
  for (const BloomMeta& b : (*reader)->footer().blooms) blooms[b.field] = &b;
  ASSERT_TRUE(blooms.count("trace_id") && blooms.count("message") && blooms.count("user_id"));
  EXPECT_EQ(blooms["trace_id"]->segment_filter.size, 0u);
  EXPECT_EQ(blooms["user_id"]->segment_filter.size, 0u);  // 4 rows a value: mostly one block
  EXPECT_GT(blooms["message"]->segment_filter.size, 0u);  // "line" in every block
  EXPECT_GT(blooms["trace_id"]->block_filters.size, 0u);
  for (const Record& r : rows) {
    ASSERT_TRUE((*reader)->SegmentMayContain("trace_id", r.trace_id).value_or(false)) << r.trace_id;
  }
  int absent_maybe = 0;
  for (int i = 0; i < 1000; ++i) {
    absent_maybe +=
        (*reader)->SegmentMayContain("trace_id", "absent" + std::to_string(i)).value_or(true);
  }
  EXPECT_LT(absent_maybe, 150);  // about 1 % per block filter, 6 blocks
}

// (Format version 16) A posted field with a bloom (user_id: 4 rows a value) is stored as block
// lists and has no blooms: its rows are "cannot tell" (the blocks are read), its values are
// listed, and for every value and block "may hold" is exactly whether the block holds it and the
// counts per block are its rows there; a value no row holds is in no block. The near-unique
// trace_id keeps its blooms, service and host their rows. The file is smaller than version 15's
// of the same rows and verifies. Fails with version 15's layout (rows and blooms).
TEST(ValuePostings, Version16ListsAPostedBloomFieldsBlocksExactlyWithoutItsBlooms) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  index::ValuePostingsRule lists = DefaultValuePostingsRule();
  lists.list_below_rows = 32;  // every user here (4 rows) listed
  auto v15 = Write(&env, "/v15.seg", rows, lists, 15);
  // Format 25: the last to write block lists (27 writes the user ids' block map, which has no
  // rows per block: index_test UserBlockMap.*).
  auto reader = Write(&env, "/v16.seg", rows, lists, 25);
  ASSERT_NE(reader, nullptr);
  ASSERT_NE(v15, nullptr);
  EXPECT_LT(reader->info().file_bytes + 1000, v15->info().file_bytes)
      << "version 16 " << reader->info().file_bytes << ", version 15 " << v15->info().file_bytes;
  auto file = SegmentFileReader::OpenFile(&env, "/v16.seg");
  ASSERT_TRUE(file.ok());
  std::set<std::string> blooms;
  for (const BloomMeta& b : (*file)->footer().blooms) blooms.insert(b.field);
  EXPECT_EQ(blooms.count("user_id"), 0u) << "block lists and blooms both";
  EXPECT_EQ(blooms.count("trace_id"), 1u);
  // A version 15 writer (a store not yet raised to 16) keeps the user ids' blooms and rows.
  auto old_file = SegmentFileReader::OpenFile(&env, "/v15.seg");
  ASSERT_TRUE(old_file.ok());
  std::set<std::string> old_blooms;
  for (const BloomMeta& b : (*old_file)->footer().blooms) old_blooms.insert(b.field);
  EXPECT_EQ(old_blooms.count("user_id"), 1u) << "version 15 without the user ids' blooms";
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env, "/v16.seg", &report).ok());
  EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.problems[0]);

  std::vector<Record> stored;
  for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
    ASSERT_TRUE(reader->ReadBlock(b, kColAll, &stored, nullptr).ok());
  }
  std::map<std::string, std::vector<uint32_t>> want;  // user -> rows per block
  for (uint32_t row = 0; row < stored.size(); ++row) {
    auto& per_block = want[stored[row].user_id];
    per_block.resize(reader->blocks().size());
    ++per_block[row / 512];
  }
  auto values = reader->IndexedValues("user_id");
  ASSERT_TRUE(values.ok() && values->has_value());
  EXPECT_EQ((*values)->size(), want.size());
  for (const auto& [user, per_block] : want) {
    auto rows_of = reader->Postings("user_id", user);
    ASSERT_TRUE(rows_of.ok());
    EXPECT_FALSE(rows_of->has_value()) << "block lists answered rows for " << user;
    ASSERT_TRUE(reader->SegmentMayContain("user_id", user).value_or(false));
    for (uint32_t b = 0; b < per_block.size(); ++b) {
      ASSERT_EQ(reader->BlockMayContain(b, "user_id", user).value_or(per_block[b] == 0),
                per_block[b] > 0)
          << user << " block " << b;
    }
    index::FieldPredicate p;
    p.field = "user_id";
    p.builtin = true;
    p.op = index::FieldPredicate::Op::kEquals;
    p.value = user;
    auto counts = reader->MatchingRowsPerBlock(p);
    ASSERT_TRUE(counts.ok() && counts->has_value()) << user;
    EXPECT_EQ(**counts, per_block) << user;
  }
  EXPECT_FALSE(reader->SegmentMayContain("user_id", "no-such-user").value_or(true));
  for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
    EXPECT_FALSE(reader->BlockMayContain(b, "user_id", "no-such-user").value_or(true));
  }
  EXPECT_TRUE(Posted(*reader, "service", "svc1"));
  EXPECT_TRUE(Posted(*reader, "host", "h4"));
  EXPECT_TRUE(Posted(*reader, "order", "o123")) << "a field without a bloom keeps its rows";
}

}  // namespace
}  // namespace sawmill::segment
