// Shared by the HTTP tests that run a real server in process on a real storage engine: the engine
// wired into ApiState as the server wires it, the server on a free loopback port, and one
// request sent over a new TCP connection (Boost.Beast), as a client would.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/api_routes.h"
#include "http/http_server.h"
#include "query/query_engine.h"
#include "storage/engine.h"

namespace sawmill::http::test_server {

// The engine stores what the state's pipeline admits and the query engine answers its searches;
// the state says it is ready.
inline void ServeEngine(ApiState* state, storage::Engine* engine, query::QueryEngine* query) {
  state->engine.store(engine);
  state->query.store(query);
  state->sink.SetEngine(engine);
  state->ready.store(true);
}

// A started HttpServer for "router" on 127.0.0.1 and a free port, with the options "http"
// otherwise; live tails (other than http.framed_tails) are refused. Null (and a test failure)
// when it cannot start.
inline std::unique_ptr<HttpServer> StartServer(Router* router, HttpServerOptions http = {}) {
  http.address = "127.0.0.1";
  http.port = 0;
  auto server = std::make_unique<HttpServer>(
      http, router, [](const HttpRequest&) -> Result<std::shared_ptr<tail::TailSession>> {
        return Status::Unavailable("no tail here");
      });
  Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  if (!started.ok()) return nullptr;
  return server;
}

struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;
};

// One request to 127.0.0.1:"port" over a new connection: "tenant" in X-Scope-OrgID (none when
// empty), then "headers"; the answer's body is read up to "body_limit" bytes.
inline Answer Send(int port, const std::string& method, const std::string& target,
                   const std::string& tenant, const std::string& body = "",
                   const std::vector<std::pair<std::string, std::string>>& headers = {},
                   uint64_t body_limit = 8u << 20) {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  namespace net = boost::asio;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(port)));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(body_limit);
  bhttp::read(stream, buffer, parser);
  Answer a;
  a.status = static_cast<int>(parser.get().result_int());
  a.body = parser.get().body();
  a.retry_after = std::string(parser.get()["Retry-After"]);
  return a;
}

}  // namespace sawmill::http::test_server
