#include "http/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/json_string.h"
#include "common/mutex.h"
#include "common/thread_priority.h"
#include "common/tls.h"
#include "http/api_routes.h"
#include "http/connection_policy.h"
#include "http/http_metrics.h"
#include "http/json_writer.h"
#include "http/memory_budget.h"
#include "ingest/loki_push.h"
#include "ingest/normalize.h"

namespace sawmill::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
// A connection's stream: plain TCP, or TLS over it when the server has a certificate.
using PlainStream = beast::tcp_stream;
// Asio's stream rather than Beast's ssl_stream wrapper: Beast 1.81's async_handshake with
// already-read bytes does not compile.
using TlsStream = ssl::stream<beast::tcp_stream>;
template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, PlainStream>;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ErrorBody(std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(message, &body);
  body += "}";
  return body;
}

// A refusal by a bound: the message, the option that sets the bound and its value, so that a
// client (or its operator) knows what to change. 429 answers carry Retry-After.
HttpResponse LimitError(int status, std::string_view message, std::string_view option,
                        uint64_t value) {
  std::string body = "{\"error\":";
  AppendJsonString(message, &body);
  body += ",\"limit\":";
  AppendJsonString(option, &body);
  body += ",\"limit_value\":" + std::to_string(value) + "}";
  HttpResponse response = HttpResponse::Json(status, std::move(body));
  if (status == 429) response.headers.emplace_back("Retry-After", "1");
  return response;
}

std::string HumanBytes(size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Logs a recurring event at most once per interval, with the count since the last line.
class RateLimitedLog {
 public:
  // Counts one event; returns the events to report (this one included) when a line is due,
  // else 0.
  uint64_t Note() {
    MutexLock lock(&mu_);
    ++pending_;
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(10)) return 0;
    logged_ = true;
    last_ = now;
    uint64_t count = pending_;
    pending_ = 0;
    return count;
  }

 private:
  Mutex mu_;
  uint64_t pending_ = 0;
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_;
};

// Records a tail writer takes from its session at a time; it takes more only when they are
// written, so a client that stops reading holds at most this many formatted records here (the
// rest waits in the hub's bounded queues, see docs/tail.md).
constexpr size_t kTailBatchRecords = 64;

// Something the server must tell about shutdown: an HTTP connection or a tail session.
class Closeable {
 public:
  virtual ~Closeable() = default;
  // Called from any thread; the object posts the work to its own strand.
  virtual void OnStopAccepting() = 0;
  virtual void OnCloseTail() = 0;
  virtual bool is_tail() const = 0;
};

// 413, counted: a request that can never fit in the ingest memory budget. "what" ends in the
// comparison ("..., more than").
HttpResponse TooLargeForMemoryBudget(const MemoryBudget& budget, const std::string& what) {
  std::string message =
      what + " the server's ingest memory budget (ingest_memory = " + HumanSize(budget.limit()) +
      "); split the batch into smaller requests; nothing was stored";
  CountIngestRejected("ingest_memory_request", message);
  return LimitError(413, message, "ingest_memory", budget.limit());
}

// 429, counted: the ingest memory budget is held by other requests now.
HttpResponse MemoryBudgetBusy(const MemoryBudget& budget) {
  std::string message =
      "the server holds " + HumanSize(budget.in_use()) +
      " of its ingest memory budget (ingest_memory = " + HumanSize(budget.limit()) +
      ") for other requests; retry after the Retry-After delay or send "
      "smaller batches; nothing was stored";
  CountIngestRejected("ingest_memory", message);
  return LimitError(429, message, "ingest_memory", budget.limit());
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions o, const Router* r, TailSubscriber s)
      : options(std::move(o)),
        router(r),
        subscriber(std::move(s)),
        budget(options.ingest_memory_bytes),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))),
        acceptor(net::make_strand(ioc)) {}

  // Members that live connections touch are declared before "ioc" so that they outlive the
  // handlers the io_context destroys.
  const HttpServerOptions options;
  const Router* const router;
  const TailSubscriber subscriber;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> refusing{0};  // refused connections still being answered
  std::atomic<size_t> in_flight{0};
  std::atomic<size_t> tail_sessions{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  MemoryBudget budget;  // admission of request bodies (docs/operations.md "Memory")
  Mutex mu;
  uint64_t next_id GUARDED_BY(mu) = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Closeable>> live GUARDED_BY(mu);
  Mutex address_mu;
  std::unordered_map<std::string, size_t> per_address GUARDED_BY(address_mu);
  // Set by Start() before any connection exists.
  NetworkList cap_exempt;
  std::optional<RequestPolicy> policy;
  RateLimitedLog refused_log;
  RateLimitedLog timeout_log;
  RateLimitedLog host_log;
  RateLimitedLog tls_log;

  net::thread_pool workers;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;

  uint64_t Register(const std::shared_ptr<Closeable>& item) {
    MutexLock lock(&mu);
    uint64_t id = next_id++;
    live.emplace(id, item);
    return id;
  }
  void Unregister(uint64_t id) {
    MutexLock lock(&mu);
    live.erase(id);
  }
  std::vector<std::shared_ptr<Closeable>> Live() {
    std::vector<std::shared_ptr<Closeable>> out;
    MutexLock lock(&mu);
    for (auto& [id, weak] : live) {
      if (auto item = weak.lock()) out.push_back(std::move(item));
    }
    return out;
  }

  // The per-address count a new connection from "remote" joins; "" when it is not capped.
  std::string CapKey(const net::ip::address& remote) const {
    if (options.max_connections_per_address == 0 || cap_exempt.Contains(remote)) return "";
    return AddressKey(remote);
  }
  size_t ConnectionsFrom(const std::string& key) {
    MutexLock lock(&address_mu);
    auto it = per_address.find(key);
    return it == per_address.end() ? 0 : it->second;
  }
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  // Runs on a worker thread: decoding, admission, routing, the handler, metrics. "reservation"
  // holds the body as received and grows to the request's estimate before the handler runs.
  HttpResponse Handle(HttpRequest* request, Reservation* reservation);
  // Decodes the body within the bounds and reserves what handling it will take; an answer when
  // the request is refused.
  std::optional<HttpResponse> Admit(HttpRequest* request, Reservation* reservation);
};

namespace {

using Impl = HttpServer::Impl;

// Counts a connection for the max_connections bound, and for its address's cap unless "key"
// is empty, while alive.
class ConnectionSlot {
 public:
  ConnectionSlot(Impl* impl, std::string key) : impl_(impl), key_(std::move(key)) {
    impl_->connections.fetch_add(1);
    if (!key_.empty()) {
      MutexLock lock(&impl_->address_mu);
      ++impl_->per_address[key_];
    }
  }
  ~ConnectionSlot() {
    if (!key_.empty()) {
      MutexLock lock(&impl_->address_mu);
      auto it = impl_->per_address.find(key_);
      if (it != impl_->per_address.end() && --it->second == 0) impl_->per_address.erase(it);
    }
    impl_->connections.fetch_sub(1);
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  Impl* impl_;
  std::string key_;
};

// Builds the handler's view of a Beast request. Errors: InvalidArgument (bad target, tenant).
Status ToHttpRequest(bhttp::request<bhttp::string_body>&& in, const std::string& remote,
                     HttpRequest* out) {
  out->method = std::string(in.method_string());
  out->target = std::string(in.target());
  out->remote_address = remote;
  for (const auto& field : in) {
    out->headers.emplace(Lower(field.name_string()), std::string(field.value()));
  }
  auto parsed = boost::urls::parse_origin_form(in.target());
  if (!parsed) {
    out->path = out->target.substr(0, out->target.find('?'));
    return Status::InvalidArgument("the request target '" + out->target +
                                   "' is not a valid path and query");
  }
  out->path = std::string(parsed->path());
  for (auto param : parsed->params()) {
    out->query.emplace(std::string(param.key), std::string(param.value));
  }
  auto tenant = TenantFromHeader(out->Header("x-scope-orgid"));
  if (!tenant.ok()) return tenant.status();
  out->tenant = *tenant;
  out->body = std::move(in.body());
  return Status::OK();
}

std::shared_ptr<bhttp::response<bhttp::string_body>> ToBeastResponse(HttpResponse in,
                                                                     bool keep_alive, bool head) {
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
  res->version(11);
  res->result(static_cast<unsigned>(in.status));
  res->set(bhttp::field::server, "sawmill/" SAWMILL_VERSION);
  res->set(bhttp::field::content_type, in.content_type);
  for (const auto& [name, value] : in.headers) res->insert(name, value);
  res->keep_alive(keep_alive);
  if (head) {
    res->content_length(in.body.size());
  } else {
    res->body() = std::move(in.body);
    res->prepare_payload();
  }
  return res;
}

// What a tail connection is made with, whatever its transport: "tls_context" (null for plain
// TCP) is the context its stream was made with, held by the connection so that it outlives the
// stream (a member of the transport's class, destroyed first).
struct TailStart {
  Impl* impl;
  std::shared_ptr<ssl::context> tls_context;
  std::shared_ptr<tail::TailSession> session;
  std::string address_key;
};

// A live-tail connection, over WebSocket or server-sent events: pulls from its hub session when
// the hub notifies it (and once a second as a safety net), frames each event as the transport's
// messages, writes them one at a time, and at shutdown sends what is queued, then the
// transport's goodbye. The transports differ only in framing, the write and close calls and the
// heartbeat (Beast's pings for WebSocket, comments for SSE). Runs on the connection's executor.
class TailConnection : public Closeable, public std::enable_shared_from_this<TailConnection> {
 public:
  TailConnection(const char* transport, const net::any_io_executor& executor, TailStart start)
      : impl_(start.impl),
        transport_(transport),
        tls_context_(std::move(start.tls_context)),
        slot_(start.impl, std::move(start.address_key)),
        executor_(executor),
        session_(std::move(start.session)),
        timer_(executor),
        last_write_(std::chrono::steady_clock::now()) {}
  ~TailConnection() override {
    session_->Close();
    impl_->Unregister(id_);
    impl_->tail_sessions.fetch_sub(1);
    HttpMetrics::Get().SetTailConnections(transport_, -1);
  }

  void OnStopAccepting() override {}
  void OnCloseTail() override {
    net::post(executor_, [self = shared_from_this()] {
      if (self->closing_ || self->closed_) return;
      self->closing_ = true;
      self->QueueGoodbye(&self->out_);
      if (!self->writing_) self->WriteNext();
    });
  }
  bool is_tail() const override { return true; }

 protected:
  // Registers the connection, so that shutdown closes it, and counts it.
  void Begin() {
    id_ = impl_->Register(shared_from_this());
    impl_->tail_sessions.fetch_add(1);
    HttpMetrics::Get().SetTailConnections(transport_, +1);
  }

  // Queues "message" to be written before anything the session delivers after this call.
  void Queue(std::string message) { out_.push_back(std::move(message)); }

  // Starts pulling from the session: the hub's notify callback, the tick and a first pump.
  void Run() {
    std::weak_ptr<TailConnection> weak = shared_from_this();
    auto executor = executor_;
    session_->SetNotify([weak, executor] {
      if (auto self = weak.lock()) net::post(executor, [self] { self->Pump(); });
    });
    Tick();
    Pump();
  }

  // Stops pulling and closes the transport: "graceful" after everything queued was written,
  // otherwise because the client left or a write failed.
  void Finish(bool graceful) {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    session_->Close();
    CloseTransport(graceful);
  }

  // The transport's part. Frame appends the messages of one event ({"dropped":N} first when
  // lines were lost); QueueGoodbye appends what precedes the close (SSE: a close event).
  virtual void Frame(const tail::TailEvent& event, std::deque<std::string>* out) = 0;
  virtual void QueueGoodbye(std::deque<std::string>* out) { (void)out; }
  // A message written after heartbeat_ms without a write, or "" (WebSocket pings by itself).
  virtual std::string Heartbeat() const { return ""; }
  // Writes "message", which stays alive and unchanged until "done" runs.
  virtual void AsyncWrite(const std::string& message,
                          std::function<void(beast::error_code)> done) = 0;
  virtual void CloseTransport(bool graceful) = 0;

  Impl* const impl_;

 private:
  void Tick() {
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      std::string heartbeat = self->Heartbeat();
      auto idle = std::chrono::steady_clock::now() - self->last_write_;
      if (!heartbeat.empty() && !self->writing_ && !self->closing_ &&
          idle >= std::chrono::milliseconds(self->impl_->options.heartbeat_ms)) {
        self->out_.push_back(std::move(heartbeat));
        self->WriteNext();
      } else {
        self->Pump();
      }
      self->Tick();
    });
  }

  void Pump() {
    if (writing_ || closed_ || closing_) return;
    tail::TailEvent event;
    bool open = session_->Next(&event, kTailBatchRecords, 0);
    Frame(event, &out_);
    if (!open) {
      closing_ = true;
      QueueGoodbye(&out_);
    }
    WriteNext();
  }

  void WriteNext() {
    if (closed_ || writing_) return;
    if (out_.empty()) {
      if (closing_) Finish(/*graceful=*/true);
      return;
    }
    writing_ = true;
    AsyncWrite(out_.front(), [self = shared_from_this()](beast::error_code ec) {
      self->out_.pop_front();
      self->writing_ = false;
      self->last_write_ = std::chrono::steady_clock::now();
      if (ec) {
        self->Finish(/*graceful=*/false);
        return;
      }
      if (self->out_.empty() && !self->closing_) {
        self->Pump();
      } else {
        self->WriteNext();
      }
    });
  }

  const char* const transport_;  // "websocket" or "sse", the metric's label
  const std::shared_ptr<ssl::context> tls_context_;
  ConnectionSlot slot_;
  net::any_io_executor executor_;
  std::shared_ptr<tail::TailSession> session_;
  net::steady_timer timer_;
  std::chrono::steady_clock::time_point last_write_;
  std::deque<std::string> out_;  // the front one is being written while writing_
  bool writing_ = false;
  bool closing_ = false;  // send what is queued, then the goodbye
  bool closed_ = false;
  uint64_t id_ = 0;
};

// Live tail over WebSocket: one JSON record per text message, {"dropped":N} when the hub's
// queue for it overflowed, pings from Beast's idle timeout, a going-away close frame at
// shutdown.
template <class Stream>
class WsTail final : public TailConnection {
 public:
  WsTail(TailStart start, Stream&& stream)
      : TailConnection("websocket", stream.get_executor(), std::move(start)),
        ws_(std::move(stream)) {}

  void Start(bhttp::request<bhttp::string_body> request) {
    Begin();
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = std::chrono::milliseconds(2 * impl_->options.heartbeat_ms);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(bhttp::field::server, "sawmill/" SAWMILL_VERSION);
    }));
    ws_.text(true);
    request_ = std::move(request);
    ws_.async_accept(request_, [self = Self()](beast::error_code ec) {
      if (ec) return;  // the client left during the handshake; the destructor cleans up
      self->DoRead();
      self->Run();
    });
  }

 private:
  std::shared_ptr<WsTail> Self() { return std::static_pointer_cast<WsTail>(shared_from_this()); }

  // Reads (and drops) what the client sends, to see its close, a timeout or a reset.
  void DoRead() {
    ws_.async_read(read_buffer_, [self = Self()](beast::error_code ec, size_t) {
      self->read_buffer_.consume(self->read_buffer_.size());
      if (ec) {
        self->Finish(/*graceful=*/false);
        return;
      }
      self->DoRead();
    });
  }

  void Frame(const tail::TailEvent& event, std::deque<std::string>* out) override {
    if (frame_) {
      std::vector<std::string> messages;
      frame_(event, &messages);
      for (std::string& m : messages) out->push_back(std::move(m));
      return;
    }
    if (event.dropped > 0) out->push_back("{\"dropped\":" + std::to_string(event.dropped) + "}");
    for (const std::string& notice : event.notices) {
      std::string m = "{\"notice\":";
      AppendJsonString(notice, &m);
      out->push_back(m + "}");
    }
    for (const Record& record : event.records) out->push_back(RecordToJson(record));
  }

 public:
  // A framed tail (HttpServerOptions::framed_tails): its first messages and its framing.
  void SetFraming(std::vector<std::string> initial, decltype(FramedTail::frame) frame) {
    for (std::string& m : initial) Queue(std::move(m));
    frame_ = std::move(frame);
  }

 private:
  decltype(FramedTail::frame) frame_;

  void AsyncWrite(const std::string& message,
                  std::function<void(beast::error_code)> done) override {
    ws_.async_write(net::buffer(message),
                    [done = std::move(done)](beast::error_code ec, size_t) { done(ec); });
  }

  void CloseTransport(bool graceful) override {
    if (!graceful) return;  // the stream closes with the object
    ws_.async_close(
        websocket::close_reason(websocket::close_code::going_away, "server shutting down"),
        [self = Self()](beast::error_code) {});
  }

  websocket::stream<Stream> ws_;
  bhttp::request<bhttp::string_body> request_;
  beast::flat_buffer read_buffer_;
};

// Live tail over server-sent events: "data: {record}\n\n" per record, "event: dropped" when
// lines were lost, ": ping" comments as heartbeats, "event: close" at shutdown. The response
// has no length: it ends when the connection closes.
template <class Stream>
class SseTail final : public TailConnection {
 public:
  SseTail(TailStart start, Stream&& stream)
      : TailConnection("sse", stream.get_executor(), std::move(start)),
        stream_(std::move(stream)) {}

  void Start() {
    Begin();
    Queue("HTTP/1.1 200 OK\r\nServer: sawmill/" SAWMILL_VERSION
          "\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n: connected\n\n");
    DoRead();
    Run();
  }

 private:
  std::shared_ptr<SseTail> Self() { return std::static_pointer_cast<SseTail>(shared_from_this()); }

  // Reads (and drops) what the client sends, to see it hang up.
  void DoRead() {
    stream_.async_read_some(net::buffer(scratch_), [self = Self()](beast::error_code ec, size_t) {
      if (ec) {
        self->Finish(/*graceful=*/false);
        return;
      }
      self->DoRead();
    });
  }

  void Frame(const tail::TailEvent& event, std::deque<std::string>* out) override {
    std::string chunk;
    if (event.dropped > 0) {
      chunk += "event: dropped\ndata: {\"dropped\":" + std::to_string(event.dropped) + "}\n\n";
    }
    for (const std::string& notice : event.notices) {
      chunk += "event: notice\ndata: {\"notice\":";
      AppendJsonString(notice, &chunk);
      chunk += "}\n\n";
    }
    for (const Record& record : event.records) {
      chunk += "data: ";
      AppendRecordJson(record, &chunk);
      chunk += "\n\n";
    }
    if (!chunk.empty()) out->push_back(std::move(chunk));
  }

  void QueueGoodbye(std::deque<std::string>* out) override {
    out->push_back("event: close\ndata: {\"reason\":\"server shutting down\"}\n\n");
  }

  std::string Heartbeat() const override { return ": ping\n\n"; }

  void AsyncWrite(const std::string& message,
                  std::function<void(beast::error_code)> done) override {
    // A client that stops reading is dropped after two heartbeats without progress.
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(2 * impl_->options.heartbeat_ms));
    net::async_write(stream_, net::buffer(message),
                     [done = std::move(done)](beast::error_code ec, size_t) { done(ec); });
  }

  void CloseTransport(bool) override {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  Stream stream_;
  std::array<char, 512> scratch_{};
};

// One HTTP/1.1 connection: reads requests one after another (keep-alive), hands each to the
// worker pool, writes the answer.
enum class Refusal { kNone, kTotal, kPerAddress };

// Over TLS (Stream = TlsStream) the handshake comes first, within tls_handshake_timeout.
template <class Stream>
class HttpConnection : public Closeable,
                       public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  // A refused connection is answered and closed; it holds no slot (it does not count against
  // the caps) but counts in impl->refusing while it is answered. "tls_context" (null for plain
  // TCP) is the context "stream" was made with.
  HttpConnection(Impl* impl, Stream&& stream, std::shared_ptr<ssl::context> tls_context,
                 Refusal refusal, std::string address_key)
      : impl_(impl),
        tls_context_(std::move(tls_context)),
        stream_(std::move(stream)),
        reservation_(&impl->budget),
        refusal_(refusal),
        address_key_(std::move(address_key)) {
    if (refusal_ == Refusal::kNone) {
      slot_.emplace(impl_, address_key_);
    } else {
      impl_->refusing.fetch_add(1);
    }
  }
  ~HttpConnection() override {
    impl_->Unregister(id_);
    if (refusal_ != Refusal::kNone) impl_->refusing.fetch_sub(1);
  }

  void Start() {
    beast::error_code ec;
    auto endpoint = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
    auto local = Tcp().socket().local_endpoint(ec);
    if (!ec) local_ = local.address();
    id_ = impl_->Register(this->shared_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kIsTls<Stream>) {
        self->Handshake();
      } else {
        self->Begin();
      }
    });
  }

  void OnStopAccepting() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }
  void OnCloseTail() override {}
  bool is_tail() const override { return false; }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  // The first thing on a connection once it can speak HTTP: a refusal, or the first request.
  void Begin() {
    const HttpServerOptions& options = impl_->options;
    if (refusal_ == Refusal::kTotal) {
      ReplyAndClose(503, "too many connections (the limit is " +
                             std::to_string(options.max_connections) + "); retry later");
    } else if (refusal_ == Refusal::kPerAddress) {
      ReplyAndClose(429, "too many connections from " + address_key_ +
                             " (the limit per address is " +
                             std::to_string(options.max_connections_per_address) +
                             ", max_connections_per_address); close idle ones or retry later");
    } else {
      DoReadHeader();
    }
  }

  // TLS: the client's first bytes must be a TLS handshake (a plain HTTP request gets a plain
  // 400 saying to use https), and the handshake must end within tls_handshake_timeout, so that
  // a client that connects and stays silent, or stalls mid-handshake, holds its connection slot
  // no longer. Runs on the I/O threads; no worker waits for it.
  void Handshake() {
    idle_ = true;  // a shutdown closes a connection still in its handshake
    Tcp().expires_after(std::chrono::milliseconds(impl_->options.tls_handshake_timeout_ms));
    beast::async_detect_ssl(
        Tcp(), buffer_, [self = this->shared_from_this()](beast::error_code ec, bool is_tls) {
          if (ec) return self->HandshakeFailed(ec);
          if (!is_tls) return self->NotTls();
          self->stream_.async_handshake(ssl::stream_base::server, self->buffer_.data(),
                                        [self](beast::error_code hec, size_t used) {
                                          if (hec) return self->HandshakeFailed(hec);
                                          self->buffer_.consume(used);
                                          self->tls_client_ =
                                              tls::PeerSubject(self->stream_.native_handle());
                                          self->Begin();
                                        });
        });
  }

  void HandshakeFailed(beast::error_code ec) {
    const bool timeout = ec == beast::error::timeout;
    if (ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return Close();  // the client left (a port probe, a health check of the TCP port)
    }
    tls::CountHandshakeFailure("http", timeout ? "timeout" : "error");
    if (timeout) HttpMetrics::Get().CountConnectionTimeout("handshake");
    if (uint64_t count = impl_->tls_log.Note()) {
      spdlog::warn("http: {} TLS handshake(s) failed; the last from {}: {}", count, remote_,
                   timeout ? "no handshake within tls_handshake_timeout (" +
                                 std::to_string(impl_->options.tls_handshake_timeout_ms) + " ms)"
                           : ec.message());
    }
    Close();
  }

  // A plain-text client on the HTTPS port: a plain answer it can read, then the close.
  void NotTls() {
    tls::CountHandshakeFailure("http", "plain_text");
    static const std::string kAnswer = [] {
      const std::string body =
          "{\"error\":\"this port speaks HTTPS: use https:// instead of http://\"}\n";
      return "HTTP/1.1 400 Bad Request\r\nServer: sawmill/" SAWMILL_VERSION
             "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    Tcp().expires_after(std::chrono::seconds(5));
    net::async_write(
        Tcp(), net::buffer(kAnswer),
        [self = this->shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  // Waits up to idle_timeout for the first byte of the next request, then gives the whole
  // request (headers and body) read_timeout from that byte: a client that drips header bytes
  // cannot stretch a request past read_timeout.
  void DoReadHeader() {
    if (impl_->stopping.load()) {
      Close();
      return;
    }
    idle_ = true;
    reservation_.Reset();
    parser_.emplace();
    parser_->body_limit(impl_->options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(impl_->options.max_header_bytes));
    cors_origin_.clear();
    preflight_ = false;
    if (buffer_.size() > 0) return StartRequest();  // pipelined: it began already
    Tcp().expires_after(std::chrono::milliseconds(impl_->options.idle_timeout_ms));
    stream_.async_read_some(
        buffer_.prepare(4096),
        beast::bind_front_handler(&HttpConnection::OnFirstBytes, this->shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, size_t n) {
    if (ec) {
      if (ec == beast::error::timeout) HttpMetrics::Get().CountConnectionTimeout("idle");
      return Close();
    }
    buffer_.commit(n);
    StartRequest();
  }

  void StartRequest() {
    idle_ = false;
    Tcp().expires_after(std::chrono::milliseconds(impl_->options.read_timeout_ms));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpConnection::OnHeader, this->shared_from_this()));
  }

  // A request that did not arrive whole within read_timeout: the socket is closed already.
  void RequestTimedOut() {
    HttpMetrics::Get().CountConnectionTimeout("request");
    if (uint64_t count = impl_->timeout_log.Note()) {
      spdlog::warn(
          "http: closed {} connection(s) whose request did not arrive whole within read_timeout "
          "({} ms); the last from {}",
          count, impl_->options.read_timeout_ms, remote_);
    }
    Close();
  }

  void OnHeader(beast::error_code ec, size_t) {
    idle_ = false;
    if (ec == beast::error::timeout) return RequestTimedOut();
    if (ec == bhttp::error::body_limit) return TooLarge();
    if (ec == bhttp::error::header_limit) {
      return ReplyAndClose(431, "the request headers are larger than " +
                                    HumanBytes(impl_->options.max_header_bytes));
    }
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == net::error::operation_aborted || ec == net::error::connection_reset ||
          ec == net::error::eof || buffer_.size() == 0) {
        return Close();
      }
      return ReplyAndClose(400, "malformed HTTP request: " + ec.message());
    }
    // The read_timeout set at the first byte still runs: the body must arrive within it too.
    auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (std::string refused = CheckHostAndOrigin(req, path); !refused.empty()) {
      return ReplyAndClose(403, refused);
    }
    if (path == impl_->options.tail_path && req.method() == bhttp::verb::get) {
      bool upgrade = websocket::is_upgrade(req);
      bool sse = Lower(std::string_view(req[bhttp::field::accept])).find("text/event-stream") !=
                 std::string::npos;
      if (upgrade || sse) return StartTail(upgrade);
    }
    if (req.method() == bhttp::verb::get && websocket::is_upgrade(req)) {
      auto framed = impl_->options.framed_tails.find(std::string(path));
      if (framed != impl_->options.framed_tails.end()) return StartFramedTail(framed->second);
    }
    // Admission of the body as received, before it is read: a declared length is reserved whole,
    // a chunked body as its chunks arrive (DoReadBody).
    if (auto length = parser_->content_length(); length && *length > 0) {
      if (!reservation_.GrowTo(*length)) return Busy(*length);
    }
    if (Lower(std::string_view(req[bhttp::field::expect])) == "100-continue") {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       req.version());
      bhttp::async_write(stream_, *cont,
                         [self = this->shared_from_this(), cont](beast::error_code wec, size_t) {
                           if (wec) return self->Close();
                           self->DoReadBody();
                         });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    if (parser_->content_length() || parser_->is_done()) {
      bhttp::async_read(
          stream_, buffer_, *parser_,
          beast::bind_front_handler(&HttpConnection::OnBody, this->shared_from_this()));
      return;
    }
    bhttp::async_read_some(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpConnection::OnBodyPart, this->shared_from_this()));
  }

  // A piece of a chunked body: reserve what arrived so far, then read on.
  void OnBodyPart(beast::error_code ec, size_t n) {
    if (ec) return OnBody(ec, n);
    const uint64_t received = parser_->get().body().size();
    if (!reservation_.GrowTo(received)) return Busy(received);
    if (parser_->is_done()) return OnBody(ec, n);
    DoReadBody();
  }

  // The ingest memory budget has no room for a body of "bytes" now (429) or ever (413).
  void Busy(uint64_t bytes) {
    const MemoryBudget& budget = impl_->budget;
    if (bytes > budget.limit()) {
      return ReplyAndClose(
          TooLargeForMemoryBudget(budget, "the request body alone is larger than"));
    }
    ReplyAndClose(MemoryBudgetBusy(budget));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == bhttp::error::body_limit) return TooLarge();
    if (ec == beast::error::timeout) return RequestTimedOut();
    if (ec) return Close();
    keep_alive_ = parser_->get().keep_alive();
    head_ = parser_->get().method() == bhttp::verb::head;
    if (preflight_) {
      // A CORS preflight from an allowed origin (Write adds Access-Control-Allow-Origin).
      impl_->in_flight.fetch_add(1);
      HttpResponse response;
      response.status = 204;
      response.content_type = "text/plain";
      response.headers = {{"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE"},
                          {"Access-Control-Allow-Headers",
                           "Content-Type, Content-Encoding, X-Scope-OrgID, Idempotency-Key, "
                           "Authorization"},
                          {"Access-Control-Max-Age", "600"}};
      HttpMetrics::Get().CountRequest("preflight", 204, 0);
      return Write(std::move(response));
    }
    auto request = std::make_shared<HttpRequest>();
    Status status = ToHttpRequest(parser_->release(), remote_, request.get());
    request->tls_client = tls_client_;
    impl_->in_flight.fetch_add(1);
    if (!status.ok()) {
      HttpMetrics::Get().CountRequest("unmatched", StatusToHttp(status), 0);
      return Write(HttpResponse::Error(status));
    }
    if (request->method == "GET") WatchForDisconnect(request.get());
    // The handler may block (WAL sync, query): run it off the I/O threads.
    auto reservation = std::make_shared<Reservation>(std::move(reservation_));
    net::post(impl_->workers, [self = this->shared_from_this(), request, reservation] {
      HttpResponse response = self->impl_->Handle(request.get(), reservation.get());
      request->body = std::string();
      reservation->Reset();
      PublishBudget(self->impl_->budget);
      if (response.stream && !self->head_) return self->StreamOnWorker(std::move(response));
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->StopWatching();
        self->Write(std::move(response));
      });
    });
  }

  // Writes a streamed answer (HttpResponse::stream) from the worker thread: each piece is
  // posted to the connection's executor and written before the next one is produced.
  // REQUIRES: in_flight was incremented for this request.
  void StreamOnWorker(HttpResponse response) {
    auto self = this->shared_from_this();
    // Each write's data and outcome are shared with the posted handler: when the server stops,
    // its io_context runs no more handlers, and the worker must not wait for one forever (that
    // hung Stop(), which joins the workers) nor leave one pointing at its stack.
    struct Piece {
      std::string data;
      std::promise<beast::error_code> done;
    };
    auto write = [self](std::string data) {
      auto piece = std::make_shared<Piece>();
      piece->data = std::move(data);
      std::future<beast::error_code> result = piece->done.get_future();
      net::post(self->stream_.get_executor(), [self, piece] {
        if (self->closed_) return piece->done.set_value(net::error::not_connected);
        self->Tcp().expires_after(std::chrono::milliseconds(self->impl_->options.read_timeout_ms));
        net::async_write(self->stream_, net::buffer(piece->data),
                         [piece](beast::error_code ec, size_t) { piece->done.set_value(ec); });
      });
      while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
        if (self->impl_->stopped.load()) return false;  // no handler will run again
      }
      return !result.get();
    };
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) +
        " OK\r\nServer: sawmill/" SAWMILL_VERSION "\r\nContent-Type: " + response.content_type +
        "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    if (!cors_origin_.empty()) {
      head += "Access-Control-Allow-Origin: " + cors_origin_ + "\r\nVary: Origin\r\n";
    }
    head += "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    bool ok = write(head);
    std::string chunk, framed;  // one piece: the most a stream holds at once
    bool more = true;
    while (ok && more) {
      chunk.clear();
      more = response.stream(&chunk);
      if (chunk.empty()) continue;
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
      framed = size;
      framed += chunk;
      framed += "\r\n";
      ok = write(std::move(framed));
      framed = std::string();
    }
    // Whatever the stream holds (a query, a snapshot) goes now, and with it the audit entry of
    // the answer is written: before the last chunk, so a client that has read the whole answer
    // finds the entry (a client gone meanwhile gets none of it either way).
    response.stream = nullptr;
    if (ok) write("0\r\n\r\n");
    net::post(stream_.get_executor(), [self] {
      self->StopWatching();
      self->impl_->in_flight.fetch_sub(1);
      self->Close();
    });
  }

  // While the handler of "request" runs, waits for the socket to become readable: end of
  // stream or an error means the client closed the connection, and request->client_gone
  // tells the handler (a search stops scanning within about a second). Bytes from the client
  // (a pipelined request) end the watch; they are read as usual after the answer. A client
  // that half-closes its side after sending the request counts as gone, as with most servers.
  void WatchForDisconnect(HttpRequest* request) {
    auto gone = std::make_shared<std::atomic<bool>>(false);
    request->client_gone = gone;
    watching_ = true;
    Tcp().socket().async_wait(tcp::socket::wait_read,
                              [self = this->shared_from_this(), gone](beast::error_code ec) {
                                self->OnReadable(ec, gone);
                              });
  }

  void OnReadable(beast::error_code ec, const std::shared_ptr<std::atomic<bool>>& gone) {
    if (!watching_ || ec == net::error::operation_aborted) return;
    if (!ec) {
      char byte;
      ssize_t n = ::recv(Tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) {
        watching_ = false;  // a pipelined request: the client is still there
        return;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        Tcp().socket().async_wait(tcp::socket::wait_read,
                                  [self = this->shared_from_this(), gone](beast::error_code ec2) {
                                    self->OnReadable(ec2, gone);
                                  });
        return;
      }
    }
    watching_ = false;
    gone->store(true);
  }

  // Ends the watch before the answer is written. Runs on the connection's strand.
  void StopWatching() {
    if (!watching_) return;
    watching_ = false;
    beast::error_code ignored;
    Tcp().socket().cancel(ignored);
  }

  // REQUIRES: in_flight was incremented for this request.
  void Write(HttpResponse response) {
    if (!cors_origin_.empty()) {
      response.headers.emplace_back("Access-Control-Allow-Origin", cors_origin_);
      response.headers.emplace_back("Vary", "Origin");
    }
    bool keep_alive = keep_alive_ && !impl_->stopping.load();
    res_ = ToBeastResponse(std::move(response), keep_alive, head_);
    Tcp().expires_after(std::chrono::milliseconds(impl_->options.read_timeout_ms));
    bhttp::async_write(stream_, *res_,
                       [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                         self->res_.reset();
                         self->impl_->in_flight.fetch_sub(1);
                         if (ec || !keep_alive) return self->Close();
                         self->DoReadHeader();
                       });
  }

  void TooLarge() {
    ReplyAndClose(413, "the request body is larger than the limit of " +
                           HumanBytes(impl_->options.max_body_bytes) +
                           "; split it into smaller batches");
  }

  // Answers and closes; reads and discards what the client is still sending first so that it
  // sees the answer instead of a connection reset.
  void ReplyAndClose(int status, const std::string& message) {
    HttpResponse response = HttpResponse::Json(status, ErrorBody(message));
    if (status == 503 || (status == 429 && refusal_ != Refusal::kNone)) {
      response.headers.emplace_back("Retry-After", "1");
    }
    ReplyAndClose(std::move(response));
  }
  void ReplyAndClose(HttpResponse response) {
    reservation_.Reset();  // what is drained is not held
    HttpMetrics::Get().CountRequest("unmatched", response.status, 0);
    res_ = ToBeastResponse(response, false, false);
    Tcp().expires_after(std::chrono::seconds(5));
    bhttp::async_write(stream_, *res_,
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         self->res_.reset();
                         if (ec) return self->Close();
                         beast::error_code ignored;
                         self->Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
                         self->drained_ = 0;
                         self->Drain();
                       });
  }

  void Drain() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (256u << 20)) return self->Close();
                              self->Drain();
                            });
  }

  // The Host and Origin checks (connection_policy.h). Returns why the request is refused, or
  // "" to go on; sets cors_origin_ and preflight_.
  std::string CheckHostAndOrigin(const bhttp::request<bhttp::string_body>& req,
                                 std::string_view raw_path) {
    std::string path(raw_path);  // decoded, as the router sees it
    if (auto parsed = boost::urls::parse_origin_form(req.target())) {
      path = std::string(parsed->path());
    }
    RequestFacts facts;
    std::string method(req.method_string());
    facts.method = method;
    facts.path = path;
    facts.host = std::string_view(req[bhttp::field::host]);
    facts.origin = std::string_view(req[bhttp::field::origin]);
    facts.has_access_control_request_method =
        req.find(bhttp::field::access_control_request_method) != req.end();
    facts.local = local_;
    RequestDecision decision = impl_->policy->Check(facts);
    cors_origin_ = std::move(decision.cors_origin);
    preflight_ = decision.preflight;
    if (decision.refused.empty()) return "";
    return RefuseRequest(decision.refused, std::move(decision.message));
  }

  std::string RefuseRequest(std::string_view reason, std::string message) {
    HttpMetrics::Get().CountRequestRefused(reason);
    if (uint64_t count = impl_->host_log.Note()) {
      spdlog::warn("http: refused {} request(s) by Host/Origin; the last from {}: {}", count,
                   remote_, message);
    }
    return message;
  }

  void StartFramedTail(const FramedTailSubscriber& subscriber) {
    auto request = std::make_shared<HttpRequest>();
    auto beast_request = parser_->release();
    Status status =
        ToHttpRequest(bhttp::request<bhttp::string_body>(beast_request), remote_, request.get());
    request->tls_client = tls_client_;
    if (status.ok() && impl_->options.authorize) {
      status = impl_->options.authorize(request.get(), request->path);  // as any route
    }
    Result<FramedTail> tail = status.ok() ? subscriber(*request) : Result<FramedTail>(status);
    if (!tail.ok()) {
      HttpResponse error;
      error.status = StatusToHttp(tail.status());
      error.content_type = "text/plain; charset=utf-8";
      error.body = tail.status().message() + "\n";
      HttpMetrics::Get().CountRequest(request->path, error.status, 0);
      impl_->in_flight.fetch_add(1);
      keep_alive_ = false;
      return Write(error);
    }
    HttpMetrics::Get().CountRequest(request->path, 101, 0);
    Tcp().expires_never();
    auto ws =
        std::make_shared<WsTail<Stream>>(Handover(std::move(tail->session)), std::move(stream_));
    ws->SetFraming(std::move(tail->initial), std::move(tail->frame));
    ws->Start(std::move(beast_request));
    moved_ = true;
  }

  void StartTail(bool websocket_upgrade) {
    auto request = std::make_shared<HttpRequest>();
    auto beast_request = parser_->release();
    Status status =
        ToHttpRequest(bhttp::request<bhttp::string_body>(beast_request), remote_, request.get());
    request->tls_client = tls_client_;
    if (status.ok() && impl_->options.authorize) {
      status = impl_->options.authorize(request.get(), impl_->options.tail_path);
    }
    Result<std::shared_ptr<tail::TailSession>> session =
        status.ok() ? impl_->subscriber(*request)
                    : Result<std::shared_ptr<tail::TailSession>>(status);
    if (!session.ok()) {
      HttpResponse error = HttpResponse::Error(
          session.status(), ErrorPosition(session.status().message(), request->Query("q")));
      HttpMetrics::Get().CountRequest(impl_->options.tail_path, error.status, 0);
      impl_->in_flight.fetch_add(1);
      keep_alive_ = false;
      return Write(error);
    }
    HttpMetrics::Get().CountRequest(impl_->options.tail_path, websocket_upgrade ? 101 : 200, 0);
    if (impl_->options.audit) {
      // The audit entry is a catalog commit: off the I/O threads.
      net::post(impl_->workers, [impl = impl_, request, code = websocket_upgrade ? 101 : 200] {
        HttpResponse started;
        started.status = code;
        impl->options.audit(*request, impl->options.tail_path, started);
      });
    }
    Tcp().expires_never();
    if (websocket_upgrade) {
      std::make_shared<WsTail<Stream>>(Handover(std::move(*session)), std::move(stream_))
          ->Start(std::move(beast_request));
    } else {
      std::make_shared<SseTail<Stream>>(Handover(std::move(*session)), std::move(stream_))->Start();
    }
    moved_ = true;
  }

  // What a tail connection taking this connection's stream over is made with.
  TailStart Handover(std::shared_ptr<tail::TailSession> session) const {
    return TailStart{impl_, tls_context_, std::move(session), address_key_};
  }

  void Close() {
    if (moved_ || closed_) return;
    closed_ = true;
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

  Impl* impl_;
  std::optional<ConnectionSlot> slot_;         // empty for a refused connection
  std::shared_ptr<ssl::context> tls_context_;  // before stream_: outlives it
  Stream stream_;
  std::string tls_client_;   // the verified client certificate's subject (mTLS), or ""
  Reservation reservation_;  // of the request being read
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<bhttp::response<bhttp::string_body>> res_;
  std::array<char, 64 * 1024> scratch_{};
  std::string remote_;
  net::ip::address local_;  // the server address the connection came in on
  size_t drained_ = 0;
  uint64_t id_ = 0;
  const Refusal refusal_;
  const std::string address_key_;  // for the per-address cap; "" when not capped
  std::string cors_origin_;        // an allowed_origins origin to answer with CORS headers
  bool preflight_ = false;         // the request is a CORS preflight from an allowed origin
  bool idle_ = false;
  bool keep_alive_ = true;
  bool head_ = false;
  bool moved_ = false;  // the socket now belongs to a tail session
  bool closed_ = false;
  bool watching_ = false;  // WatchForDisconnect's wait is pending
};

}  // namespace

void HttpServer::Impl::DoAccept() {
  // "this" outlives every handler: the io_context is a member and is destroyed first.
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: back off instead of spinning.
    auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor(),
                                                     std::chrono::milliseconds(100));
    timer->async_wait([this, timer](beast::error_code) {
      if (acceptor.is_open()) DoAccept();
    });
    return;
  }
  // Runs on the acceptor's strand: counting and admitting cannot interleave.
  beast::error_code remote_ec;
  auto remote = socket.remote_endpoint(remote_ec);
  std::string key = remote_ec ? "" : CapKey(remote.address());
  Refusal refusal = Refusal::kNone;
  if (connections.load() >= options.max_connections) {
    refusal = Refusal::kTotal;
  } else if (!key.empty() && ConnectionsFrom(key) >= options.max_connections_per_address) {
    refusal = Refusal::kPerAddress;
  }
  if (refusal != Refusal::kNone) {
    const char* reason = refusal == Refusal::kTotal ? "max_connections" : "per_address";
    HttpMetrics::Get().CountConnectionRefused(reason);
    if (uint64_t count = refused_log.Note()) {
      spdlog::warn("http: refused {} connection(s) past a connection cap; the last from {} ({})",
                   count, remote_ec ? "?" : remote.address().to_string(), reason);
    }
    // Answering costs a socket for up to 5 s: past a bound, refuse without an answer.
    if (refusing.load() >= 256) {
      beast::error_code ignored;
      socket.close(ignored);
      DoAccept();
      return;
    }
  }
  if (options.tls) {
    // The context current now: a reload (SIGHUP) affects connections accepted after it.
    std::shared_ptr<ssl::context> context = options.tls->Current();
    TlsStream stream(PlainStream(std::move(socket)), *context);
    std::make_shared<HttpConnection<TlsStream>>(this, std::move(stream), std::move(context),
                                                refusal, std::move(key))
        ->Start();
  } else {
    std::make_shared<HttpConnection<PlainStream>>(this, PlainStream(std::move(socket)), nullptr,
                                                  refusal, std::move(key))
        ->Start();
  }
  DoAccept();
}

std::optional<HttpResponse> HttpServer::Impl::Admit(HttpRequest* request,
                                                    Reservation* reservation) {
  const std::string content_encoding = Lower(request->Header("content-encoding"));
  const std::string content_type = Lower(request->Header("content-type"));
  const bool protobuf = content_type.find("protobuf") != std::string::npos;
  // One JSON document (OTLP/JSON, Loki JSON) is parsed into a tree whose nodes take several
  // times their text: it is estimated like protobuf. Native ingestion parses line by line.
  const bool document = protobuf || (content_type.find("json") != std::string::npos &&
                                     content_type.find("nd") == std::string::npos &&
                                     content_type.find("lines") == std::string::npos &&
                                     content_type.find("jsonl") == std::string::npos &&
                                     request->path != "/api/v1/ingest" &&
                                     request->path.find("_bulk") == std::string::npos);
  const uint64_t received = request->body.size();
  // Lines are bounded where a line is a record (NDJSON, text, _bulk, JSON); protobuf decoders
  // bound their records themselves with the same max_request_lines (request->max_records).
  ingest::BodyLimits limits;
  limits.max_bytes = options.max_decoded_bytes;
  limits.max_lines = protobuf ? 0 : options.max_request_lines;
  // The decoded body is reserved as it grows, so that concurrent bombs cannot each hold up to
  // max_decoded_body before any of them is admitted.
  uint64_t wanted = 0;
  limits.admit = [&](size_t bytes, size_t newlines) {
    wanted = EstimateRequestBytes(received, bytes, newlines, document);
    return wanted <= budget.limit() && reservation->GrowTo(wanted);
  };
  ingest::BodyLimitHit hit = ingest::BodyLimitHit::kNone;
  if (!content_encoding.empty() && content_encoding != "identity") {
    auto body = ingest::DecodeBody(request->body, content_encoding, limits, &hit);
    if (body.ok()) {
      request->body = std::move(*body);
    } else if (!body.status().IsResourceExhausted()) {
      return HttpResponse::Error(
          Status::InvalidArgument("cannot decode the body (Content-Encoding: " + content_encoding +
                                  "): " + body.status().message() + "; nothing was stored"));
    }
  } else if (limits.max_lines > 0 && ingest::CountLines(request->body) > limits.max_lines) {
    hit = ingest::BodyLimitHit::kLines;
  }
  if (hit == ingest::BodyLimitHit::kBytes) {
    std::string message = "the decoded request body is larger than the limit of " +
                          HumanBytes(options.max_decoded_bytes) +
                          " (max_decoded_body); split the batch into smaller requests; nothing "
                          "was stored";
    CountIngestRejected("max_decoded_body", message);
    return LimitError(413, message, "max_decoded_body", options.max_decoded_bytes);
  }
  if (hit == ingest::BodyLimitHit::kLines) {
    std::string message = "the request has more than " + std::to_string(limits.max_lines) +
                          " lines (max_request_lines); split the batch into requests of at most " +
                          std::to_string(limits.max_lines) + " lines; nothing was stored";
    CountIngestRejected("max_request_lines", message);
    return LimitError(413, message, "max_request_lines", limits.max_lines);
  }

  request->max_records = options.max_request_lines;
  request->max_decoded_bytes = options.max_decoded_bytes;
  if (request->body.empty()) return std::nullopt;  // nothing to hold (GET, admin calls)

  // What handling it will hold, reserved before the handler holds it.
  uint64_t estimate = wanted;
  if (hit != ingest::BodyLimitHit::kAdmission) {
    uint64_t decoded = request->body.size();
    if (protobuf && content_encoding.empty() && request->path == "/loki/api/v1/push") {
      decoded = std::max<uint64_t>(decoded, ingest::LokiPushDeclaredLength(request->body));
    }
    const uint64_t lines = document ? 0 : ingest::CountLines(request->body);
    estimate = EstimateRequestBytes(received, decoded, lines, document);
  }
  if (estimate > budget.limit()) {
    return TooLargeForMemoryBudget(budget, "this request needs about " + HumanSize(estimate) +
                                               " of memory to ingest, more than");
  }
  if (hit == ingest::BodyLimitHit::kAdmission || !reservation->GrowTo(estimate)) {
    return MemoryBudgetBusy(budget);
  }
  PublishBudget(budget);
  if (options.storage_room) {
    if (std::string why = options.storage_room(estimate); !why.empty()) {
      std::string message = why + "; retry after the Retry-After delay; nothing was stored";
      CountIngestRejected("memtables", message);
      HttpResponse response = HttpResponse::Json(429, ErrorBody(message));
      response.headers.emplace_back("Retry-After", "1");
      return response;
    }
  }
  return std::nullopt;
}

HttpResponse HttpServer::Impl::Handle(HttpRequest* request, Reservation* reservation) {
  auto start = std::chrono::steady_clock::now();
  bool method_not_allowed = false;
  const Handler* handler = router->Find(request->method, request->path, &method_not_allowed);
  HttpResponse response;
  if (handler == nullptr) {
    if (method_not_allowed) {
      response = HttpResponse::Json(
          405, ErrorBody(request->method + " is not allowed on " + request->path));
    } else {
      response = HttpResponse::Error(
          Status::NotFound("no route for " + request->method + " " + request->path));
    }
  } else if (Status denied = options.authorize
                                 ? options.authorize(request, router->PatternOf(handler))
                                 : Status::OK();
             !denied.ok()) {
    response = HttpResponse::Error(denied);
  } else {
    if (std::optional<HttpResponse> refused = Admit(request, reservation)) {
      response = std::move(*refused);
    } else {
      try {
        response = (*handler)(*request);
      } catch (const std::exception& e) {
        response =
            HttpResponse::Error(Status::Internal(std::string("handler failed: ") + e.what()));
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  HttpMetrics::Get().CountRequest(router->PatternOf(handler), response.status, seconds);
  if (handler != nullptr && options.audit) {
    if (response.stream && response.stream_rows) {
      // A streamed answer (an export) is audited when the stream is dropped: finished, failed
      // or its client gone, with the rows it wrote by then (docs/security.md "Audit log").
      struct AuditAtEnd {
        std::function<void(const HttpRequest&, std::string_view, const HttpResponse&)> audit;
        HttpRequest request;
        std::string pattern;
        HttpResponse summary;
        std::shared_ptr<const std::atomic<int64_t>> rows;
        ~AuditAtEnd() {
          summary.rows = rows->load();
          audit(request, pattern, summary);
        }
      };
      auto at_end = std::make_shared<AuditAtEnd>();
      at_end->audit = options.audit;
      at_end->request = *request;
      at_end->pattern = std::string(router->PatternOf(handler));
      at_end->summary.status = response.status;
      at_end->rows = response.stream_rows;
      response.stream = [inner = std::move(response.stream),
                         at_end = std::move(at_end)](std::string* chunk) { return inner(chunk); };
    } else {
      options.audit(*request, router->PatternOf(handler), response);
    }
  }
  return response;
}

HttpServer::HttpServer(HttpServerOptions options, const Router* router, TailSubscriber subscriber)
    : impl_(std::make_shared<Impl>(std::move(options), router, std::move(subscriber))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  auto exempt = NetworkList::Parse(impl_->options.connection_cap_exempt);
  if (!exempt.ok()) return exempt.status().WithContext("connection_cap_exempt");
  impl_->cap_exempt = std::move(*exempt);
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.address, ec);
  if (ec) {
    return Status::InvalidArgument("--http: '" + impl_->options.address +
                                   "' is not an IP address: " + ec.message());
  }
  tcp::endpoint endpoint(address, impl_->options.port);
  auto fail = [&](const char* what) {
    return Status::Unavailable(std::string("cannot ") + what + " " + impl_->options.address + ":" +
                               std::to_string(impl_->options.port) + ": " + ec.message());
  };
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  impl_->acceptor.bind(endpoint, ec);
  if (ec) return fail("listen on");
  impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  const bool loopback =
      address.is_loopback() ||
      (address.is_v6() && address.to_v6().is_v4_mapped() &&
       net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback());
  impl_->policy.emplace(impl_->options.allowed_hosts, impl_->options.allowed_origins,
                        impl_->options.tail_path, impl_->acceptor.local_endpoint().port(),
                        loopback);
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->DoAccept();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      NameThisThread("sawmill-http-io");
      impl->ioc.run();
    });
  }
  return Status::OK();
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::StopAccepting() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->threads.empty()) {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  } else {
    std::promise<void> done;
    net::post(impl_->acceptor.get_executor(), [impl = impl_.get(), &done] {
      beast::error_code ignored;
      impl->acceptor.close(ignored);
      done.set_value();
    });
    done.get_future().wait();
  }
  for (auto& item : impl_->Live()) item->OnStopAccepting();
}

bool HttpServer::WaitIdle(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (impl_->in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::CloseTailSessions(int timeout_ms) {
  for (auto& item : impl_->Live()) {
    if (item->is_tail()) item->OnCloseTail();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (impl_->tail_sessions.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void HttpServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->stopping.store(true);
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  impl_->workers.join();
}

size_t HttpServer::connections() const { return impl_->connections.load(); }
size_t HttpServer::in_flight() const { return impl_->in_flight.load(); }

}  // namespace sawmill::http
