// A small blocking HTTP/1.1 and WebSocket client for the command-line clients (ingest, search,
// tail, admin). Beast stays in http_client.cc so that the commands compile fast.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::cli {

inline constexpr char kDefaultServer[] = "http://127.0.0.1:9640";

// How the client checks an https:// server (docs/security.md "TLS"): the server's certificate
// must chain to a CA of ca_file (PEM), or of the system's store when ca_file is empty, and name
// the host of the URL; insecure_skip_verify turns both checks off (a warning is printed).
// cert_file and key_file: the client's own certificate for a server that asks for one (mTLS).
struct ClientTlsOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
};

// "http://host:port[/prefix]" or "https://...". Errors: InvalidArgument naming what is wrong
// (another scheme, no host, a bad port).
struct ServerUrl {
  bool https = false;
  std::string host;
  std::string port = "80";  // 443 for https://
  std::string prefix;       // path prefix without a trailing '/', usually empty
  // The tenant sent as X-Scope-OrgID (--tenant, SAWMILL_TENANT); "": the server's default.
  // Not part of the URL's text.
  std::string tenant;
  // API token sent as "Authorization: Bearer ..." (--token, SAWMILL_TOKEN); "": none. Not part
  // of the URL's text.
  std::string token;
  // Used with https:// only (--ca-file, --insecure-skip-verify, --client-cert, --client-key).
  ClientTlsOptions tls;

  static Result<ServerUrl> Parse(std::string_view url);
  std::string ToString() const;
};

// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
std::string UrlEncode(std::string_view value);

struct HttpResult {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  std::string Header(std::string_view lower_name) const;
};

// "cannot connect to http://127.0.0.1:9640: Connection refused (is `sawmill server` running
// there? Another address: --server http://HOST:PORT or SAWMILL_SERVER=http://HOST:PORT)".
std::string ConnectError(const ServerUrl& server, std::string_view reason);

// The "error" of a Sawmill JSON error body, or a short excerpt of any other body.
std::string ErrorText(const HttpResult& result);

// One keep-alive connection, reopened when the server closed it. Not thread-safe.
class HttpClient {
 public:
  HttpClient(ServerUrl server, int timeout_ms);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // "target" is the path and query ("/api/v1/search?q=..."), without the prefix.
  // Errors: Unavailable when the server cannot be reached or the connection broke (with the
  // reason); an HTTP error status is not an error here, it is in the result.
  Result<HttpResult> Request(std::string_view method, std::string_view target,
                             std::string_view body = {},
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A WebSocket client for the live tail. Not thread-safe.
class WebSocketClient {
 public:
  WebSocketClient();
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Errors: Unavailable (cannot connect), or the server's refusal of the upgrade: the code its
  // HTTP status maps to (400 InvalidArgument, 429 ResourceExhausted, 503 Unavailable) and the
  // server's error text.
  Status Connect(const ServerUrl& server, std::string_view target, int timeout_ms);
  // The next text message; nullopt when the server closed the session (with "*reason" set to the
  // close reason, if any). Errors: Unavailable when the connection broke.
  Result<std::optional<std::string>> Read(std::string* reason);
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::cli
