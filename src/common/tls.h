// Server-side TLS (docs/security.md "TLS"): the certificate, key and client-certificate settings
// of the HTTPS and syslog-over-TLS listeners, loaded from PEM files into an OpenSSL context that
// Reload() replaces (SIGHUP) while connections that began on the old one keep it. Both
// listeners take Current() for each new connection, so one reload serves both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "sawmill/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

typedef struct ssl_st SSL;

namespace sawmill::tls {

// What a listener asks of clients' certificates (mTLS): off (none asked for), optional (asked
// for; one presented must chain to client_ca_file, none is fine), require (a client without a
// valid certificate fails the handshake).
enum class ClientAuth { kOff, kOptional, kRequire };

// "off", "optional", "require". Errors: InvalidArgument naming the value.
Result<ClientAuth> ParseClientAuth(std::string_view text);
std::string_view ClientAuthName(ClientAuth mode);

struct ServerTlsOptions {
  std::string cert_file;  // PEM: the server's certificate, then any intermediates
  std::string key_file;   // PEM: its private key (unencrypted)
  // PEM: the CAs client certificates must chain to; required unless client_auth is kOff.
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kOff;
};

// Thread-safe.
class ServerTls {
 public:
  // Loads the files. Errors: InvalidArgument naming the file (option) and OpenSSL's reason (no
  // such file, not PEM, the key does not match the certificate, a client mode without a CA).
  static Result<std::shared_ptr<ServerTls>> Create(ServerTlsOptions options);

  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // Reads the same files again into a new context. On an error the current context stays (the
  // listeners go on serving the old certificate) and the error is returned; either way the
  // outcome is counted in sawmill_tls_reloads_total{result}.
  Status Reload();

  // The context new connections use. Never null. A connection keeps the pointer it got for its
  // whole life, so a reload never disturbs it.
  std::shared_ptr<boost::asio::ssl::context> Current() const;

  const ServerTlsOptions& options() const { return options_; }
  // The loaded certificate: "subject, valid until RFC 3339 time" for log lines.
  std::string Describe() const;

 private:
  explicit ServerTls(ServerTlsOptions options);

  const ServerTlsOptions options_;
  mutable Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_ GUARDED_BY(mu_);
  std::string description_ GUARDED_BY(mu_);
};

// The subject of the client certificate the handshake of "ssl" verified, as one line
// ("CN=agent-1,O=Example"); "" when the client presented none.
std::string PeerSubject(SSL* ssl);

// Counts a failed handshake in sawmill_tls_handshake_failures_total{listener, reason};
// "reason" is one of "timeout", "plain_text" (the client spoke no TLS), "error".
void CountHandshakeFailure(std::string_view listener, std::string_view reason);

}  // namespace sawmill::tls
