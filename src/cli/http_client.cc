#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>

namespace sawmill::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Result<ServerUrl> ServerUrl::Parse(std::string_view url) {
  ServerUrl out;
  std::string_view rest = url;
  if (rest.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("--server " + std::string(url) +
                                   ": https is not supported by this client; use http:// (put "
                                   "a TLS-terminating proxy in front for remote servers)");
  }
  if (rest.rfind("http://", 0) == 0) rest.remove_prefix(7);
  if (rest.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("--server " + std::string(url) + ": expected http://HOST:PORT");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    out.prefix = std::string(prefix);
  }
  std::string_view host = authority;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:9640
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("--server " + std::string(url) + ": unterminated '['");
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Status::InvalidArgument("--server " + std::string(url) + ": expected ':' after ']'");
      }
      out.port = std::string(after.substr(1));
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    out.port = std::string(authority.substr(colon + 1));
  }
  if (host.empty()) {
    return Status::InvalidArgument("--server " + std::string(url) + ": no host");
  }
  if (out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(out.port) == 0 ||
      std::stoi(out.port) > 65535) {
    return Status::InvalidArgument("--server " + std::string(url) + ": bad port '" + out.port +
                                   "'");
  }
  out.host = std::string(host);
  return out;
}

std::string ServerUrl::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + port + prefix;
}

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3 / 2);
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string HttpResult::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

std::string ErrorText(const HttpResult& result) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result.body, ec);
  if (!ec && v.is_object()) {
    if (const boost::json::value* e = v.as_object().if_contains("error"); e && e->is_string()) {
      return std::string(e->as_string());
    }
  }
  std::string text = result.body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) text = "(empty body)";
  return text;
}

namespace {

std::string EndpointText(const ServerUrl& s) { return s.host + ":" + s.port; }

// Runs the io_context until "*done" is set by the pending operation's handler. run() would not
// do: the WebSocket keeps an idle timer armed, so the context never runs out of work.
void RunUntil(net::io_context& ioc, const bool* done) {
  ioc.restart();
  while (!*done) {
    if (ioc.run_one() == 0) break;  // nothing left to run: the handler will not come
  }
}

std::vector<std::pair<std::string, std::string>> CollectHeaders(
    const bhttp::response<bhttp::string_body>& res) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    out.emplace_back(std::move(name), std::string(field.value()));
  }
  return out;
}

}  // namespace

std::string ConnectError(const ServerUrl& server, std::string_view reason) {
  return "cannot connect to " + server.ToString() + ": " + std::string(reason) +
         " (is `sawmill server` running there? Another address: --server http://HOST:PORT or "
         "SAWMILL_SERVER=http://HOST:PORT)";
}

namespace {

// Resolves and connects "stream" within the timeout.
beast::error_code ConnectStream(net::io_context& ioc, const ServerUrl& server,
                                beast::tcp_stream& stream, std::chrono::milliseconds timeout) {
  tcp::resolver resolver(ioc);
  beast::error_code result;
  bool done = false;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(server.host, server.port,
                         [&](beast::error_code ec, tcp::resolver::results_type r) {
                           result = ec;
                           endpoints = std::move(r);
                           done = true;
                         });
  RunUntil(ioc, &done);
  if (result) return result;
  done = false;
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    result = ec;
    done = true;
  });
  RunUntil(ioc, &done);
  if (!result) stream.socket().set_option(tcp::no_delay(true));
  return result;
}

}  // namespace

struct HttpClient::Impl {
  ServerUrl server;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void Drop() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.reset();
    }
    buffer.clear();
  }

  // One attempt on the current (or a new) connection. "*retryable" is set when the failure
  // happened on a reused connection before any response byte, which a keep-alive race causes.
  Result<HttpResult> Attempt(const bhttp::request<bhttp::string_body>& req, bool* retryable) {
    *retryable = false;
    bool reused = stream.has_value();
    if (!stream) {
      stream.emplace(ioc);
      if (beast::error_code ec = ConnectStream(ioc, server, *stream, timeout)) {
        Drop();
        return Status::Unavailable(ConnectError(server, ec.message()));
      }
    }
    beast::error_code result;
    bool done = false;
    stream->expires_after(timeout);
    bhttp::async_write(*stream, req, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    RunUntil(ioc, &done);
    if (result) {
      Drop();
      *retryable = reused;
      return Status::Unavailable("sending to " + EndpointText(server) +
                                 " failed: " + result.message());
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256ull << 20);
    done = false;
    stream->expires_after(timeout);
    bhttp::async_read(*stream, buffer, parser, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    RunUntil(ioc, &done);
    if (result) {
      Drop();
      *retryable = reused && (result == bhttp::error::end_of_stream ||
                              result == net::error::connection_reset || result == net::error::eof);
      std::string why = result == beast::error::timeout
                            ? "no answer within " + std::to_string(timeout.count() / 1000) + " s"
                            : result.message();
      return Status::Unavailable("reading the answer from " + EndpointText(server) +
                                 " failed: " + why);
    }
    bhttp::response<bhttp::string_body> res = parser.release();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.headers = CollectHeaders(res);
    out.body = std::move(res.body());
    if (!res.keep_alive()) Drop();
    return out;
  }
};

HttpClient::HttpClient(ServerUrl server, int timeout_ms) : impl_(std::make_unique<Impl>()) {
  impl_->server = std::move(server);
  impl_->timeout = std::chrono::milliseconds(timeout_ms);
}

HttpClient::~HttpClient() { impl_->Drop(); }

Result<HttpResult> HttpClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(std::string(method));
  req.target(impl_->server.prefix + std::string(target));
  req.version(11);
  req.set(bhttp::field::host, impl_->server.host + ":" + impl_->server.port);
  req.set(bhttp::field::user_agent, "sawmill-cli/" SAWMILL_VERSION);
  req.keep_alive(true);
  if (!impl_->server.tenant.empty()) req.set("X-Scope-OrgID", impl_->server.tenant);
  if (!impl_->server.token.empty()) {
    req.set(bhttp::field::authorization, "Bearer " + impl_->server.token);
  }
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::string(body);
  req.prepare_payload();
  bool retryable = false;
  Result<HttpResult> result = impl_->Attempt(req, &retryable);
  if (!result.ok() && retryable) result = impl_->Attempt(req, &retryable);
  return result;
}

struct WebSocketClient::Impl {
  net::io_context ioc;
  std::optional<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
};

WebSocketClient::WebSocketClient() : impl_(std::make_unique<Impl>()) {}
WebSocketClient::~WebSocketClient() { Close(); }

Status WebSocketClient::Connect(const ServerUrl& server, std::string_view target, int timeout_ms) {
  Close();
  impl_->ws.emplace(impl_->ioc);
  auto& ws = *impl_->ws;
  if (beast::error_code ec = ConnectStream(impl_->ioc, server, beast::get_lowest_layer(ws),
                                           std::chrono::milliseconds(timeout_ms))) {
    impl_->ws.reset();
    return Status::Unavailable(ConnectError(server, ec.message()));
  }
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::milliseconds(timeout_ms);
  // The server pings; a server silent for this long is gone (half of it triggers our own ping).
  timeouts.idle_timeout = std::chrono::seconds(90);
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator(
      [tenant = server.tenant, token = server.token](websocket::request_type& req) {
        req.set(bhttp::field::user_agent, "sawmill-cli/" SAWMILL_VERSION);
        if (!tenant.empty()) req.set("X-Scope-OrgID", tenant);
        if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
      }));
  websocket::response_type res;
  beast::error_code result;
  bool done = false;
  ws.async_handshake(res, server.host + ":" + server.port, server.prefix + std::string(target),
                     [&](beast::error_code ec) {
                       result = ec;
                       done = true;
                     });
  RunUntil(impl_->ioc, &done);
  if (result) {
    impl_->ws.reset();
    if (res.result_int() != 0 && res.result_int() != 101) {
      HttpResult http;
      http.status = static_cast<int>(res.result_int());
      http.body = res.body();
      std::string text =
          "server refused the live tail (" + std::to_string(http.status) + "): " + ErrorText(http);
      if (http.status == 400 || http.status == 404) return Status::InvalidArgument(text);
      if (http.status == 429) return Status::ResourceExhausted(text);
      return Status::Unavailable(text);
    }
    return Status::Unavailable("WebSocket handshake with " + server.ToString() +
                               " failed: " + result.message());
  }
  return Status::OK();
}

Result<std::optional<std::string>> WebSocketClient::Read(std::string* reason) {
  if (!impl_->ws) return Status::Unavailable("not connected");
  auto& ws = *impl_->ws;
  impl_->buffer.clear();
  beast::error_code result;
  bool done = false;
  ws.async_read(impl_->buffer, [&](beast::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  RunUntil(impl_->ioc, &done);
  if (result == websocket::error::closed) {
    if (reason != nullptr)
      *reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
    impl_->ws.reset();
    return std::optional<std::string>();
  }
  if (result) {
    impl_->ws.reset();
    std::string why =
        result == beast::error::timeout ? "the server stopped answering pings" : result.message();
    return Status::Unavailable("live tail connection lost: " + why);
  }
  return std::optional<std::string>(beast::buffers_to_string(impl_->buffer.data()));
}

void WebSocketClient::Close() {
  if (!impl_->ws) return;
  beast::error_code ignored;
  beast::get_lowest_layer(*impl_->ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->ws.reset();
}

}  // namespace sawmill::cli
