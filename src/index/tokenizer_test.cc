#include "index/tokenizer.h"

#include <gtest/gtest.h>

namespace sawmill::index {
namespace {

TEST(Tokenizer, SplitsOnNonAlphanumericsAndFoldsCase) {
  EXPECT_EQ(Tokenize("GET /api/v1/Users?id=42 HTTP/1.1"),
            (std::vector<std::string>{"get", "api", "v1", "users", "id", "42", "http", "1", "1"}));
  EXPECT_EQ(Tokenize(""), std::vector<std::string>{});
  EXPECT_EQ(Tokenize("--==--"), std::vector<std::string>{});
}

TEST(Tokenizer, KeepsUtf8WordsWhole) {
  EXPECT_EQ(Tokenize("Größe: 5 Ω"), (std::vector<std::string>{"größe", "5", "Ω"}));
}

}  // namespace
}  // namespace sawmill::index
