#include "query/evaluator.h"

#include <gtest/gtest.h>

#include <random>

#include "index/tokenizer.h"
#include "query/parser.h"

namespace sawmill::query {
namespace {

bool M(std::string_view q, const Record& r) {
  Result<Query> parsed = ParseQuery(q);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() && Evaluate(*parsed->filter, r);
}

Record Sample() {
  Record r;
  r.ts = 1000;
  r.ingest_ts = 2000;
  r.seq = 7;
  r.service = "payments";
  r.host = "web 1";
  r.level = Level::kWarn;
  r.trace_id = "abc123";
  r.message = "Connection refused: DNS lookup failed (timeout=30s)";
  r.fields = {{"status", "503"}, {"http.method", "GET"}, {"duration_ms", "1500.5"}};
  return r;
}

TEST(Evaluate, FieldFilters) {
  Record r = Sample();
  EXPECT_TRUE(M("service=payments", r));
  EXPECT_FALSE(M("service=Payments", r));
  EXPECT_FALSE(M("service!=payments", r));
  EXPECT_TRUE(M("service=pay*", r));
  EXPECT_FALSE(M("service=\"pay*\"", r));
  EXPECT_TRUE(M("trace_id=*", r));
  EXPECT_FALSE(M("span_id=*", r));
  EXPECT_TRUE(M("span_id!=*", r));
  EXPECT_TRUE(M("host=\"web 1\"", r));
  EXPECT_TRUE(M("http.method=GET", r));
  EXPECT_TRUE(M("id=7", r));
}

TEST(Evaluate, LevelsAreOrdered) {
  Record r = Sample();
  EXPECT_TRUE(M("level>=WARN", r));
  EXPECT_TRUE(M("level>=warning", r));
  EXPECT_FALSE(M("level>=ERROR", r));
  EXPECT_TRUE(M("level<ERROR", r));
  EXPECT_TRUE(M("level=WARN", r));
  r.level = Level::kUnknown;
  EXPECT_FALSE(M("level<ERROR", r)) << "UNKNOWN has no severity";
  EXPECT_TRUE(M("level=UNKNOWN", r));
  EXPECT_FALSE(M("level=*", r));
}

TEST(Evaluate, NumericComparisons) {
  Record r = Sample();
  EXPECT_TRUE(M("status>=500", r));
  EXPECT_FALSE(M("status>503", r));
  EXPECT_TRUE(M("duration_ms>1000", r));
  EXPECT_FALSE(M("duration_ms<1000", r));
  r.fields[0].second = "n/a";
  EXPECT_FALSE(M("status>=500", r)) << "a non-number never satisfies a numeric comparison";
  EXPECT_TRUE(M("ingest_ts>=1970-01-01T00:00:00Z", r));
}

TEST(Evaluate, UnknownFieldMatchesNothingUnlessNegated) {
  Record r = Sample();
  EXPECT_FALSE(M("nosuch=x", r));
  EXPECT_FALSE(M("nosuch>1", r));
  EXPECT_FALSE(M("nosuch~\".\"", r));
  EXPECT_TRUE(M("nosuch!=x", r));
}

TEST(Evaluate, WordsPhrasesRegexSubstring) {
  Record r = Sample();
  EXPECT_TRUE(M("timeout", r));
  EXPECT_TRUE(M("TIMEOUT", r));
  EXPECT_FALSE(M("time", r)) << "a bare word is a whole word";
  EXPECT_TRUE(M("time*", r));
  EXPECT_TRUE(M("\"connection refused\"", r));
  EXPECT_TRUE(M("\"refused dns\"", r)) << "punctuation between the words is ignored";
  EXPECT_FALSE(M("\"refused connection\"", r));
  EXPECT_FALSE(M("\"connection dns\"", r));
  EXPECT_TRUE(M("message~\"DNS.*fail\"", r));
  EXPECT_FALSE(M("message~\"^DNS\"", r));
  EXPECT_TRUE(M("message:*time*", r));
  EXPECT_FALSE(M("message:*Time*", r));
  EXPECT_TRUE(M("30s", r));
}

TEST(Evaluate, BooleanNesting) {
  Record r = Sample();
  EXPECT_TRUE(M("service=payments AND (level=ERROR OR level=WARN) NOT host=web-1", r));
  EXPECT_FALSE(M("service=payments AND (level=ERROR OR level=INFO)", r));
  EXPECT_TRUE(M("NOT (a=1 OR b=2)", r));
}

// The fast word and phrase search must agree with the tokenizer the blooms use.
TEST(Evaluate, WordSearchAgreesWithTokenizer) {
  std::mt19937 rng(42);
  const char alphabet[] = "abAB  .-_1\xc3\xa9";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    int len = static_cast<int>(rng() % 20);
    for (int i = 0; i < len; ++i) text.push_back(alphabet[rng() % (sizeof(alphabet) - 1)]);
    std::vector<std::string> tokens = index::Tokenize(text);
    std::vector<std::string> phrase;
    int words = 1 + static_cast<int>(rng() % 2);
    for (int w = 0; w < words; ++w) {
      std::string word;
      int wl = 1 + static_cast<int>(rng() % 2);
      for (int i = 0; i < wl; ++i) word.push_back("ab1"[rng() % 3]);
      phrase.push_back(word);
    }
    bool expected = false;
    for (size_t i = 0; i + phrase.size() <= tokens.size() && !expected; ++i) {
      expected = std::equal(phrase.begin(), phrase.end(), tokens.begin() + static_cast<long>(i));
    }
    EXPECT_EQ(ContainsPhrase(text, phrase), expected) << text;
    if (phrase.size() == 1) {
      bool expected_prefix = false;
      for (const auto& t : tokens) expected_prefix |= t.rfind(phrase[0], 0) == 0;
      EXPECT_EQ(ContainsWord(text, phrase[0], true), expected_prefix) << text;
      EXPECT_EQ(ContainsWord(text, phrase[0], false), expected) << text;
    }
  }
}

TEST(GlobMatch, StarsMatchAnyRun) {
  EXPECT_TRUE(GlobMatch("timeout", "*time*"));
  EXPECT_TRUE(GlobMatch("abc", "a*c"));
  EXPECT_TRUE(GlobMatch("abc", "abc"));
  EXPECT_FALSE(GlobMatch("abcd", "abc"));
  EXPECT_TRUE(GlobMatch("", "*"));
  EXPECT_TRUE(GlobMatch("aXbXc", "a*b*c"));
  EXPECT_FALSE(GlobMatch("aXbX", "a*b*c"));
}

}  // namespace
}  // namespace sawmill::query
