// The word_postings kind on its own: a word's rows are exactly the rows whose message the
// tokenizer gives that word, the rule's left-out words answer "cannot tell" (never zero), and a
// damaged or newer block does not open; both layouts (1: word by word, 2: front-coded columns)
// answer alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "common/coding.h"
#include "index/index_kind.h"
#include "index/tokenizer.h"
#include "index/word_hash.h"

namespace sawmill::index {
namespace {

const IndexKind& Kind() {
  const IndexKind* kind = FindIndexKind("word_postings");
  EXPECT_NE(kind, nullptr);
  return *kind;
}

BuildOptions WithMessage(WordPostingsRule rule = {}, uint32_t version = 0) {
  BuildOptions o;
  o.word_postings_version = version;
  IndexedField f;
  f.name = "message";
  f.builtin = true;
  f.message_words = true;
  f.text = &Record::message;
  o.indexed.push_back(f);
  o.words = rule;
  return o;
}

// Builds the kind over "rows" in blocks of "block_rows" and returns the serialized block ("" when
// the builder stored nothing).
std::string Build(const std::vector<Record>& rows, const BuildOptions& options,
                  uint32_t block_rows = 3) {
  auto builder = Kind().new_builder(options);
  for (size_t first = 0; first < rows.size(); first += block_rows) {
    builder->AddBlock(&rows[first],
                      static_cast<uint32_t>(std::min<size_t>(block_rows, rows.size() - first)));
  }
  std::vector<IndexPart> parts;
  builder->Finish(&parts);
  if (parts.empty()) return "";
  EXPECT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].version,
            options.word_postings_version == 0 ? Kind().version : options.word_postings_version);
  return parts[0].blobs.at(0);
}

std::unique_ptr<IndexView> Open(std::string data, uint32_t blocks = 1, uint32_t version = 0) {
  auto view =
      OpenKindBlock(Kind(), version == 0 ? Kind().version : version, std::move(data), blocks);
  EXPECT_TRUE(view.ok()) << view.status().ToString();
  return view.ok() ? std::move(view).value() : nullptr;
}

std::optional<std::vector<uint32_t>> RowsOf(const IndexView& view, std::string_view word) {
  FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = FieldPredicate::Op::kWord;
  p.value = word;
  auto rows = view.Rows(p);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok() || !*rows) return std::nullopt;
  std::vector<uint32_t> out;
  for (uint32_t r : **rows) out.push_back(r);
  return out;
}

std::vector<Record> Messages(const std::vector<std::string>& texts) {
  std::vector<Record> rows;
  for (const std::string& t : texts) {
    Record r;
    r.message = t;
    rows.push_back(std::move(r));
  }
  return rows;
}

TEST(WordPostings, AWordsRowsAreTheRowsWhoseMessageHoldsIt) {
  std::vector<Record> rows = Messages({
      "Connection RESET by peer",         // 0
      "connection-reset: retrying",       // 1
      "resets are not reset",             // 2
      "",                                 // 3
      "héllo wörld, HÉLLO again",         // 4
      "reset reset reset",                // 5
      "GET /api/v1/users?id=42 200 3ms",  // 6
  });
  auto view = Open(Build(rows, WithMessage()), 3);
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(RowsOf(*view, "reset"), (std::vector<uint32_t>{0, 1, 2, 5}));
  EXPECT_EQ(RowsOf(*view, "RESET"), (std::vector<uint32_t>{0, 1, 2, 5}));  // folded here too
  EXPECT_EQ(RowsOf(*view, "resets"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(RowsOf(*view, "connection"), (std::vector<uint32_t>{0, 1}));
  // Bytes >= 0x80 are word bytes and are not folded: "HÉLLO" folds to "hÉllo", not "héllo".
  EXPECT_EQ(RowsOf(*view, "héllo"), (std::vector<uint32_t>{4}));
  EXPECT_EQ(RowsOf(*view, "hÉllo"), (std::vector<uint32_t>{4}));
  EXPECT_EQ(RowsOf(*view, "42"), (std::vector<uint32_t>{6}));
  EXPECT_EQ(RowsOf(*view, "3ms"), (std::vector<uint32_t>{6}));
  // Absent, and every word is posted (min_rows 1): no row, for certain.
  EXPECT_EQ(RowsOf(*view, "timeout"), (std::vector<uint32_t>{}));
  // Not one word: the kind cannot say.
  EXPECT_EQ(RowsOf(*view, "reset by"), std::nullopt);
  EXPECT_EQ(RowsOf(*view, ""), std::nullopt);
}

TEST(WordPostings, RandomMessagesAgreeWithTheTokenizer) {
  std::mt19937 rng(19);
  const std::vector<std::string> vocabulary = {"Alpha", "beta", "GAMMA", "délta", "404", "10ms",
                                               "x",     "a_b",  "e-f",   "Ω",     "tail"};
  std::vector<std::string> texts;
  for (int i = 0; i < 3000; ++i) {
    std::string t;
    int n = static_cast<int>(rng() % 8);
    for (int k = 0; k < n; ++k) {
      t += vocabulary[rng() % vocabulary.size()];
      const char* seps[] = {" ", ", ", "", "/", "\t", "=", ".."};
      t += seps[rng() % 7];
    }
    // Words of one or two rows: letters only (posted from one row under letter_words_above_rows),
    // and with a digit (left to min_rows).
    if (i % 101 == 0) t += " once" + std::string(1, static_cast<char>('a' + i % 26)) + "q";
    if (i % 103 == 0) t += " id" + std::to_string(i / 2) + "x";
    texts.push_back(t);
  }
  std::vector<Record> rows = Messages(texts);
  WordPostingsRule letters3{3, 1000, true, 0.01, 40};
  letters3.letter_words_above_rows = 2999;  // the segment's 3,000 rows are above it
  WordPostingsRule letters5{5, 0, false, 1.0, 0};
  letters5.letter_words_above_rows = 0;
  WordPostingsRule not_above{3, 0, false, 1.0, 0};
  not_above.letter_words_above_rows = 3000;  // not above: min_rows for every word
  for (uint32_t version : {1u, 2u, 3u})
    for (WordPostingsRule rule :
         {WordPostingsRule{}, WordPostingsRule{1, 0, false, 0.2, 0},
          WordPostingsRule{3, 1000, true, 0.01, 40}, WordPostingsRule{5, 5000, false, 1.0, 0},
          letters3, letters5, not_above}) {
      SCOPED_TRACE("layout version " + std::to_string(version));
      auto view = Open(Build(rows, WithMessage(rule, version), 128), 24, version);
      ASSERT_NE(view, nullptr);
      std::set<std::string> words;
      for (const std::string& t : texts) {
        for (const std::string& w : Tokenize(t)) words.insert(w);
      }
      words.insert("absent");
      words.insert("absent7");
      for (const std::string& w : words) {
        std::vector<uint32_t> expected;
        for (uint32_t r = 0; r < texts.size(); ++r) {
          auto tokens = Tokenize(texts[r]);
          if (std::find(tokens.begin(), tokens.end(), w) != tokens.end()) expected.push_back(r);
        }
        auto got = RowsOf(*view, w);
        const double limit = rule.max_fraction >= 1.0
                                 ? 1e300
                                 : std::max<double>(static_cast<double>(rule.max_rows_floor),
                                                    std::floor(rule.max_fraction * texts.size()));
        const bool letters = texts.size() > rule.letter_words_above_rows && IsLetterWord(w);
        const uint32_t min_rows =
            texts.size() <= rule.small_segment_rows || letters ? 1 : rule.min_rows;
        bool left_out = (!rule.numbers && IsNumberWord(w)) ||
                        static_cast<double>(expected.size()) > limit ||
                        (min_rows > 1 && expected.size() < min_rows);
        if (left_out) {
          EXPECT_EQ(got, std::nullopt) << w;
        } else {
          ASSERT_TRUE(got.has_value()) << w;
          EXPECT_EQ(*got, expected) << w;
        }
      }
    }
}

TEST(WordPostings, NothingIsStoredWithoutTheMessageInTheIndexedFields) {
  std::vector<Record> rows = Messages({"a b c"});
  EXPECT_EQ(Build(rows, BuildOptions{}), "");
}

TEST(WordPostings, ADamagedOrNewerBlockDoesNotOpen) {
  for (uint32_t version : {1u, 2u, 3u}) {
    SCOPED_TRACE("layout version " + std::to_string(version));
    // "two" is in two of the three rows, above the limit of 1 row: version 3 counts it.
    std::string good = Build(Messages({"one two", "two three", "twofold three"}),
                             WithMessage({1, 0, true, 0.0, 1}, version));
    ASSERT_FALSE(good.empty());
    EXPECT_TRUE(OpenKindBlock(Kind(), version, good, 1).ok());
    EXPECT_FALSE(OpenKindBlock(Kind(), Kind().version + 1, good, 1).ok());
    for (size_t cut = 0; cut < good.size(); ++cut) {
      EXPECT_FALSE(OpenKindBlock(Kind(), version, good.substr(0, cut), 1).ok()) << cut;
    }
    std::string trailing = good + "x";
    EXPECT_FALSE(OpenKindBlock(Kind(), version, trailing, 1).ok());
    // Version 3 counts rows in each block of the segment: made for one block, not two.
    EXPECT_EQ(OpenKindBlock(Kind(), version, good, 2).ok(), version < 3);
  }
}

// letter_words_above_rows: in a segment of more rows, a word without a digit is posted from its
// one row although min_rows is 3, and one that is nowhere is "no row" (the segment is pruned);
// a word with a digit in one row is still "cannot tell". In a segment of at most that many rows
// (and under main's rule, which had no such field) the one-row word is "cannot tell" too.
TEST(WordPostings, LetterWordsOfOneRowArePostedInLargeSegments) {
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back("user logged in from gateway");
  texts[17] = "AccountName missing for user 4d1c8b7b";
  texts[29] = "user deadbeef42 logged in";
  std::vector<Record> rows = Messages(texts);
  FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = FieldPredicate::Op::kWord;
  for (uint64_t above : {uint64_t{0}, uint64_t{39}, uint64_t{40}, UINT64_MAX}) {
    SCOPED_TRACE("letter_words_above_rows " + std::to_string(above));
    for (uint32_t version : {1u, 2u, 3u}) {
      WordPostingsRule rule{3, 0, false, 0.5, 16};
      rule.letter_words_above_rows = above;
      auto view = Open(Build(rows, WithMessage(rule, version), 8), 5, version);
      ASSERT_NE(view, nullptr);
      const bool large = above < 40;
      const std::optional<std::vector<uint32_t>> row17 =
          large ? std::optional<std::vector<uint32_t>>(std::vector<uint32_t>{17}) : std::nullopt;
      EXPECT_EQ(RowsOf(*view, "accountname"), row17);
      EXPECT_EQ(RowsOf(*view, "missing"), row17);
      p.value = "nowhere";
      EXPECT_EQ(view->SegmentMayMatch(p).value_or(large), !large);
      EXPECT_EQ(
          RowsOf(*view, "nowhere"),
          large ? std::optional<std::vector<uint32_t>>(std::vector<uint32_t>{}) : std::nullopt);
      // With a digit: below min_rows whatever the segment's size.
      EXPECT_EQ(RowsOf(*view, "deadbeef42"), std::nullopt);
      EXPECT_EQ(RowsOf(*view, "4d1c8b7b"), std::nullopt);
      p.value = "nowhere42";
      EXPECT_TRUE(view->SegmentMayMatch(p).value_or(false));
      // Above the row limit (20 of 40 rows): listed, never "no row".
      EXPECT_EQ(RowsOf(*view, "user"), std::nullopt);
      p.value = "gateway";
      EXPECT_TRUE(view->SegmentMayMatch(p).value_or(false));
    }
  }
}

std::optional<std::vector<uint32_t>> CountsOf(const IndexView& view, std::string_view word);

// The rule's counts_above_rows: a segment of at most that many rows is written as version 2,
// without counts; one row more gives version 3 with them.
TEST(WordPostings, CountsOnlyInSegmentsAboveTheRulesSize) {
  std::vector<Record> rows = Messages({"one two", "two three", "twofold three two", "two"});
  for (uint64_t above : {3u, 4u}) {
    WordPostingsRule rule{1, 0, true, 0.0, 1};
    rule.counts_above_rows = above;
    auto builder = Kind().new_builder(WithMessage(rule));
    builder->AddBlock(rows.data(), 2);
    builder->AddBlock(rows.data() + 2, 2);
    std::vector<IndexPart> parts;
    builder->Finish(&parts);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].version, above < 4 ? 3u : 2u);
    auto view = Open(parts[0].blobs[0], 2, parts[0].version);
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(CountsOf(*view, "two"),
              above < 4 ? std::optional<std::vector<uint32_t>>({2, 2}) : std::nullopt);
    EXPECT_EQ(RowsOf(*view, "twofold"), (std::vector<uint32_t>{2}));
    EXPECT_EQ(RowsOf(*view, "two"), std::nullopt);  // too frequent to post either way
  }
}

std::optional<std::vector<uint32_t>> CountsOf(const IndexView& view, std::string_view word) {
  FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = FieldPredicate::Op::kWord;
  p.value = word;
  auto counts = view.BlockCounts(p);
  EXPECT_TRUE(counts.ok()) << counts.status().ToString();
  return counts.ok() ? *counts : std::nullopt;
}

// Version 3: a word above the rule's row limit has no postings but its row count in every block,
// exactly the rows of that block whose message holds it (rows of one message holding it twice
// count once; runs of rows that cross block edges are split between the blocks); a posted word,
// an absent one, a left-out number and the words of version 2 have none. Random messages, four
// rules, blocks of 1, 7 and 128 rows (the last one short).
TEST(WordPostings, Version3CountsTheRowsOfEachFrequentWordInEachBlock) {
  std::mt19937 rng(1903);
  const std::vector<std::string> vocabulary = {"Alpha", "beta", "GAMMA", "délta", "404",
                                               "10ms",  "x",    "a_b",   "e-f",   "tail"};
  std::vector<std::string> texts;
  for (int i = 0; i < 3001; ++i) {
    std::string t;
    int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) t += vocabulary[rng() % vocabulary.size()] + " ";
    if (i >= 100 && i < 900) t += " Streak streak";  // one run across many blocks
    if (i % 97 == 0) t += " sparse";
    texts.push_back(t);
  }
  std::vector<Record> rows = Messages(texts);
  for (uint32_t block_rows : {1u, 7u, 128u}) {
    const uint32_t blocks = static_cast<uint32_t>((texts.size() + block_rows - 1) / block_rows);
    for (WordPostingsRule rule :
         {WordPostingsRule{1, 0, true, 0.0, 16}, WordPostingsRule{1, 0, false, 0.2, 0},
          WordPostingsRule{3, 1000, true, 0.01, 40}, WordPostingsRule{5, 5000, false, 1.0, 0}}) {
      SCOPED_TRACE("blocks of " + std::to_string(block_rows) + " rows, limit " +
                   std::to_string(rule.max_fraction));
      auto view = Open(Build(rows, WithMessage(rule), block_rows), blocks);
      ASSERT_NE(view, nullptr);
      auto v2 = Open(Build(rows, WithMessage(rule, 2), block_rows), blocks, 2);
      ASSERT_NE(v2, nullptr);
      const double limit = rule.max_fraction >= 1.0
                               ? 1e300
                               : std::max<double>(static_cast<double>(rule.max_rows_floor),
                                                  std::floor(rule.max_fraction * texts.size()));
      std::set<std::string> words = {"absent"};
      for (const std::string& t : texts) {
        for (const std::string& w : Tokenize(t)) words.insert(w);
      }
      size_t counted = 0;
      for (const std::string& w : words) {
        std::vector<uint32_t> want(blocks);
        uint64_t total = 0;
        for (uint32_t r = 0; r < texts.size(); ++r) {
          auto tokens = Tokenize(texts[r]);
          if (std::find(tokens.begin(), tokens.end(), w) == tokens.end()) continue;
          ++want[r / block_rows];
          ++total;
        }
        const bool frequent =
            static_cast<double>(total) > limit && (rule.numbers || !IsNumberWord(w));
        EXPECT_EQ(CountsOf(*v2, w), std::nullopt) << w;
        if (frequent) {
          ++counted;
          EXPECT_EQ(CountsOf(*view, w), want) << w;
          std::string upper = w;
          for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          EXPECT_EQ(CountsOf(*view, upper), want) << upper;  // folded as the query folds
        } else {
          EXPECT_EQ(CountsOf(*view, w), std::nullopt) << w;
        }
      }
      if (rule.max_fraction < 1.0) {
        EXPECT_GE(counted, 3u);
      }
    }
  }
}

// Version 2 keeps where the gaps and run lengths of every 64th word start; a word between two
// checkpoints is found by skipping the runs of the words before it: every word of a block of
// hundreds of words, with runs of one row and of many, gives its rows.
TEST(WordPostings, Version2FindsEveryWordBetweenItsCheckpoints) {
  std::vector<std::string> texts;
  for (int i = 0; i < 3000; ++i) {
    texts.push_back("word" + std::to_string(i % 700) + "x run" + std::to_string(i / 100) +
                    "y every");
  }
  std::vector<Record> rows = Messages(texts);
  for (uint32_t version : {1u, 2u, 3u}) {
    SCOPED_TRACE("layout version " + std::to_string(version));
    auto view = Open(Build(rows, WithMessage({}, version), 256), 12, version);
    ASSERT_NE(view, nullptr);
    std::map<std::string, std::vector<uint32_t>> expected;
    for (uint32_t r = 0; r < texts.size(); ++r) {
      for (const std::string& w : Tokenize(texts[r])) {
        if (expected[w].empty() || expected[w].back() != r) expected[w].push_back(r);
      }
    }
    ASSERT_GT(expected.size(), 700u);
    for (const auto& [word, want] : expected) EXPECT_EQ(RowsOf(*view, word), want) << word;
  }
}

// Version 2 spells each word as a prefix of the word before it and a suffix: a block whose
// words are out of order, or that shares more bytes than the word before has, does not open;
// any byte changed gives an error or a block that still opens, never a crash (the sanitizer
// builds run this).
TEST(WordPostings, Version2ChecksItsFrontCodingAndSurvivesEveryByteChanged) {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("request" + std::to_string(i % 7) + " requests reply replies re" +
                    std::string(1 + i % 3, 'x'));
  }
  std::vector<Record> rows = Messages(texts);
  std::string good = Build(rows, WithMessage({}, 2), 16);
  ASSERT_FALSE(good.empty());
  auto view = Open(good, 13, 2);
  ASSERT_NE(view, nullptr);
  std::vector<uint32_t> every;
  for (uint32_t r = 0; r < 200; ++r) every.push_back(r);
  EXPECT_EQ(RowsOf(*view, "replies"), every);
  EXPECT_EQ(RowsOf(*view, "rexx").value().size(), 67u);
  // Hand-made blocks: min_rows 1, flags 1, rows 2, one posted word, no unposted ones.
  auto block = [](std::vector<uint8_t> words) {
    std::string b = {1, 1, 2, 2, 0};
    b.append(words.begin(), words.end());
    b += std::string{1, 1, 0, 1, 0, 0};  // run counts 1 1, gaps 0 1, lengths 0 0
    return b;
  };
  // words(2) := shared[2] (suffix '\n')[2]. "ab", then "abc" (shares 2, suffix "c"): opens.
  EXPECT_TRUE(OpenKindBlock(Kind(), 2, block({0, 2, 'a', 'b', '\n', 'c', '\n'}), 1).ok());
  // "ab", then "a" sharing 3 bytes of a 2-byte word: refused.
  EXPECT_FALSE(OpenKindBlock(Kind(), 2, block({0, 3, 'a', 'b', '\n', '\n'}), 1).ok());
  // "ab", then "aa" (shares 1, suffix "a"): out of order.
  EXPECT_FALSE(OpenKindBlock(Kind(), 2, block({0, 1, 'a', 'b', '\n', 'a', '\n'}), 1).ok());
  // "ab" twice: not increasing.
  EXPECT_FALSE(OpenKindBlock(Kind(), 2, block({0, 2, 'a', 'b', '\n', '\n'}), 1).ok());
  for (size_t at = 0; at < good.size(); ++at) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ flip);
      auto opened = OpenKindBlock(Kind(), 2, bad, 13);
      if (!opened.ok()) continue;
      for (const char* w : {"request0", "replies", "rex", "zzz"}) {
        FieldPredicate p;
        p.field = "message";
        p.builtin = true;
        p.op = FieldPredicate::Op::kWord;
        p.value = w;
        (void)(*opened)->Rows(p);
      }
    }
  }
}

// Front coding lets a word repeat all of the word before it, so a crafted block of n words
// "a", "ab", "abb", ... would spell out n^2/2 bytes from a few bytes per word (checksums stop
// random damage, not a crafted file): the reader refuses a block whose words spelt out pass 16
// times its bytes, naming the block and the word, before it allocates them. The writer shares
// fewer bytes where it would pass that bound, so long words that differ only at their ends still
// give a block that opens, with every word's rows.
TEST(WordPostings, Version2RefusesWordsSpeltOutFarBeyondItsSize) {
  constexpr uint32_t kWords = 4000;  // 8,000,000 bytes spelt out from a block of about 28,000
  std::string b = {1, 1, 2};         // min_rows 1, flags 1, rows 2
  PutVarint64(&b, kWords);           // posted
  b.push_back(0);                    // unposted
  for (uint32_t i = 0; i < kWords; ++i) PutVarint64(&b, i);  // each shares all of the one before
  b += "a\n";
  for (uint32_t i = 1; i < kWords; ++i) b += "b\n";
  b += std::string(3 * kWords, '\0');  // run counts below: one run each (then gaps, lengths 0)
  for (uint32_t i = 0; i < kWords; ++i) b[b.size() - 3 * kWords + i] = 1;
  auto crafted = OpenKindBlock(Kind(), 2, b, 1);
  ASSERT_FALSE(crafted.ok());
  EXPECT_TRUE(crafted.status().IsDataLoss());
  EXPECT_NE(crafted.status().message().find("word_postings: posted word "), std::string::npos)
      << crafted.status().ToString();
  EXPECT_NE(crafted.status().message().find("16 times the block's " + std::to_string(b.size()) +
                                            " bytes"),
            std::string::npos)
      << crafted.status().ToString();
  // The same words, few enough to stay within the bound, open.
  std::string few = {1, 1, 2, 8, 0, 0, 1, 2, 3, 4, 5, 6, 7};
  few += "a\n";
  for (int i = 1; i < 8; ++i) few += "b\n";
  few += std::string(8, '\1') + std::string(16, '\0');
  EXPECT_TRUE(OpenKindBlock(Kind(), 2, few, 1).ok());

  // Written: 300 words of 3,000 bytes that differ in their last two letters.
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    texts.push_back(std::string(3000, 'q') + static_cast<char>('a' + i / 26) +
                    static_cast<char>('a' + i % 26) + " common");
  }
  std::string written = Build(Messages(texts), WithMessage({}, 2), 64);
  auto view = Open(written, 5, 2);
  ASSERT_NE(view, nullptr);
  for (int i = 0; i < 300; i += 37) {
    EXPECT_EQ(RowsOf(*view, texts[i].substr(0, 3002)),
              (std::vector<uint32_t>{static_cast<uint32_t>(i)}));
  }
}

// The one split of the write path (BlockWords, fed to the blooms and the word postings) gives
// exactly the query language's words, with their bloom hashes and number marks.
TEST(BlockWords, SplitsEveryMessageAsTheQueryTokenizerDoes) {
  std::vector<Record> rows(6);
  rows[0].message = "ERROR Connection Refused: host=DB-01 port=5432 after 10ms";
  rows[1].message = "";
  rows[2].message = "--==--";
  rows[3].message = "Caf\xc3\xa9 \xc3\x89T\xc3\xa9 M\xc3\xbcnchen 18.0513221Z UPPER lower MiXeD";
  rows[4].message = std::string(5000, 'A') + " " + std::string(70, 'b');
  rows[5].message = "a b c 1 2 3 x1y 0x1F";
  BlockWords words;
  words.Fill(rows.data(), static_cast<uint32_t>(rows.size()));
  ASSERT_EQ(words.row_begin.size(), rows.size() + 1);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::string> got;
    for (uint32_t i = words.row_begin[r]; i < words.row_begin[r + 1]; ++i) {
      const uint32_t d = words.ids[i];
      ASSERT_LT(d, words.words.size());
      got.emplace_back(words.words[d]);
      EXPECT_EQ(words.hashes[d], BloomHash(words.words[d]));
      EXPECT_EQ(words.numbers[d] != 0, IsNumberWord(words.words[d]));
    }
    EXPECT_EQ(got, Tokenize(rows[r].message)) << "row " << r;
  }
  // Each distinct word once, and the bloom keys: the distinct hashes of the words not numbers.
  std::set<std::string_view> distinct(words.words.begin(), words.words.end());
  EXPECT_EQ(distinct.size(), words.words.size());
  std::set<uint64_t> keys;
  for (size_t d = 0; d < words.words.size(); ++d) {
    if (!IsNumberWord(words.words[d])) keys.insert(BloomHash(words.words[d]));
  }
  std::vector<uint64_t> bloom(words.bloom_hashes);
  std::sort(bloom.begin(), bloom.end());
  EXPECT_EQ(bloom, std::vector<uint64_t>(keys.begin(), keys.end()));
}

// The reference of BlockWords as the kinds read it: the path before BlockWords kept words
// distinct, when each kind split the messages itself. Every occurrence of a word is a word of
// its own (the word postings looked each occurrence up in the segment's table), split by the
// query language's tokenizer, and the bloom keys are the block's hashes of the words that are not
// numbers, sorted and made distinct (as the message bloom sorted them).
struct PerOccurrenceWords {
  BlockWords words;
  std::deque<std::string> spelt;  // the words the views point into; a deque never moves them

  void Fill(const Record* rows, uint32_t count) {
    words = BlockWords{};
    spelt.clear();
    for (uint32_t r = 0; r < count; ++r) {
      words.row_begin.push_back(static_cast<uint32_t>(words.ids.size()));
      for (std::string& word : Tokenize(rows[r].message)) {
        const std::string_view view = spelt.emplace_back(std::move(word));
        words.ids.push_back(static_cast<uint32_t>(words.words.size()));
        words.words.push_back(view);
        words.hashes.push_back(BloomHash(view));
        words.numbers.push_back(IsNumberWord(view) ? 1 : 0);
        if (!IsNumberWord(view)) words.bloom_hashes.push_back(BloomHash(view));
      }
    }
    words.row_begin.push_back(static_cast<uint32_t>(words.ids.size()));
    std::sort(words.bloom_hashes.begin(), words.bloom_hashes.end());
    words.bloom_hashes.erase(std::unique(words.bloom_hashes.begin(), words.bloom_hashes.end()),
                             words.bloom_hashes.end());
  }
};

// The word postings and the message blooms built from BlockWords (each distinct word of a block
// looked up once, the blooms' keys unsorted) are the same bytes as built from the reference
// above (every occurrence looked up, the keys sorted), block after block with one BlockWords
// reused, for every rule and layout the writer uses.
TEST(BlockWords, KindsReadingThemWriteTheSameBytesAsFromEveryOccurrence) {
  std::mt19937 rng(19);
  const std::vector<std::string> vocabulary = {
      "GET",         "get",   "Get",      "timeout", "Timeout", "user", "ERROR",
      "error",       "10ms",  "200",      "404",     "x1y",     "0x1F", "caf\xc3\xa9",
      "CAF\xc3\xa9", "db-01", "retrying", "a",       "B",       "zz9"};
  std::vector<Record> rows(5000);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string m;
    const int n = static_cast<int>(rng() % 14);
    for (int w = 0; w < n; ++w) {
      switch (rng() % 4) {
        case 0: m += std::to_string(rng() % 100000); break;          // numbers, many distinct
        case 1: m += "id" + std::to_string(rng() % 3000); break;     // ids, a few rows each
        default: m += vocabulary[rng() % vocabulary.size()]; break;  // words in many rows
      }
      m += " =:/"[rng() % 4];
    }
    rows[i].message = std::move(m);
    rows[i].trace_id = std::to_string(rng() % 2000);
  }
  const IndexKind* bloom_kind = FindIndexKind("bloom");
  ASSERT_NE(bloom_kind, nullptr);
  for (const bool numbers : {false, true}) {
    for (const uint32_t version : {0u, 2u}) {
      for (const uint32_t block_rows : {1u, 7u, 1000u, 8192u}) {
        auto build = [&](bool split_once) {
          BuildOptions o = WithMessage({}, version);
          o.words.numbers = numbers;
          o.words.counts_above_rows = 100;
          o.words.letter_words_above_rows = 100;
          IndexedField message = o.indexed[0];
          o.blooms.push_back(message);
          IndexedField trace;
          trace.name = "trace_id";
          trace.builtin = true;
          trace.text = &Record::trace_id;
          o.blooms.push_back(trace);
          DecidedWords decided;
          o.decided_words = &decided;
          BlockWords words;
          PerOccurrenceWords reference;
          o.block_words = split_once ? &words : &reference.words;
          auto postings = Kind().new_builder(o);
          auto blooms = bloom_kind->new_builder(o);
          for (size_t first = 0; first < rows.size(); first += block_rows) {
            const auto count =
                static_cast<uint32_t>(std::min<size_t>(block_rows, rows.size() - first));
            if (split_once) {
              words.Fill(&rows[first], count);
            } else {
              reference.Fill(&rows[first], count);
            }
            postings->AddBlock(&rows[first], count);
            blooms->AddBlock(&rows[first], count);
          }
          std::vector<IndexPart> parts;
          postings->Finish(&parts);  // first: it fills the decided words the blooms leave out
          blooms->Finish(&parts);
          std::string all;
          for (const IndexPart& part : parts) {
            all += part.field.name + "/" + std::to_string(part.count) + "/" +
                   std::to_string(part.version) + ":";
            for (const std::string& blob : part.blobs) {
              PutLengthPrefixed(&all, blob);
            }
          }
          return all;
        };
        const std::string once = build(true);
        const std::string each = build(false);
        EXPECT_GT(once.size(), 1000u);
        EXPECT_TRUE(once == each) << "numbers " << numbers << " version " << version
                                  << " block rows " << block_rows << ": " << once.size()
                                  << " bytes against " << each.size();
      }
    }
  }
}

}  // namespace
}  // namespace sawmill::index
