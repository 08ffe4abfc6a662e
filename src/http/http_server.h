// The HTTP/1.1 server on Boost.Beast: keep-alive, a request body limit (413), read and idle
// timeouts, a bounded number of connections, Content-Encoding decoding, dispatch to a Router on
// a worker pool (handlers may block on the WAL sync), and live-tail sessions over WebSocket or
// server-sent events. Beast stays inside http_server.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/tls.h"
#include "http/router.h"
#include "sawmill/status.h"
#include "tail/tail_hub.h"

namespace sawmill::http {

// A live-tail session with its own framing, for a WebSocket tail path other than the native one
// (Loki's /loki/api/v1/tail): "initial" messages are sent first, then "frame" turns each event
// the session delivers into text messages (appended to "out"). Frame runs on the connection's
// executor, one event at a time.
struct FramedTail {
  std::shared_ptr<tail::TailSession> session;
  std::vector<std::string> initial;
  std::function<void(const tail::TailEvent& event, std::vector<std::string>* out)> frame;
};
using FramedTailSubscriber = std::function<Result<FramedTail>(const struct HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  // HTTPS (docs/security.md "TLS"): every connection speaks TLS with the context tls->Current()
  // gives when it is accepted (so tls->Reload() serves new connections the new certificate and
  // leaves open ones alone). Null: plain HTTP.
  std::shared_ptr<tls::ServerTls> tls;
  // A TLS handshake must end within this from the accept, or the connection is closed.
  int tls_handshake_timeout_ms = 10'000;
  uint16_t port = 9640;                     // 0: any free port (see HttpServer::port())
  size_t max_body_bytes = 64ull << 20;      // as received; larger requests get 413
  size_t max_decoded_bytes = 256ull << 20;  // after Content-Encoding decoding; larger: 413
  size_t max_header_bytes = 64 * 1024;
  size_t max_connections = 4096;  // past it new connections get 503 and are closed
  // Open connections per client address (IPv6: per /64) past which new ones get 429 and are
  // closed; 0: no cap. Addresses in "connection_cap_exempt" (addresses or CIDR networks,
  // loopback by default: every local process shares 127.0.0.1) are not capped.
  size_t max_connections_per_address = 256;
  std::vector<std::string> connection_cap_exempt = {"127.0.0.0/8", "::1"};
  // A request (headers and body) must arrive whole within this from its first byte.
  int read_timeout_ms = 30'000;
  // A connection on which no request has begun (new, or keep-alive after an answer) is closed
  // after this.
  int idle_timeout_ms = 60'000;
  // Host names accepted besides localhost and IP literals of the server itself (with the
  // server's port): "name" (any port) or "name:port"; "*" turns the Host check off. The check
  // applies when the server listens on a loopback address or this list is not empty.
  std::vector<std::string> allowed_hosts;
  // Browser origins ("https://ui.example.com") allowed to make cross-origin requests (answered
  // with CORS headers); "*": any. Other cross-origin requests are refused unless they are
  // GET/HEAD outside the admin and tail routes.
  std::vector<std::string> allowed_origins;
  int io_threads = 2;
  int worker_threads = 16;    // handlers run here; ingest handlers wait for the WAL sync
  int heartbeat_ms = 15'000;  // WebSocket ping / SSE comment interval on tail sessions
  std::string tail_path = "/api/v1/tail";
  // More WebSocket tail paths, each with its own subscriber and framing (errors are answered
  // as plain text, as Loki does).
  std::map<std::string, FramedTailSubscriber> framed_tails;
  // Admission (docs/operations.md "Memory"): requests with a body reserve what they will hold
  // from a budget of this many bytes before it is held; no room now: 429, never room: 413.
  uint64_t ingest_memory_bytes = 256ull << 20;
  size_t max_request_lines = 100'000;  // per request, after decoding (413 past it); 0: no bound
  // Storage room for a request whose records take about "bytes": "" when there is room, else
  // why not (answered 429 with Retry-After). Unset: always room.
  std::function<std::string(uint64_t bytes)> storage_room;
  // Identity (docs/security.md): called for every routed request and every tail session before
  // its handler, with the route's pattern; it may set request->tenant and request->caller. A
  // non-OK status is the answer (401, 403, 503). Unset: every request passes.
  std::function<Status(HttpRequest* request, std::string_view pattern)> authorize;
  // Called after the handler (for a tail session: once it started) for the audit log.
  std::function<void(const HttpRequest& request, std::string_view pattern,
                     const HttpResponse& response)>
      audit;
};

// Opens a tail session for a tail request (tenant and query string already parsed). Errors
// become the HTTP answer instead of the upgrade: InvalidArgument 400 (with the position of a
// query syntax error), ResourceExhausted 429 (too many sessions), Unavailable 503.
using TailSubscriber =
    std::function<Result<std::shared_ptr<tail::TailSession>>(const HttpRequest&)>;

// Thread-safe. "router" must outlive the server and not change once Start() was called.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, const Router* router, TailSubscriber subscriber);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O and worker threads.
  // Errors: Unavailable when the address cannot be bound, InvalidArgument for a bad address
  // or a bad entry in connection_cap_exempt.
  Status Start();
  // The bound port (useful with port 0). REQUIRES: Start() returned OK.
  uint16_t port() const;

  // Shutdown, in this order: StopAccepting (closes the listener and idle keep-alive
  // connections; requests that arrive on busy ones are still answered, then the connection is
  // closed), WaitIdle (in-flight requests finish), CloseTailSessions (a close frame / close
  // event to each tail client), Stop (threads joined, every socket closed).
  void StopAccepting();
  // Returns true when no request was in flight within "timeout_ms".
  bool WaitIdle(int timeout_ms);
  void CloseTailSessions(int timeout_ms);
  void Stop();

  size_t connections() const;
  size_t in_flight() const;

  struct Impl;  // implementation detail, public only for http_server.cc's helpers

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sawmill::http
