// The server over real loopback sockets, with an in-memory engine and a scripted tail session:
// limits, errors, keep-alive, idempotency, readiness, tail over WebSocket and shutdown.
#include "http/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "http/api_routes.h"

namespace sawmill::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class FakeEngine final : public storage::Engine {
 public:
  Status Append(std::string_view tenant, std::vector<Record>* records) override {
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return Status::Unavailable("WAL: no space left on device");
    for (Record& record : *records) {
      record.seq = ++next_seq;
      record.tenant = std::string(tenant);
      stored.push_back(record);
    }
    return Status::OK();
  }
  Status Flush() override { return Status::OK(); }
  Status CompactNow() override { return Status::OK(); }
  std::shared_ptr<const storage::Snapshot> GetSnapshot(std::string_view) const override {
    return std::make_shared<storage::Snapshot>();
  }
  void ReportCorruption(uint64_t, const Status&) override {}
  storage::EngineStats stats() const override { return {}; }
  Status Close() override { return Status::OK(); }

  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return stored.size();
  }

  std::mutex mu;
  std::vector<Record> stored;
  uint64_t next_seq = 0;
  bool fail = false;
  int delay_ms = 0;
};

class FakeSession final : public tail::TailSession {
 public:
  bool Next(tail::TailEvent* event, size_t max_records, int) override {
    std::lock_guard<std::mutex> lock(mu_);
    while (!queue_.empty() && event->records.size() < max_records) {
      event->records.push_back(queue_.front());
      queue_.pop_front();
    }
    event->dropped = dropped_;
    dropped_ = 0;
    return !closed_;
  }
  void SetNotify(std::function<void()> notify) override {
    std::lock_guard<std::mutex> lock(mu_);
    notify_ = std::move(notify);
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  void Push(Record record, uint64_t dropped = 0) {
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(record));
      dropped_ += dropped;
      notify = notify_;
    }
    if (notify) notify();
  }

 private:
  std::mutex mu_;
  std::deque<Record> queue_;
  uint64_t dropped_ = 0;
  bool closed_ = false;
  std::function<void()> notify_;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string retry_after;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    options.worker_threads = 4;
    RegisterApiRoutes(&router_, &state_);
    state_.engine.store(&engine_);
    state_.sink.SetEngine(&engine_);
    state_.ready.store(true);
    server_ = std::make_unique<HttpServer>(
        options, &router_,
        [this](const HttpRequest& request) -> Result<std::shared_ptr<tail::TailSession>> {
          if (request.Query("q") == "level=") {
            return Status::InvalidArgument("expected a value after '=' at 1:7");
          }
          session_ = std::make_shared<FakeSession>();
          return std::shared_ptr<tail::TailSession>(session_);
        });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  Reply Send(const std::string& method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    Reply reply = SendOn(stream, method, target, body, headers);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return reply;
  }

  static Reply SendOn(beast::tcp_stream& stream, const std::string& method,
                      const std::string& target, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(stream, req, ec);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1u << 30);
    bhttp::read(stream, buffer, parser, ec);
    Reply reply;
    if (ec) {
      reply.status = -1;
      reply.body = ec.message();
      return reply;
    }
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = parser.get().body();
    reply.retry_after = std::string(parser.get()[bhttp::field::retry_after]);
    return reply;
  }

  FakeEngine engine_;
  ApiState state_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<FakeSession> session_;
};

TEST_F(ServerTest, IngestAnswersCountsOnceStored) {
  StartServer();
  Reply reply = Send("POST", "/api/v1/ingest?service=web&host=h1", "one\n\n  \ntwo\r\n",
                     {{"Content-Type", "text/plain"}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find(R"("accepted":2,"skipped":2)"), std::string::npos) << reply.body;
  ASSERT_EQ(engine_.count(), 2u);
  EXPECT_EQ(engine_.stored[0].service, "web");
  EXPECT_EQ(engine_.stored[0].host, "h1");
  EXPECT_EQ(engine_.stored[0].tenant, "default");
}

TEST_F(ServerTest, TenantComesFromScopeHeader) {
  StartServer();
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "x\n", {{"X-Scope-OrgID", "acme"}}).status, 200);
  ASSERT_EQ(engine_.count(), 1u);
  EXPECT_EQ(engine_.stored[0].tenant, "acme");
  Reply bad = Send("POST", "/api/v1/ingest", "x\n", {{"X-Scope-OrgID", "a/b"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("X-Scope-OrgID"), std::string::npos) << bad.body;
}

TEST_F(ServerTest, BodyOverTheLimitIs413AndNothingIsStored) {
  HttpServerOptions options;
  options.max_body_bytes = 1 << 20;
  StartServer(options);
  Reply reply = Send("POST", "/api/v1/ingest", std::string(2 << 20, 'a'));
  EXPECT_EQ(reply.status, 413) << reply.body;
  EXPECT_NE(reply.body.find("1 MiB"), std::string::npos) << reply.body;
  EXPECT_EQ(engine_.count(), 0u);
  // The server still serves after refusing.
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, UnknownRouteIs404Json) {
  StartServer();
  Reply reply = Send("GET", "/api/v1/nope");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.body, R"({"error":"no route for GET /api/v1/nope"})");
  EXPECT_EQ(Send("GET", "/api/v1/ingest").status, 405);
}

TEST_F(ServerTest, FormUploadIs415WithAHint) {
  StartServer();
  Reply reply = Send("POST", "/api/v1/ingest", "--x\r\n",
                     {{"Content-Type", "multipart/form-data; boundary=x"}});
  EXPECT_EQ(reply.status, 415);
  EXPECT_NE(reply.body.find("--data-binary"), std::string::npos) << reply.body;
  EXPECT_EQ(engine_.count(), 0u);
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "x", {{"Content-Type", "image/png"}}).status, 415);
}

TEST_F(ServerTest, BinaryBodyIs400WithTheByte) {
  StartServer();
  std::string body = "fine line\nbad";
  body.push_back('\0');
  Reply reply =
      Send("POST", "/api/v1/ingest", body, {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("NUL byte at byte 13"), std::string::npos) << reply.body;
  EXPECT_EQ(engine_.count(), 0u);
}

TEST_F(ServerTest, UndecodableBodyIs400AndNothingIsStored) {
  StartServer();
  Reply reply =
      Send("POST", "/api/v1/ingest", "this is not gzip at all", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("nothing was stored"), std::string::npos) << reply.body;
  EXPECT_EQ(engine_.count(), 0u);
}

TEST_F(ServerTest, WalFailureIs503WithRetryAfter) {
  StartServer();
  engine_.fail = true;
  Reply reply = Send("POST", "/api/v1/ingest", "x\n");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.retry_after, "1");
  EXPECT_NE(reply.body.find("no space left"), std::string::npos) << reply.body;
}

TEST_F(ServerTest, NotReadyUntilReplayIsDone) {
  StartServer();
  state_.ready.store(false);
  EXPECT_EQ(Send("GET", "/readyz").status, 503);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "x\n").status, 503);
  state_.ready.store(true);
  EXPECT_EQ(Send("GET", "/readyz").status, 200);
}

TEST_F(ServerTest, IdempotencyKeyStoresARetriedBatchOnce) {
  StartServer();
  Reply first = Send("POST", "/api/v1/ingest", "a\nb\n", {{"Idempotency-Key", "batch-1"}});
  Reply retry = Send("POST", "/api/v1/ingest", "a\nb\n", {{"Idempotency-Key", "batch-1"}});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(first.body, retry.body);
  EXPECT_EQ(engine_.count(), 2u);
  Send("POST", "/api/v1/ingest", "a\nb\n", {{"Idempotency-Key", "batch-2"}});
  EXPECT_EQ(engine_.count(), 4u);
}

TEST_F(ServerTest, FailedBatchWithKeyIsStoredOnRetry) {
  StartServer();
  engine_.fail = true;
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "a\n", {{"Idempotency-Key", "k"}}).status, 503);
  engine_.fail = false;
  EXPECT_EQ(Send("POST", "/api/v1/ingest", "a\n", {{"Idempotency-Key", "k"}}).status, 200);
  EXPECT_EQ(engine_.count(), 1u);
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  for (int i = 0; i < 20; ++i) {
    Reply reply = SendOn(stream, "POST", "/api/v1/ingest", "line\n");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  EXPECT_EQ(engine_.count(), 20u);
}

TEST_F(ServerTest, ConnectionsPastTheLimitAreRefusedWith503) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  net::io_context ioc;
  std::vector<std::unique_ptr<beast::tcp_stream>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<beast::tcp_stream>(ioc));
    held.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    ASSERT_EQ(SendOn(*held.back(), "GET", "/healthz", "").status, 200);
  }
  Reply refused = Send("GET", "/healthz");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("too many connections"), std::string::npos) << refused.body;
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterTheTimeout) {
  HttpServerOptions options;
  options.idle_timeout_ms = 200;
  StartServer(options);
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  ASSERT_EQ(SendOn(stream, "GET", "/healthz", "").status, 200);
  // Closed by the server, not by us: poll (the machine may be busy) well past the timeout.
  for (int i = 0; i < 500 && server_->connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->connections(), 0u);
  char byte;
  beast::error_code ec;
  stream.socket().read_some(net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof);
}

TEST_F(ServerTest, InFlightRequestFinishesDuringShutdown) {
  StartServer();
  engine_.delay_ms = 300;
  Reply reply;
  std::thread client([&] { reply = Send("POST", "/api/v1/ingest", "slow\n"); });
  for (int i = 0; i < 1000 && server_->in_flight() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server_->in_flight(), 1u);
  server_->StopAccepting();
  EXPECT_TRUE(server_->WaitIdle(5000));
  client.join();
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(engine_.count(), 1u);
}

TEST_F(ServerTest, TailQueryErrorIs400WithPosition) {
  StartServer();
  Reply reply = Send("GET", "/api/v1/tail?q=level%3D", "", {{"Accept", "text/event-stream"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find(R"("position":6)"), std::string::npos) << reply.body;
  EXPECT_EQ(Send("GET", "/api/v1/tail?q=x").status, 400);  // neither WebSocket nor SSE
}

TEST_F(ServerTest, WebSocketTailGetsRecordsDropsAndACloseFrameAtShutdown) {
  StartServer();
  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  ws.handshake("127.0.0.1", "/api/v1/tail?q=level%3DERROR");
  ASSERT_NE(session_, nullptr);
  Record record;
  record.seq = 5;
  record.level = Level::kError;
  record.message = "boom";
  session_->Push(record, /*dropped=*/3);
  beast::flat_buffer buffer;
  ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), R"({"dropped":3})");
  buffer.clear();
  ws.read(buffer);
  std::string message = beast::buffers_to_string(buffer.data());
  EXPECT_NE(message.find(R"("id":"5")"), std::string::npos) << message;
  EXPECT_NE(message.find(R"("message":"boom")"), std::string::npos) << message;

  std::thread closer([&] {
    server_->StopAccepting();
    server_->CloseTailSessions(2000);
  });
  buffer.clear();
  beast::error_code ec;
  ws.read(buffer, ec);
  closer.join();
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws.reason().code, websocket::close_code::going_away);
}

}  // namespace
}  // namespace sawmill::http
