// The per-address cap's keys and exemptions and the Host/Origin rules, case by case; the
// server applies them over real sockets in http_server_test.cc.
#include "http/connection_policy.h"

#include <gtest/gtest.h>

namespace sawmill::http {
namespace {

namespace ip = boost::asio::ip;

ip::address A(const char* text) { return ip::make_address(text); }

TEST(NetworkList, MatchesAddressesAndNetworksOfBothFamilies) {
  auto list = NetworkList::Parse({"127.0.0.0/8", "::1", "10.1.0.0/16", "fd00::/8", "[::2]"});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->Contains(A("127.0.0.1")));
  EXPECT_TRUE(list->Contains(A("127.255.0.9")));
  EXPECT_TRUE(list->Contains(A("::ffff:127.0.0.1")));  // a dual-stack listener's view
  EXPECT_TRUE(list->Contains(A("::1")));
  EXPECT_TRUE(list->Contains(A("::2")));
  EXPECT_TRUE(list->Contains(A("10.1.200.3")));
  EXPECT_FALSE(list->Contains(A("10.2.0.1")));
  EXPECT_TRUE(list->Contains(A("fd12:3456::1")));
  EXPECT_FALSE(list->Contains(A("fe80::1")));
  EXPECT_FALSE(list->Contains(A("192.168.1.1")));
  EXPECT_TRUE(NetworkList::Parse({"0.0.0.0/0"})->Contains(A("203.0.113.9")));
  EXPECT_FALSE(NetworkList::Parse({})->Contains(A("127.0.0.1")));
}

TEST(NetworkList, BadEntriesSayWhich) {
  for (const char* bad : {"example.com", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x"}) {
    auto list = NetworkList::Parse({"127.0.0.1", bad});
    ASSERT_FALSE(list.ok()) << bad;
    EXPECT_TRUE(list.status().IsInvalidArgument());
    EXPECT_NE(list.status().message().find(bad), std::string::npos) << list.status().ToString();
  }
}

TEST(AddressKey, Ipv4PerAddressIpv6PerSlash64) {
  EXPECT_EQ(AddressKey(A("203.0.113.9")), "203.0.113.9");
  EXPECT_EQ(AddressKey(A("::ffff:203.0.113.9")), "203.0.113.9");
  EXPECT_EQ(AddressKey(A("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressKey(A("2001:db8:1:2:bbbb::7")), AddressKey(A("2001:db8:1:2::9")));
}

RequestDecision Check(const RequestPolicy& policy, std::string_view method, std::string_view path,
                      std::string_view host, std::string_view origin = "",
                      const char* local = "127.0.0.1") {
  RequestFacts facts;
  facts.method = method;
  facts.path = path;
  facts.host = host;
  facts.origin = origin;
  facts.local = A(local);
  return policy.Check(facts);
}

TEST(RequestPolicy, LoopbackServerAcceptsOnlyLoopbackNamesOnItsPort) {
  RequestPolicy policy({}, {}, "/api/v1/tail", 9640, /*loopback_bound=*/true);
  for (const char* host : {"localhost:9640", "LocalHost:9640", "localhost.:9640", "127.0.0.1:9640",
                           "127.0.0.2:9640", "[::1]:9640", "localhost", "127.0.0.1", ""}) {
    EXPECT_EQ(Check(policy, "POST", "/api/v1/ingest", host).refused, "") << host;
  }
  for (const char* host :
       {"evil.example:9640", "evil.example", "localhost:8080", "10.0.0.1:9640",
        "localhost.evil.example:9640", "[::1", "a:b:c", "localhost:", "127.0.0.1:99999"}) {
    RequestDecision decision = Check(policy, "GET", "/healthz", host);
    EXPECT_EQ(decision.refused, "host") << host;
    EXPECT_NE(decision.message.find("allowed_hosts"), std::string::npos) << decision.message;
  }
}

TEST(RequestPolicy, AllowedHostsByNameOrNameAndPort) {
  RequestPolicy policy({"logs.example.com", "proxy.internal:8080"}, {}, "/api/v1/tail", 9640,
                       /*loopback_bound=*/false);
  EXPECT_EQ(Check(policy, "GET", "/", "logs.example.com", "", "10.0.0.5").refused, "");
  EXPECT_EQ(Check(policy, "GET", "/", "LOGS.example.com:443", "", "10.0.0.5").refused, "");
  EXPECT_EQ(Check(policy, "GET", "/", "proxy.internal:8080", "", "10.0.0.5").refused, "");
  EXPECT_EQ(Check(policy, "GET", "/", "proxy.internal", "", "10.0.0.5").refused, "host");
  EXPECT_EQ(Check(policy, "GET", "/", "other.example.com", "", "10.0.0.5").refused, "host");
  // Its own address and localhost still name it.
  EXPECT_EQ(Check(policy, "GET", "/", "10.0.0.5:9640", "", "10.0.0.5").refused, "");
  EXPECT_EQ(Check(policy, "GET", "/", "localhost:9640", "", "127.0.0.1").refused, "");
  EXPECT_EQ(Check(policy, "GET", "/", "10.0.0.6:9640", "", "10.0.0.5").refused, "host");
  RequestPolicy any({"*"}, {}, "/api/v1/tail", 9640, true);
  EXPECT_EQ(Check(any, "GET", "/", "anything.example").refused, "");
}

TEST(RequestPolicy, PublicServerWithoutAllowedHostsDoesNotCheckHost) {
  RequestPolicy policy({}, {}, "/api/v1/tail", 9640, /*loopback_bound=*/false);
  EXPECT_EQ(
      Check(policy, "POST", "/api/v1/ingest", "logs.example.com:9640", "", "10.0.0.5").refused, "");
  // ... but a browser page whose name merely resolves here (DNS rebinding) cannot post.
  EXPECT_EQ(Check(policy, "POST", "/api/v1/ingest", "evil.example:9640", "http://evil.example:9640",
                  "10.0.0.5")
                .refused,
            "origin");
}

TEST(RequestPolicy, CrossOriginRequestsThatChangeStateOrReachAdminOrTailAreRefused) {
  RequestPolicy policy({}, {}, "/api/v1/tail", 9640, /*loopback_bound=*/true);
  const char* self = "127.0.0.1:9640";
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    EXPECT_EQ(Check(policy, method, "/api/v1/ingest", self, "https://evil.example").refused,
              "origin")
        << method;
  }
  EXPECT_EQ(Check(policy, "GET", "/api/v1/admin/damage", self, "https://evil.example").refused,
            "origin");
  EXPECT_EQ(Check(policy, "GET", "/api/v1/tail", self, "https://evil.example").refused, "origin");
  EXPECT_EQ(Check(policy, "POST", "/api/v1/ingest", self, "null").refused, "origin");
  EXPECT_EQ(Check(policy, "POST", "/api/v1/ingest", self, "http://localhost:8080").refused,
            "origin");  // another local port is another origin
  // Read-only elsewhere: answered, but without CORS headers the page cannot read it.
  RequestDecision get = Check(policy, "GET", "/api/v1/search", self, "https://evil.example");
  EXPECT_EQ(get.refused, "");
  EXPECT_EQ(get.cors_origin, "");
  // Same origin: the Origin names the Host, and the Host names the server.
  EXPECT_EQ(Check(policy, "POST", "/api/v1/admin/flush", self, "http://127.0.0.1:9640").refused,
            "");
  EXPECT_EQ(
      Check(policy, "POST", "/api/v1/ingest", "localhost:9640", "http://LOCALHOST:9640/").refused,
      "");
}

TEST(RequestPolicy, AllowedOriginsGetCorsAndPreflight) {
  RequestPolicy policy({}, {"https://ui.example.com"}, "/api/v1/tail", 9640, true);
  RequestDecision post =
      Check(policy, "POST", "/api/v1/ingest", "127.0.0.1:9640", "https://ui.example.com");
  EXPECT_EQ(post.refused, "");
  EXPECT_EQ(post.cors_origin, "https://ui.example.com");
  EXPECT_FALSE(post.preflight);
  RequestFacts facts;
  facts.method = "OPTIONS";
  facts.path = "/api/v1/ingest";
  facts.host = "127.0.0.1:9640";
  facts.origin = "https://ui.example.com";
  facts.has_access_control_request_method = true;
  facts.local = A("127.0.0.1");
  EXPECT_TRUE(policy.Check(facts).preflight);
  facts.origin = "https://ui.example.com.evil.example";
  EXPECT_EQ(policy.Check(facts).refused, "origin");
}

}  // namespace
}  // namespace sawmill::http
