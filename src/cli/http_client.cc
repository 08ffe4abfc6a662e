#include "cli/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

namespace sawmill::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

Result<ServerUrl> ServerUrl::Parse(std::string_view url) {
  ServerUrl out;
  std::string_view rest = url;
  if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
    out.https = true;
    out.port = "443";
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  }
  if (rest.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("--server " + std::string(url) +
                                   ": expected http://HOST:PORT or https://HOST:PORT");
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
  return (https ? "https://" : "http://") + h + ":" + port + prefix;
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

// The client's TLS context for "server": the CAs that verify it (ca_file, else the system's),
// the client certificate if any. Errors: InvalidArgument naming the option and file.
Result<std::shared_ptr<ssl::context>> MakeClientContext(const ServerUrl& server) {
  const ClientTlsOptions& options = server.tls;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  auto readable = [](const char* option, const std::string& path) -> Status {
    std::ifstream in(path);
    if (in) return Status::OK();
    return Status::InvalidArgument(std::string(option) + " " + path +
                                   ": cannot read it: " + std::strerror(errno));
  };
  if (options.insecure_skip_verify) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      std::fprintf(stderr,
                   "sawmill: warning: --insecure-skip-verify: the certificate of %s is not "
                   "checked; anyone on the way can read and change this traffic\n",
                   server.ToString().c_str());
    });
    context->set_verify_mode(ssl::verify_none);
  } else {
    if (!options.ca_file.empty()) {
      RETURN_IF_ERROR(readable("--ca-file", options.ca_file));
      context->load_verify_file(options.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("--ca-file " + options.ca_file +
                                       ": not PEM certificates: " + ec.message());
      }
    } else {
      context->set_default_verify_paths(ec);  // the system's CAs (/etc/ssl/certs)
    }
    context->set_verify_mode(ssl::verify_peer);
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::InvalidArgument("--client-cert and --client-key go together");
  }
  if (!options.cert_file.empty()) {
    RETURN_IF_ERROR(readable("--client-cert", options.cert_file));
    RETURN_IF_ERROR(readable("--client-key", options.key_file));
    context->use_certificate_chain_file(options.cert_file, ec);
    if (ec) {
      return Status::InvalidArgument("--client-cert " + options.cert_file +
                                     ": not a PEM certificate: " + ec.message());
    }
    context->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (!ec && SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return Status::InvalidArgument("--client-key " + options.key_file +
                                     " does not belong to --client-cert " + options.cert_file);
    }
    if (ec) {
      return Status::InvalidArgument("--client-key " + options.key_file +
                                     ": not an unencrypted PEM private key: " + ec.message());
    }
  }
  return context;
}

// A hint for a TLS error the server caused by asking for a client certificate.
std::string ClientCertHint(const ServerUrl& server, const beast::error_code& ec) {
  if (ec.category() != net::error::get_ssl_category()) return "";
  const std::string text = ec.message();
  if (text.find("certificate required") == std::string::npos &&
      text.find("handshake failure") == std::string::npos &&
      text.find("unknown ca") == std::string::npos &&
      text.find("bad certificate") == std::string::npos) {
    return "";
  }
  return server.tls.cert_file.empty()
             ? " (the server asks for a client certificate: --client-cert FILE --client-key "
               "FILE)"
             : " (the server did not accept the client certificate " + server.tls.cert_file + ")";
}

// Sets the name the server is asked for (SNI) and checked against, then shakes hands within
// the timeout. Errors: Unavailable saying what failed, with what to do about it.
Status HandshakeTls(net::io_context& ioc, const ServerUrl& server, TlsStream& stream,
                    std::chrono::milliseconds timeout) {
  SSL* ssl_handle = stream.native_handle();
  beast::error_code ec;
  const bool ip = (net::ip::make_address(server.host, ec), !ec);
  if (!ip) SSL_set_tlsext_host_name(ssl_handle, server.host.c_str());
  if (!server.tls.insecure_skip_verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, server.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, server.host.c_str(), 0);
    }
  }
  beast::error_code result;
  bool done = false;
  beast::get_lowest_layer(stream).expires_after(timeout);
  stream.async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
    result = hec;
    done = true;
  });
  RunUntil(ioc, &done);
  if (!result) return Status::OK();
  const long verify = SSL_get_verify_result(ssl_handle);
  if (verify != X509_V_OK && !server.tls.insecure_skip_verify) {
    std::string why = X509_verify_cert_error_string(verify);
    std::string what;
    switch (verify) {
      case X509_V_ERR_CERT_HAS_EXPIRED: what = "the server's certificate has expired"; break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        what = "the server's certificate is not valid yet (check the clocks)";
        break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        what = "the server's certificate is not for " + server.host +
               " (connect with a name or address it lists)";
        break;
      default:
        what = "the server's certificate is not signed by a CA this client trusts (" +
               (server.tls.ca_file.empty() ? std::string("the system's CAs; --ca-file FILE names "
                                                         "the CA that signed it")
                                           : "--ca-file " + server.tls.ca_file) +
               ")";
    }
    return Status::Unavailable("TLS: cannot verify " + server.ToString() + ": " + what + " [" +
                               why + "]; --insecure-skip-verify skips the check (unsafe)");
  }
  if (result == beast::error::timeout) {
    return Status::Unavailable("TLS handshake with " + server.ToString() + ": no answer within " +
                               std::to_string(timeout.count() / 1000) + " s");
  }
  std::string text = result.message();
  if (result == net::ssl::error::stream_truncated || result == net::error::eof ||
      text.find("wrong version number") != std::string::npos ||
      text.find("packet length too long") != std::string::npos) {
    text += " (is the server serving https? For a plain server use http://)";
  }
  return Status::Unavailable("TLS handshake with " + server.ToString() + " failed: " + text +
                             ClientCertHint(server, result));
}

}  // namespace

struct HttpClient::Impl {
  ServerUrl server;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::shared_ptr<ssl::context> tls_context;  // https:// only, made at the first connect
  // The connection: "stream" for http://, "tls_stream" for https://, neither when closed.
  std::optional<beast::tcp_stream> stream;
  std::optional<TlsStream> tls_stream;
  beast::flat_buffer buffer;

  bool connected() const { return stream.has_value() || tls_stream.has_value(); }
  beast::tcp_stream& Tcp() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *stream; }
  // Calls f(stream) with the connection's stream.
  template <class F>
  void Visit(F&& f) {
    if (tls_stream) {
      f(*tls_stream);
    } else {
      f(*stream);
    }
  }

  void Drop() {
    if (connected()) {
      beast::error_code ignored;
      Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.reset();
      tls_stream.reset();
    }
    buffer.clear();
  }

  Status Connect() {
    beast::tcp_stream tcp_stream(ioc);
    if (beast::error_code ec = ConnectStream(ioc, server, tcp_stream, timeout)) {
      return Status::Unavailable(ConnectError(server, ec.message()));
    }
    if (!server.https) {
      stream.emplace(std::move(tcp_stream));
      return Status::OK();
    }
    if (!tls_context) {
      ASSIGN_OR_RETURN(tls_context, MakeClientContext(server));
    }
    tls_stream.emplace(std::move(tcp_stream), *tls_context);
    Status shaken = HandshakeTls(ioc, server, *tls_stream, timeout);
    if (!shaken.ok()) Drop();
    return shaken;
  }

  // One attempt on the current (or a new) connection. "*retryable" is set when the failure
  // happened on a reused connection before any response byte, which a keep-alive race causes.
  Result<HttpResult> Attempt(const bhttp::request<bhttp::string_body>& req, bool* retryable) {
    *retryable = false;
    bool reused = connected();
    if (!reused) RETURN_IF_ERROR(Connect());
    beast::error_code result;
    bool done = false;
    Tcp().expires_after(timeout);
    Visit([&](auto& s) {
      bhttp::async_write(s, req, [&](beast::error_code ec, size_t) {
        result = ec;
        done = true;
      });
    });
    RunUntil(ioc, &done);
    if (result) {
      Drop();
      *retryable = reused;
      return Status::Unavailable("sending to " + EndpointText(server) +
                                 " failed: " + result.message() + ClientCertHint(server, result));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256ull << 20);
    done = false;
    Tcp().expires_after(timeout);
    Visit([&](auto& s) {
      bhttp::async_read(s, buffer, parser, [&](beast::error_code ec, size_t) {
        result = ec;
        done = true;
      });
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
                                 " failed: " + why + ClientCertHint(server, result));
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
  std::shared_ptr<ssl::context> tls_context;
  // "ws" for http://, "wss" for https://, neither when closed.
  std::optional<websocket::stream<beast::tcp_stream>> ws;
  std::optional<websocket::stream<TlsStream>> wss;
  beast::flat_buffer buffer;

  bool connected() const { return ws.has_value() || wss.has_value(); }
  template <class F>
  void Visit(F&& f) {
    if (wss) {
      f(*wss);
    } else {
      f(*ws);
    }
  }
  void Reset() {
    ws.reset();
    wss.reset();
  }
};

WebSocketClient::WebSocketClient() : impl_(std::make_unique<Impl>()) {}
WebSocketClient::~WebSocketClient() { Close(); }

Status WebSocketClient::Connect(const ServerUrl& server, std::string_view target, int timeout_ms) {
  Close();
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  if (server.https) {
    if (!impl_->tls_context) {
      ASSIGN_OR_RETURN(impl_->tls_context, MakeClientContext(server));
    }
    impl_->wss.emplace(impl_->ioc, *impl_->tls_context);
  } else {
    impl_->ws.emplace(impl_->ioc);
  }
  Status status = Status::OK();
  impl_->Visit([&](auto& ws) {
    if (beast::error_code ec =
            ConnectStream(impl_->ioc, server, beast::get_lowest_layer(ws), timeout)) {
      status = Status::Unavailable(ConnectError(server, ec.message()));
      return;
    }
    if constexpr (!std::is_same_v<std::decay_t<decltype(ws.next_layer())>, beast::tcp_stream>) {
      status = HandshakeTls(impl_->ioc, server, ws.next_layer(), timeout);
    }
  });
  if (!status.ok()) {
    impl_->Reset();
    return status;
  }
  impl_->Visit([&](auto& ws) {
    beast::get_lowest_layer(ws).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = timeout;
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
    if (!result) return;
    if (res.result_int() != 0 && res.result_int() != 101) {
      HttpResult http;
      http.status = static_cast<int>(res.result_int());
      http.body = res.body();
      std::string text =
          "server refused the live tail (" + std::to_string(http.status) + "): " + ErrorText(http);
      if (http.status == 400 || http.status == 404) {
        status = Status::InvalidArgument(text);
      } else if (http.status == 429) {
        status = Status::ResourceExhausted(text);
      } else {
        status = Status::Unavailable(text);
      }
      return;
    }
    status = Status::Unavailable("WebSocket handshake with " + server.ToString() +
                                 " failed: " + result.message() + ClientCertHint(server, result));
  });
  if (!status.ok()) impl_->Reset();
  return status;
}

Result<std::optional<std::string>> WebSocketClient::Read(std::string* reason) {
  if (!impl_->connected()) return Status::Unavailable("not connected");
  impl_->buffer.clear();
  beast::error_code result;
  std::string close_reason;
  impl_->Visit([&](auto& ws) {
    bool done = false;
    ws.async_read(impl_->buffer, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    RunUntil(impl_->ioc, &done);
    close_reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
  });
  if (result == websocket::error::closed) {
    if (reason != nullptr) *reason = close_reason;
    impl_->Reset();
    return std::optional<std::string>();
  }
  if (result) {
    impl_->Reset();
    std::string why =
        result == beast::error::timeout ? "the server stopped answering pings" : result.message();
    return Status::Unavailable("live tail connection lost: " + why);
  }
  return std::optional<std::string>(beast::buffers_to_string(impl_->buffer.data()));
}

void WebSocketClient::Close() {
  if (!impl_->connected()) return;
  impl_->Visit([](auto& ws) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
  });
  impl_->Reset();
}

}  // namespace sawmill::cli
