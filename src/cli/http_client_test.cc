#include "cli/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sawmill::cli {
namespace {

using ::testing::HasSubstr;

TEST(ServerUrl, ParsesTheDefaultAndCommonForms) {
  Result<ServerUrl> def = ServerUrl::Parse(kDefaultServer);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->host, "127.0.0.1");
  EXPECT_EQ(def->port, "9640");
  EXPECT_EQ(def->prefix, "");

  Result<ServerUrl> bare = ServerUrl::Parse("logs.internal:8080");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "logs.internal");
  EXPECT_EQ(bare->port, "8080");

  Result<ServerUrl> prefixed = ServerUrl::Parse("http://proxy/sawmill/");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->port, "80");
  EXPECT_EQ(prefixed->prefix, "/sawmill");

  Result<ServerUrl> v6 = ServerUrl::Parse("http://[::1]:9640");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "http://[::1]:9640");

  Result<ServerUrl> https = ServerUrl::Parse("https://logs.example.com");
  ASSERT_TRUE(https.ok());
  EXPECT_TRUE(https->https);
  EXPECT_EQ(https->port, "443");
  EXPECT_EQ(https->ToString(), "https://logs.example.com:443");
  EXPECT_FALSE(ServerUrl::Parse("logs:9640")->https);
}

TEST(ServerUrl, RejectsWhatItCannotUseWithAReason) {
  EXPECT_THAT(ServerUrl::Parse("http://:9640").status().message(), HasSubstr("no host"));
  EXPECT_THAT(ServerUrl::Parse("http://logs:96400").status().message(), HasSubstr("bad port"));
  EXPECT_THAT(ServerUrl::Parse("http://logs:x").status().message(), HasSubstr("bad port"));
  EXPECT_THAT(ServerUrl::Parse("ftp://logs").status().message(), HasSubstr("http://"));
}

TEST(UrlEncode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(UrlEncode("service=checkout level>=ERROR"), "service%3Dcheckout%20level%3E%3DERROR");
  EXPECT_EQ(UrlEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(UrlEncode("é&\""), "%C3%A9%26%22");
}

TEST(ErrorText, PrefersTheServersErrorField) {
  HttpResult r;
  r.status = 400;
  r.body = R"({"error":"expected a value after '=' at 1:7","position":6})";
  EXPECT_EQ(ErrorText(r), "expected a value after '=' at 1:7");
  r.body = "<html>bad gateway</html>\n";
  EXPECT_EQ(ErrorText(r), "<html>bad gateway</html>");
  r.body = "";
  EXPECT_EQ(ErrorText(r), "(empty body)");
}

TEST(HttpClient, AnUnreachableServerIsUnavailableAndSaysWhere) {
  // Port 1 on loopback: nothing listens there in a test environment.
  HttpClient client(*ServerUrl::Parse("http://127.0.0.1:1"), 2000);
  Result<HttpResult> r = client.Request("GET", "/healthz");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable());
  EXPECT_EQ(
      r.status().message(),
      "cannot connect to http://127.0.0.1:1: Connection refused (is `sawmill server` running "
      "there? Another address: --server http://HOST:PORT or SAWMILL_SERVER=http://HOST:PORT)");
}

}  // namespace
}  // namespace sawmill::cli
