#include "cli/json_answer.h"

#include <gtest/gtest.h>

namespace sawmill::cli {
namespace {

HttpResult Answer(int status, std::string body) {
  HttpResult r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// What `sawmill admin ...`, `sawmill admin token ...` and `sawmill alerts ...` print for an
// answer they cannot use.
TEST(JsonObjectAnswer, TheObjectOrTheErrorAfterTheCommand) {
  auto object = JsonObjectAnswer(Answer(200, R"({"rules":[]})"), "alerts", "list");
  ASSERT_TRUE(object.has_value());
  EXPECT_TRUE(object->contains("rules"));
  EXPECT_TRUE(JsonObjectAnswer(Answer(201, "{}"), "admin", "token create", 201));

  const struct {
    Result<HttpResult> result;
    int expected;
    const char* printed;
  } cases[] = {
      {Answer(404, R"({"error":"no rule named x"})"), 200,
       "sawmill admin get: the server answered 404: no rule named x\n"},
      {Answer(200, "{}"), 201, "sawmill admin get: the server answered 200: {}\n"},
      {Answer(200, "[1]"), 200, "sawmill admin get: unexpected answer: [1]\n"},
      {Answer(200, "{"), 200, "sawmill admin get: unexpected answer: {\n"},
      {Status::Unavailable("cannot connect to http://127.0.0.1:1"), 200,
       "sawmill admin get: cannot connect to http://127.0.0.1:1\n"},
  };
  for (const auto& c : cases) {
    ::testing::internal::CaptureStderr();
    EXPECT_FALSE(JsonObjectAnswer(c.result, "admin", "get", c.expected).has_value());
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), c.printed);
  }
}

}  // namespace
}  // namespace sawmill::cli
