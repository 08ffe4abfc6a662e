#include "ingest/redact.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace sawmill::ingest {
namespace {

std::unique_ptr<Redactor> Make(RedactOptions options = {}) {
  auto r = Redactor::Create(options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::string Redact(const Redactor& r, std::string text) {
  r.RedactText(&text);
  return text;
}

TEST(Redactor, LuhnValidCardNumbersAreReplaced) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "paid with 4111111111111111 ok"), "paid with [REDACTED] ok");
  EXPECT_EQ(Redact(*r, "card 4111-1111-1111-1111."), "card [REDACTED].");
  EXPECT_EQ(Redact(*r, "card 5500 0000 0000 0004 end"), "card [REDACTED] end");
}

TEST(Redactor, NumbersFailingLuhnAreKept) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "order 4111111111111112 shipped"), "order 4111111111111112 shipped");
  EXPECT_EQ(Redact(*r, "ts=1700000000123456789"), "ts=1700000000123456789");
}

TEST(Redactor, DigitRunsThatAreNotPrintedLikeCardsAreKept) {
  auto r = Make();
  // Regression: "id=s-001391 6550752a..." passed Luhn across the space and was redacted.
  EXPECT_EQ(Redact(*r, "id=s-001391 6550752a4ab2"), "id=s-001391 6550752a4ab2");
  EXPECT_EQ(Redact(*r, "amex 3782 822463 10005 ok"), "amex [REDACTED] ok");
}

TEST(Redactor, PublicTestCardNumbersOfEveryIssuerAreReplaced) {
  auto r = Make();
  // The issuers' published test numbers, contiguous and printed in groups.
  for (const char* card :
       {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4012888888881881",
        "4222222222222", "5555555555554444", "5105 1051 0510 5100", "2223003122003222",
        "378282246310005", "3714 496353 98431", "6011111111111117", "6011-0009-9013-9424",
        "30569309025904", "3056 930902 5904", "3530111333300000", "3566002020360505",
        "6200000000000005", "6759649826438453"}) {
    SCOPED_TRACE(card);
    EXPECT_EQ(Redact(*r, std::string("paid with ") + card + ", thanks"),
              "paid with [REDACTED], thanks");
    EXPECT_EQ(Redact(*r, std::string("card=") + card), "card=[REDACTED]");
    EXPECT_EQ(Redact(*r, std::string("{\"pan\":\"") + card + "\"}"), "{\"pan\":\"[REDACTED]\"}");
  }
  EXPECT_EQ(Redact(*r, "GET /orders/4111111111111111/refund"), "GET /orders/[REDACTED]/refund");
  EXPECT_EQ(Redact(*r, "card 4111111111111111."), "card [REDACTED].");
}

TEST(Redactor, DigitsInsideHashesSerialsAndNamesAreKept) {
  auto r = Make();
  // Each of these holds a Luhn-valid run with a card issuer prefix and length.
  ASSERT_TRUE(LuhnValid("4222222222222") && CardIssuerMatches("4222222222222"));
  ASSERT_TRUE(LuhnValid("4111111111111111") && CardIssuerMatches("4111111111111111"));
  for (const char* text : {
           "sha256 3c65719e4b4222222222222b910879c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6",  // in hex
           "md5=4111111111111111abcdef0123456789",                                     // hex tail
           "md5=abcdef01234567894111111111111111",                                     // hex head
           "serial=0A4111111111111111",                 // x509 serial in hex
           "serial 4111111111111111FF",                 // hex serial that starts with digits
           "query 4111111111111111.cdn.example.net A",  // a label of a domain name
           "host ip-4111111111111111-x.internal",       // inside a dashed name
           "version 1.4111111111111111",                // a decimal part
           "blk_-6011111111111117 deleted",             // HDFS-style id with a sign
           "go v0.0.0-20190214190832-042adf3cf4a0",     // Go pseudo-version
           "commit 60a189413d732eccd0158591618422c7cad1aed7",
           "uid C4111111111111111a",
       }) {
    EXPECT_EQ(Redact(*r, text), text);
  }
}

TEST(Redactor, SpanIdsThatAreAllDigitsAreKept) {
  auto r = Make();
  // From the nezha dataset: a span id of 16 decimal digits that passes every card rule.
  ASSERT_TRUE(LuhnValid("5172871048023241") && CardIssuerMatches("5172871048023241"));
  for (const char* text : {
           "TraceID: fbb1c2904ee397adaf90efb157db6791 SpanID: 5172871048023241 [query]",
           "{\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"5172871048023241\"}",
           "span_id=5172871048023241",
           "08:43:25Z,fbb1c2904ee397adaf90efb157db6791,5172871048023241,\"{...}\"",
           "[svc,8c5e3f4d2a1b0c9e,5172871048023241,true]",
       }) {
    EXPECT_EQ(Redact(*r, text), text);
  }
  // Without that context the same digits are a card number.
  EXPECT_EQ(Redact(*r, "paid 5172871048023241"), "paid [REDACTED]");
  EXPECT_EQ(Redact(*r, "order 12345,5172871048023241"), "order 12345,[REDACTED]");
}

TEST(Redactor, NumbersWithoutACardIssuerOrLengthAreKept) {
  auto r = Make();
  // Luhn-valid, but epoch milliseconds (prefix 1), a Visa prefix with 14 digits, an Amex prefix
  // with 16 digits, and printed groups that are not a card's.
  ASSERT_TRUE(LuhnValid("1445680800428") && LuhnValid("41111111111114") &&
              LuhnValid("3400000000000000"));
  EXPECT_EQ(Redact(*r, "ts=1445680800428 ok"), "ts=1445680800428 ok");
  EXPECT_EQ(Redact(*r, "id 41111111111114 ok"), "id 41111111111114 ok");
  EXPECT_EQ(Redact(*r, "id 3400000000000000 ok"), "id 3400000000000000 ok");
  EXPECT_EQ(Redact(*r, "41 1111 1111 1111 11"), "41 1111 1111 1111 11");
  EXPECT_EQ(Redact(*r, "4111-1111-1111-1111-2222"), "4111-1111-1111-1111-2222");
  EXPECT_EQ(Redact(*r, "4111 1111-1111 1111"), "4111 1111-1111 1111");
}

TEST(Redactor, EmailsAndSsnsAreReplaced) {
  RedactOptions options;
  options.emails = true;
  auto r = Make(options);
  EXPECT_EQ(Redact(*r, "user alice.smith+x@example.co.uk logged in"), "user [REDACTED] logged in");
  EXPECT_EQ(Redact(*r, "ssn 123-45-6789 on file"), "ssn [REDACTED] on file");
  // Not SSNs: area 000 and 666, group 00.
  EXPECT_EQ(Redact(*r, "id 000-12-3456 666-12-3456 123-00-4567"),
            "id 000-12-3456 666-12-3456 123-00-4567");
  // Not SSNs: parts of a host name, of a longer number, of a version.
  EXPECT_EQ(Redact(*r, "host-123-45-6789.example.com 9123-45-6789 v123-45-6789"),
            "host-123-45-6789.example.com 9123-45-6789 v123-45-6789");
}

TEST(Redactor, ConfiguredPatternsAreReplaced) {
  RedactOptions options;
  options.patterns = {"api_key=[A-Za-z0-9]+"};
  auto r = Make(options);
  EXPECT_EQ(Redact(*r, "call api_key=abc123 done"), "call [REDACTED] done");
}

TEST(Redactor, BadPatternIsRejectedWithItsIndex) {
  RedactOptions options;
  options.patterns = {"ok", "(unclosed"};
  auto r = Redactor::Create(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("redact.patterns[1]"), std::string::npos);
}

TEST(Redactor, EmailsAreKeptByDefault) {
  auto r = Make();
  EXPECT_EQ(Redact(*r, "Mozilla/5.0 (compatible; DotBot/1.1; help@moz.com)"),
            "Mozilla/5.0 (compatible; DotBot/1.1; help@moz.com)");
}

TEST(Redactor, RecordIsFlaggedWhenSomethingWasReplaced) {
  RedactOptions options;
  options.emails = true;
  auto r = Make(options);
  Record record;
  record.message = "hello";
  record.fields = {{"email", "bob@example.com"}};
  EXPECT_TRUE(r->RedactRecord(&record));
  EXPECT_EQ(record.fields[0].second, "[REDACTED]");
  EXPECT_TRUE(record.flags & kFlagRedacted);
  Record clean;
  clean.message = "nothing here";
  EXPECT_FALSE(r->RedactRecord(&clean));
  EXPECT_EQ(clean.flags, 0u);
}

TEST(Redactor, Ipv4AndIpv6AddressesAreReplacedWhenAsked) {
  RedactOptions options;
  options.ipv4 = true;
  options.ipv6 = true;
  auto r = Make(options);
  EXPECT_EQ(Redact(*r, "from 10.1.2.3:5432 to 192.168.0.255."),
            "from [REDACTED]:5432 to [REDACTED].");
  EXPECT_EQ(Redact(*r, "client=2001:db8::8a2e:370:7334 ok"), "client=[REDACTED] ok");
  EXPECT_EQ(Redact(*r, "peer [fe80::1ff:fe23:4567:890a]:443"), "peer [[REDACTED]]:443");
  EXPECT_EQ(Redact(*r, "mapped ::ffff:192.0.2.128 end"), "mapped [REDACTED] end");
  EXPECT_EQ(Redact(*r, "addr fe80::1: refused"), "addr [REDACTED]: refused");
  // Not addresses: versions, octets over 255, times, MAC addresses, C++ names, hex hashes.
  for (const char* text :
       {"version 1.2.3.4.5", "v1.2.3.4", "10.0.0.300", "at 12:30:45", "mac 00:1a:2b:3c:4d:5e",
        "std::string", "sha 3c65719e4b42", "2026-12-05T10:30:00Z"}) {
    EXPECT_EQ(Redact(*r, text), text);
  }
  // Off by default.
  auto defaults = Make();
  EXPECT_EQ(Redact(*defaults, "from 10.1.2.3 and ::1"), "from 10.1.2.3 and ::1");
}

TEST(Redactor, UkNationalInsuranceNumbersAreReplacedWhenAsked) {
  RedactOptions options;
  options.uk_nino = true;
  auto r = Make(options);
  EXPECT_EQ(Redact(*r, "nino AB123456C on file"), "nino [REDACTED] on file");
  EXPECT_EQ(Redact(*r, "nino=JG 10 37 38 D,"), "nino=[REDACTED],");
  // Prefixes never issued (BG, GB, NK, KN, TN, NT, ZZ; D, F, I, Q, U, V; O second), a suffix
  // past D, lower case, glued to other text.
  for (const char* text :
       {"GB123456A", "BG123456A", "NK123456A", "TN123456A", "ZZ123456A", "DA123456A", "AO123456A",
        "AB123456E", "ab123456c", "XAB123456C", "AB123456CX"}) {
    EXPECT_EQ(Redact(*r, text), text);
  }
}

TEST(Redactor, NamedRulesUseTheirReplacementAndEveryRuleIsCounted) {
  RedactOptions options;
  options.emails = true;
  options.rules = {{"api_key", R"(api_key=(\w{2})\w+)", R"(api_key=\1***)"},
                   {"session", "sess-[0-9a-f]+", "sess-?"}};
  auto r = Make(options);
  EXPECT_EQ(r->rule_names(),
            (std::vector<std::string>{"card", "email", "us_ssn", "api_key", "session"}));
  RedactCounts counts;
  std::string text =
      "api_key=abcdef sess-12ab a@b.example c@d.example 4111111111111111 sess-ff api_key=xyz1";
  EXPECT_TRUE(r->RedactText(&text, &counts));
  EXPECT_EQ(text, "api_key=ab*** sess-? [REDACTED] [REDACTED] [REDACTED] sess-? api_key=xy***");
  EXPECT_EQ(counts, (RedactCounts{1, 2, 0, 2, 2}));
  std::string clean = "nothing here";
  EXPECT_FALSE(r->RedactText(&clean, &counts));
  EXPECT_EQ(counts, (RedactCounts{1, 2, 0, 2, 2}));
}

TEST(Redactor, BadRulesAreRejectedByName) {
  RedactOptions options;
  options.rules = {{"ok", "a+", "b"}, {"broken", "(x", "y"}};
  auto r = Redactor::Create(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("rule 'broken' pattern '(x'"), std::string::npos)
      << r.status().ToString();
  options.rules = {{"group", "a(b)", R"(\2)"}};
  r = Redactor::Create(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("rule 'group' pattern 'a(b)': replacement"),
            std::string::npos)
      << r.status().ToString();
  options.rules = {{"card", "x", "y"}};
  r = Redactor::Create(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'card': the name is used twice"), std::string::npos);
}

TEST(Redactor, AllColumnsCoversServiceHostAndIds) {
  RedactOptions options;
  options.ipv4 = true;
  Record agent_record;
  agent_record.host = "10.0.0.7";
  agent_record.message = "from 10.0.0.8";
  auto agent = Make(options);
  EXPECT_TRUE(agent->RedactRecord(&agent_record));
  EXPECT_EQ(agent_record.host, "10.0.0.7");  // the agent's behaviour: message, user, fields
  EXPECT_EQ(agent_record.message, "from [REDACTED]");
  options.all_columns = true;
  auto server = Make(options);
  Record record;
  record.host = "10.0.0.7";
  record.service = "svc";
  EXPECT_TRUE(server->RedactRecord(&record));
  EXPECT_EQ(record.host, "[REDACTED]");
  EXPECT_EQ(record.service, "svc");
  EXPECT_TRUE(record.flags & kFlagRedacted);
}

TEST(Redactor, RecordPrefilterOfCustomRulesChangesNothing) {
  RedactOptions options;
  options.rules = {{"anchored", "^secret", "X"},       // matches a value's start only
                   {"across", R"(a\sb)", "Y"},         // would match across two values
                   {"field", "tok_[0-9]+", "tok_?"}};  // matches in one field
  auto r = Make(options);
  Record record;
  record.message = "ends with a";
  record.user_id = "b starts";
  record.fields = {{"k", "secret here"}, {"t", "x tok_42"}};
  RedactCounts counts;
  EXPECT_TRUE(r->RedactRecord(&record, &counts));
  EXPECT_EQ(record.message, "ends with a");
  EXPECT_EQ(record.user_id, "b starts");
  EXPECT_EQ(record.fields[0].second, "X here");
  EXPECT_EQ(record.fields[1].second, "x tok_?");
  EXPECT_EQ(counts, (RedactCounts{0, 0, 1, 0, 1}));  // card, us_ssn, then the rules
}

// The shape tests that run before the SSN, NINO and IPv4 expressions must never say "no" where
// the expression matches: random strings over the characters that matter, and real lines.
TEST(Redactor, ShapeTestsNeverMissWhatTheExpressionsMatch) {
  using namespace redact_internal;
  const RE2 ssn(kSsnPattern), nino(kNinoPattern), ipv4(kIpv4Pattern);
  ASSERT_TRUE(ssn.ok() && nino.ok() && ipv4.ok());
  const std::string alphabet = "0123456789012345.-. -ABJGZKNTCDx";
  std::mt19937 rng(15);
  uint64_t matched[3] = {0, 0, 0};
  auto check = [&](const std::string& text) {
    if (RE2::PartialMatch(text, ssn)) {
      ++matched[0];
      ASSERT_TRUE(MayHaveSsn(text)) << text;
    }
    if (RE2::PartialMatch(text, nino)) {
      ++matched[1];
      ASSERT_TRUE(MayHaveNino(text)) << text;
    }
    if (RE2::PartialMatch(text, ipv4)) {
      ++matched[2];
      ASSERT_TRUE(MayHaveIpv4(text)) << text;
    }
  };
  // Near-misses of each shape: a template filled in, one or two characters changed, random
  // characters around it.
  const char* shapes[] = {"ddd-dd-dddd", "LLdddddd", "LL dd dd dd ", "d.d.d.d", "dd.ddd.d.dd"};
  auto pick = [&](const std::string& from) { return from[rng() % from.size()]; };
  for (int n = 0; n < 200000; ++n) {
    std::string text;
    for (int k = rng() % 4; k > 0; --k) text += pick(alphabet);
    for (const char* c = shapes[rng() % std::size(shapes)]; *c != '\0'; ++c) {
      text += *c == 'd' ? pick("0123456789") : *c == 'L' ? pick("ABCEGJKNTZ") : *c;
    }
    text += pick("ABCD");
    for (int k = rng() % 3; k > 0; --k) text[rng() % text.size()] = pick(alphabet);
    for (int k = rng() % 4; k > 0; --k) text += pick(alphabet);
    check(text);
  }
  for (const char* text : {"123-45-6789", "AB123456C", "JG 10 37 38 D", "1.2.3.4",
                           "255.255.255.255", "x10.0.0.1:80"}) {
    check(text);
  }
  EXPECT_GT(matched[0], 100u);
  EXPECT_GT(matched[1], 10u);
  EXPECT_GT(matched[2], 100u);
  EXPECT_FALSE(MayHaveSsn("2026-12-05T10:00:00Z 12-345-6789"));
  EXPECT_FALSE(MayHaveIpv4("version 1.2.3 at 18.0513221Z"));
  EXPECT_TRUE(NeedsWholeValue("^x") && NeedsWholeValue("a$") && NeedsWholeValue("[^a]") &&
              NeedsWholeValue(R"(\Ax)") && !NeedsWholeValue(R"(a\sb)"));
}

// RedactRecord searches each custom rule once over the joined values first, and the built-in
// detectors have shape prefilters; on real lines it must give exactly what RedactText gives
// value by value, with every detector and a few custom rules on.
TEST(Redactor, RecordGivesWhatEachValueGivesOnRealLines) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("SAWMILL_SHARED_DIR");
  fs::path root =
      fs::path(env != nullptr && *env != '\0' ? env : SAWMILL_SHARED_DIR) / "data" / "real";
  ASSERT_TRUE(fs::is_directory(root)) << root << " is missing";
  RedactOptions options;
  options.emails = options.uk_nino = options.ipv4 = options.ipv6 = true;
  options.all_columns = true;
  options.rules = {{"password", R"((?i)(password|passwd|pwd)=\S+)", R"(\1=***)"},
                   {"digits", "[0-9]{6,}", "#"},
                   {"start", "^[A-Z][a-z]+", "W"}};
  auto r = Make(options);
  uint64_t lines = 0, changed = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string line;
    for (int n = 0; n < 500 && std::getline(in, line); ++n) {
      Record record;
      record.message = line;
      record.user_id = line.substr(0, 12);
      record.host = line.substr(line.size() / 2, 20);
      record.fields = {{"a", line.substr(line.size() / 3)}, {"b", line.substr(0, 40)}};
      Record expected = record;
      RedactCounts want(r->rule_names().size(), 0);
      bool any = false;
      for (std::string* v : {&expected.message, &expected.user_id, &expected.fields[0].second,
                             &expected.fields[1].second, &expected.service, &expected.host,
                             &expected.trace_id, &expected.span_id}) {
        any |= r->RedactText(v, &want);
      }
      if (any) expected.flags |= kFlagRedacted;
      RedactCounts got;
      EXPECT_EQ(r->RedactRecord(&record, &got), any);
      ASSERT_EQ(record, expected) << line;
      ASSERT_EQ(got, want) << line;
      ++lines;
      changed += any;
    }
  }
  EXPECT_GE(lines, 20000u);
  EXPECT_GT(changed, 1000u);
}

// Every real dataset in shared/data/real (hex hashes in Sysmon events and CI logs, git commits,
// Go pseudo-versions, epoch milliseconds and nanoseconds, HDFS block ids, span ids): the default
// card and SSN detection rewrites nothing but the card numbers the data itself labels as such
// (the nezha payment service logs "credit_card_number":"4432-8015-6152-0454"), and of those
// lines only the number. The files are read from the shared folder at test time; the test fails
// when they are missing.
TEST(Redactor, RealDatasetsHaveNoCardsOrSsns) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("SAWMILL_SHARED_DIR");
  fs::path root =
      fs::path(env != nullptr && *env != '\0' ? env : SAWMILL_SHARED_DIR) / "data" / "real";
  ASSERT_TRUE(fs::is_directory(root)) << root << " is missing";
  auto r = Make();  // the defaults
  uint64_t lines = 0, files = 0, with_long_digit_runs = 0, labelled_cards = 0, redacted_cards = 0;
  std::map<std::string, std::vector<std::string>> redacted;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name == "LICENSE" || name.ends_with(".md")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    ASSERT_TRUE(in) << entry.path();
    ++files;
    std::string line;
    while (std::getline(in, line)) {
      ++lines;
      int run = 0, longest = 0;
      for (char c : line) {
        run = (c >= '0' && c <= '9') ? run + 1 : 0;
        longest = std::max(longest, run);
      }
      with_long_digit_runs += longest >= 13;
      std::string copy = line;
      bool labelled = line.find("credit_card_number") != std::string::npos;
      labelled_cards += labelled;
      if (!r->RedactText(&copy)) {
        if (labelled) ADD_FAILURE() << "card number not redacted: " << line.substr(0, 300);
        continue;
      }
      // Put the number back where it was replaced: the rest of the line must be untouched.
      std::string restored = copy;
      for (size_t at = restored.find(kRedacted); at != std::string::npos;
           at = restored.find(kRedacted, at + 1)) {
        restored.replace(at, kRedacted.size(), "4432-8015-6152-0454");
      }
      if (labelled && restored == line) {
        ++redacted_cards;
      } else if (redacted[entry.path().string()].size() < 3) {
        redacted[entry.path().string()].push_back(copy.substr(0, 300));
      }
    }
  }
  // The datasets are what the test is about: they must be there, with digit runs to tempt it.
  EXPECT_GE(files, 100u);
  EXPECT_GE(lines, 400000u);
  EXPECT_GE(with_long_digit_runs, 10000u);
  EXPECT_GT(labelled_cards, 0u);
  EXPECT_EQ(redacted_cards, labelled_cards);
  for (const auto& [path, examples] : redacted) {
    ADD_FAILURE() << path << ": redacted, e.g. " << examples[0];
  }
}

TEST(Redactor, TailOfACardCutAtMaxLineIsMasked) {
  auto r = Make();
  const std::string head(64, 'x');
  // 4111 1111 1111 1111 cut after its tenth digit: too short for the card detector.
  Record cut;
  cut.message = head + " paid with 4111 1111 11";
  cut.flags = kFlagTruncated;
  RedactCounts counts;
  EXPECT_TRUE(r->RedactRecord(&cut, &counts));
  EXPECT_EQ(cut.message, head + " paid with [REDACTED]");
  EXPECT_EQ(counts[0], 1u);  // counted under "card"
  EXPECT_NE(cut.flags & kFlagRedacted, 0u);

  // The same text on a line that was not cut is left alone (10 digits are no card).
  Record whole;
  whole.message = head + " paid with 4111 1111 11";
  EXPECT_FALSE(r->RedactRecord(&whole));
  EXPECT_EQ(whole.message, head + " paid with 4111 1111 11");

  // A cut line ending in six digits or fewer (an issuer prefix at most), in a word, or a value
  // too short to have been cut keeps them.
  for (const std::string& text :
       {head + " id 411111", head + " build abc4111111111", std::string("short 41111111111")}) {
    Record keep;
    keep.message = text;
    keep.flags = kFlagTruncated;
    EXPECT_FALSE(r->RedactRecord(&keep)) << text;
    EXPECT_EQ(keep.message, text);
  }

  // With the card detector off nothing is masked.
  RedactOptions off;
  off.credit_cards = false;
  auto plain = Make(off);
  Record cut2;
  cut2.message = head + " paid with 4111 1111 11";
  cut2.flags = kFlagTruncated;
  EXPECT_FALSE(plain->RedactRecord(&cut2));
}

}  // namespace
}  // namespace sawmill::ingest
