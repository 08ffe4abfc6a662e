// The inverted index's version 5, the block map of user ids (segment format version 27): each
// user's blocks read back as brute force finds them, through the reader and the kind's view.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/coding.h"
#include "common/rice_code.h"
#include "index/index_kind.h"
#include "index/inverted_index.h"
#include "index/parts_source_test_util.h"
#include "sawmill/record.h"

namespace sawmill::index {
namespace {

IndexedField Builtin(const char* name, std::string Record::*text) {
  IndexedField f;
  f.name = name;
  f.builtin = true;
  f.text = text;
  return f;
}

// The inverted kind's parts of "rows" in blocks of "block_rows", as format 27 writes them
// (the default ValuePostingsRule's near-unique fraction, as the server's), and the fields the
// blooms are told to leave out.
std::vector<IndexPart> MapParts(const std::vector<Record>& rows, uint32_t block_rows,
                                PostedFields* posted) {
  const IndexKind* kind = FindIndexKind("inverted");
  EXPECT_NE(kind, nullptr);
  BuildOptions options;
  IndexedField service = Builtin("service", &Record::service);
  service.keep_empty = true;
  options.indexed = {service, Builtin("trace_id", &Record::trace_id),
                     Builtin("user_id", &Record::user_id)};
  options.blooms = {Builtin("trace_id", &Record::trace_id), Builtin("user_id", &Record::user_id)};
  options.values.max_distinct_fraction = 0.25;
  options.segment_rows = rows.size();
  options.value_block_lists = true;
  options.rice_value_rows = true;
  options.rice_value_stream = true;
  options.user_block_map = true;
  options.posted_fields = posted;
  std::unique_ptr<IndexBuilder> builder = kind->new_builder(options);
  for (size_t first = 0; first < rows.size(); first += block_rows) {
    builder->AddBlock(rows.data() + first,
                      static_cast<uint32_t>(std::min<size_t>(block_rows, rows.size() - first)));
  }
  std::vector<IndexPart> parts;
  builder->Finish(&parts);
  return parts;
}

const IndexPart* UsersOf(const std::vector<IndexPart>& parts) {
  for (const IndexPart& p : parts) {
    if (p.field.name == "user_id") return &p;
  }
  return nullptr;
}

// Writes "users" (a row each) in blocks of "block_rows" and checks every user, and "absent"
// ones, against brute force: the reader's values and blocks, and the view's answers.
void ExpectMapAsBruteForce(const std::vector<std::string>& users, uint32_t block_rows,
                           const std::vector<std::string>& absent) {
  std::vector<Record> rows(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    rows[i].service = "api";
    rows[i].user_id = users[i];
    rows[i].trace_id = "t" + std::to_string(i);
  }
  const auto blocks = static_cast<uint32_t>((users.size() + block_rows - 1) / block_rows);
  std::map<std::string, std::vector<uint32_t>> want;
  for (size_t i = 0; i < users.size(); ++i) {
    if (users[i].empty()) continue;
    std::vector<uint32_t>& b = want[users[i]];
    const auto block = static_cast<uint32_t>(i / block_rows);
    if (b.empty() || b.back() != block) b.push_back(block);
  }
  PostedFields posted;
  const std::vector<IndexPart> parts = MapParts(rows, block_rows, &posted);
  const IndexPart* part = UsersOf(parts);
  ASSERT_NE(part, nullptr) << "the user map is written whatever the distinct users";
  EXPECT_TRUE(posted.Has("user_id", true)) << "the blooms leave the users out";
  EXPECT_FALSE(posted.Has("trace_id", true));
  EXPECT_EQ(part->count, want.size());
  ASSERT_EQ(static_cast<uint8_t>(part->blobs[0][0]), kInvertedIndexBlockMapVersion);
  auto reader = InvertedIndexReader::Parse(part->blobs[0], static_cast<uint32_t>(rows.size()));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->block_map());
  EXPECT_EQ((*reader)->block_count(), blocks);
  ASSERT_EQ((*reader)->size(), want.size());
  std::vector<std::string> values;
  for (const auto& [user, b] : want) values.push_back(user);
  EXPECT_EQ((*reader)->Values(), values);

  auto view =
      FindIndexKind("inverted")->open(std::make_shared<PartsSource>(parts, blocks, rows.size()));
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  FieldPredicate p;
  p.field = "user_id";
  p.builtin = true;
  std::vector<BlockEntry> got;
  for (const auto& [user, b] : want) {
    ASSERT_TRUE((*reader)->Holds(user));
    ASSERT_TRUE((*reader)->LookupBlocks(user, &got).ok()) << user;
    std::vector<uint32_t> have;
    for (const BlockEntry& e : got) have.push_back(e.block);
    ASSERT_EQ(have, b) << user;
    p.value = user;
    auto rows_of = (*view)->Rows(p);
    ASSERT_TRUE(rows_of.ok() && !rows_of->has_value()) << "the map names blocks, not rows";
    auto counts = (*view)->BlockCounts(p);
    ASSERT_TRUE(counts.ok() && !counts->has_value()) << "nor rows per block";
    auto segment = (*view)->SegmentMayMatch(p);
    ASSERT_TRUE(segment.ok() && *segment) << user;
    for (uint32_t block = 0; block < blocks; ++block) {
      auto may = (*view)->BlockMayMatch(block, p);
      ASSERT_TRUE(may.ok());
      ASSERT_EQ(*may, std::binary_search(b.begin(), b.end(), block)) << user << " block " << block;
    }
  }
  for (const std::string& user : absent) {
    ASSERT_EQ(want.count(user), 0u) << user;
    EXPECT_FALSE((*reader)->Holds(user)) << user;
    auto none = (*reader)->Lookup(user);
    ASSERT_TRUE(none.ok() && none->isEmpty()) << user;
    p.value = user;
    auto segment = (*view)->SegmentMayMatch(p);
    ASSERT_TRUE(segment.ok());
    EXPECT_FALSE(*segment) << user << ": the segment is pruned";
    auto rows_of = (*view)->Rows(p);
    ASSERT_TRUE(rows_of.ok() && rows_of->has_value() && (*rows_of)->isEmpty()) << user;
    auto counts = (*view)->BlockCounts(p);
    ASSERT_TRUE(counts.ok() && counts->has_value()) << user;
    EXPECT_EQ(**counts, std::vector<uint32_t>(blocks, 0)) << user;
  }
}

TEST(UserBlockMap, OneUser) {
  ExpectMapAsBruteForce(std::vector<std::string>(1000, "u000042"), 100,
                        {"u00004", "u0000420", "u000043"});
}

TEST(UserBlockMap, EveryRowADistinctUserIsStillAMap) {
  std::vector<std::string> users;
  for (int i = 0; i < 3000; ++i) users.push_back("u" + std::to_string(100000 + i * 7));
  ExpectMapAsBruteForce(users, 256, {"u100001", "u10000", "u1000000", "a", "z"});
}

TEST(UserBlockMap, SixtyFiveThousandUsersAtRandom) {
  std::mt19937 rng(27);
  std::vector<std::string> users;
  for (int i = 0; i < 200000; ++i) {
    char id[16];
    snprintf(id, sizeof(id), "u%06u", static_cast<unsigned>(rng() % 66000));
    users.push_back(id);
  }
  ExpectMapAsBruteForce(users, 8192, {"u066001", "u0", "u", "u0660000"});
}

TEST(UserBlockMap, EmptyNonAsciiLongAndPrefixIds) {
  std::mt19937 rng(5);
  const std::vector<std::string> kinds = {"",
                                          "u1",
                                          "u12",
                                          "u123",
                                          "\xc3\xa9l\xc3\xa8ve-\xe6\x97\xa5\xe6\x9c\xac",
                                          std::string("nul\0byte", 8),
                                          std::string(5000, 'x') + "a",
                                          std::string(5000, 'x') + "b",
                                          "\xff\xfe"};
  std::vector<std::string> users;
  for (int i = 0; i < 4000; ++i) users.push_back(kinds[rng() % kinds.size()]);
  ExpectMapAsBruteForce(users, 128,
                        {"u", "u1234", "u13", std::string(5000, 'x'), std::string(5001, 'x'),
                         std::string("nul", 3), "\xff"});
}

// Rows without a user: an empty map, which says no user is in the segment.
TEST(UserBlockMap, NoUsersIsAnEmptyMap) {
  ExpectMapAsBruteForce(std::vector<std::string>(500, ""), 100, {"u1", "x"});
}

// Damaged bytes: a Parse error names the map, a user's codes that no longer fit name the user,
// and the view says DataLoss naming the segment and the index for every question about it.
TEST(UserBlockMap, DamagedMapIsDataLossNamingTheSegmentTheIndexAndTheUser) {
  std::mt19937 rng(9);
  std::vector<Record> rows(4096);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].service = "api";
    rows[i].user_id = "u" + std::to_string(10 + rng() % 50);
  }
  const std::vector<IndexPart> parts = MapParts(rows, 64, nullptr);
  ASSERT_NE(UsersOf(parts), nullptr);
  const std::string good = UsersOf(parts)->blobs[0];
  FieldPredicate p;
  p.field = "user_id";
  p.builtin = true;
  p.value = "u30";
  const IndexKind* kind = FindIndexKind("inverted");

  // Cut short: the codes end in a user.
  for (size_t cut : {good.size() - 1, good.size() / 2, size_t{3}}) {
    std::vector<IndexPart> damaged = parts;
    for (IndexPart& part : damaged) {
      if (part.field.name == "user_id") part.blobs[0].resize(cut);
    }
    auto parsed = InvertedIndexReader::Parse(UsersOf(damaged)->blobs[0], 4096);
    ASSERT_FALSE(parsed.ok()) << cut;
    EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(parsed.status().message().find("inverted index (block map)"), std::string::npos)
        << parsed.status().message();
    auto view = kind->open(std::make_shared<PartsSource>(damaged, 64, rows.size()));
    ASSERT_TRUE(view.ok());
    for (int ask = 0; ask < 2; ++ask) {
      auto segment = (*view)->SegmentMayMatch(p);
      ASSERT_FALSE(segment.ok()) << cut;
      EXPECT_EQ(segment.status().code(), StatusCode::kDataLoss);
      EXPECT_NE(segment.status().message().find("segment /s.seg: index 'user_id'"),
                std::string::npos)
          << segment.status().message();
      auto block = (*view)->BlockMayMatch(3, p);
      ASSERT_FALSE(block.ok()) << cut;
      EXPECT_EQ(block.status().code(), StatusCode::kDataLoss);
    }
  }

  // A map whose bits all fit but whose one user's code names block 9 of 4: Parse passes it
  // over (a lookup checks a user's blocks), the lookup and the view name the user.
  std::string crafted(1, static_cast<char>(kInvertedIndexBlockMapVersion));
  PutVarint64(&crafted, 1);
  PutVarint64(&crafted, 4);
  std::string values, counts;
  PutVarint64(&values, 0);
  PutLengthPrefixed(&values, "u1");
  PutVarint64(&counts, 0);
  PutLengthPrefixed(&crafted, values);
  PutLengthPrefixed(&crafted, counts);
  RiceBitWriter codes(&crafted);
  codes.Rice(9, ImpliedRiceK(1, 4));
  codes.Finish();
  auto parsed = InvertedIndexReader::Parse(crafted, 400);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::vector<BlockEntry> got;
  Status s = (*parsed)->LookupBlocks("u1", &got);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("block map of value 'u1': block 0 of 1 is past the segment's 4"),
            std::string::npos)
      << s.message();
  std::vector<IndexPart> one(1);
  one[0].field = Builtin("user_id", &Record::user_id);
  one[0].count = 1;
  one[0].blobs = {crafted};
  auto view = kind->open(std::make_shared<PartsSource>(one, 4, 400));
  ASSERT_TRUE(view.ok());
  p.value = "u1";
  auto rows_of = (*view)->Rows(p);
  ASSERT_FALSE(rows_of.ok());
  EXPECT_EQ(rows_of.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(rows_of.status().message().find(
                "segment /s.seg: index 'user_id': block map of value 'u1': block 0"),
            std::string::npos)
      << rows_of.status().message();
  auto block = (*view)->BlockMayMatch(1, p);
  EXPECT_EQ(block.status().code(), StatusCode::kDataLoss);
  // Another value is still answered: absent.
  p.value = "u2";
  auto other = (*view)->SegmentMayMatch(p);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
}

}  // namespace
}  // namespace sawmill::index
