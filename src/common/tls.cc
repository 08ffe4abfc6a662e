#include "common/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "common/metrics.h"
#include "common/time_format.h"

namespace sawmill::tls {

namespace ssl = boost::asio::ssl;

namespace {

struct TlsMetrics {
  prometheus::Family<prometheus::Counter>* reloads;
  prometheus::Family<prometheus::Counter>* handshake_failures;
  prometheus::Family<prometheus::Gauge>* expiry;

  static TlsMetrics& Get() {
    static TlsMetrics* metrics = [] {
      auto& registry = MetricsRegistry();
      return new TlsMetrics{
          &prometheus::BuildCounter()
               .Name("sawmill_tls_reloads_total")
               .Help("Reloads of the TLS certificate and key (SIGHUP), by result (ok, error)")
               .Register(registry),
          &prometheus::BuildCounter()
               .Name("sawmill_tls_handshake_failures_total")
               .Help("TLS handshakes that failed, by listener (http, syslog) and reason: timeout "
                     "(no handshake within tls_handshake_timeout), plain_text (the client spoke "
                     "no TLS), error (a bad or missing certificate, no common protocol, ...)")
               .Register(registry),
          &prometheus::BuildGauge()
               .Name("sawmill_tls_certificate_expiry_timestamp_seconds")
               .Help("When the served certificate expires (Unix time), by certificate file")
               .Register(registry)};
    }();
    return *metrics;
  }
};

// The queued OpenSSL errors as one line (and the queue emptied); "unknown error" if none.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    if (!out.empty()) out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed": the part after the codes.
    std::string_view line(text);
    size_t colon = line.rfind(':');
    out += colon == std::string_view::npos ? line : line.substr(colon + 1);
  }
  return out.empty() ? "unknown error" : out;
}

// The file must be readable: OpenSSL's own message for a missing file names no file.
Status CheckReadable(std::string_view option, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(std::string(option) + " is not set");
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument(std::string(option) + " " + path +
                                   ": cannot read it: " + std::strerror(errno));
  }
  return Status::OK();
}

int NoPassword(char*, int, int, void*) { return 0; }  // never prompts on a terminal

// Seconds since the epoch of an ASN.1 time; 0 if it cannot be read.
int64_t ToUnixSeconds(const ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string NameLine(X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(std::max(0L, size)));
  BIO_free(bio);
  return out;
}

struct Loaded {
  std::shared_ptr<ssl::context> context;
  std::string description;
  int64_t not_after = 0;
};

Result<Loaded> Load(const ServerTlsOptions& options) {
  RETURN_IF_ERROR(CheckReadable("tls_cert", options.cert_file));
  RETURN_IF_ERROR(CheckReadable("tls_key", options.key_file));
  if (options.client_auth != ClientAuth::kOff) {
    if (options.client_ca_file.empty()) {
      return Status::InvalidArgument(
          "tls_client_auth is " + std::string(ClientAuthName(options.client_auth)) +
          " but tls_client_ca is not set: client certificates are checked against it");
    }
    RETURN_IF_ERROR(CheckReadable("tls_client_ca", options.client_ca_file));
  } else if (!options.client_ca_file.empty()) {
    return Status::InvalidArgument(
        "tls_client_ca is set but tls_client_auth is off: set tls_client_auth to optional or "
        "require to ask clients for certificates");
  }
  Loaded out;
  try {
    out.context = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot create a TLS context: ") + e.what());
  }
  SSL_CTX* ctx = out.context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(ctx, NoPassword);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return Status::InvalidArgument("tls_cert " + options.cert_file +
                                   ": not a PEM certificate: " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string why = OpenSslErrors();
    if (why.find("key values mismatch") != std::string::npos) {
      return Status::InvalidArgument("tls_key " + options.key_file +
                                     " does not belong to the certificate in tls_cert " +
                                     options.cert_file);
    }
    return Status::InvalidArgument("tls_key " + options.key_file +
                                   ": not an unencrypted PEM private key: " + why);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("tls_key " + options.key_file +
                                   " does not belong to the certificate in tls_cert " +
                                   options.cert_file + ": " + OpenSslErrors());
  }
  if (options.client_auth != ClientAuth::kOff) {
    if (SSL_CTX_load_verify_locations(ctx, options.client_ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("tls_client_ca " + options.client_ca_file +
                                     ": not PEM certificates: " + OpenSslErrors());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (options.client_auth == ClientAuth::kRequire) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
    SSL_CTX_set_verify_depth(ctx, 8);
  }
  // Resumed sessions must carry the same client verification: OpenSSL refuses to resume a
  // session of a context that verifies clients unless it has an id context.
  static const unsigned char kSessionContext[] = "sawmill";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);

  X509* cert = SSL_CTX_get0_certificate(ctx);
  out.not_after = cert == nullptr ? 0 : ToUnixSeconds(X509_get0_notAfter(cert));
  out.description =
      (cert == nullptr ? std::string("?") : NameLine(X509_get_subject_name(cert))) +
      ", valid until " +
      (out.not_after == 0 ? std::string("?") : FormatRfc3339(out.not_after * 1'000'000'000));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (out.not_after != 0 && out.not_after < now) {
    spdlog::warn(
        "tls: the certificate in {} expired at {}: clients that verify it will refuse to "
        "connect; replace the files and send SIGHUP",
        options.cert_file, FormatRfc3339(out.not_after * 1'000'000'000));
  } else if (out.not_after != 0 && out.not_after < now + 14 * 86400) {
    spdlog::warn("tls: the certificate in {} expires at {}, in less than 14 days",
                 options.cert_file, FormatRfc3339(out.not_after * 1'000'000'000));
  }
  return out;
}

}  // namespace

Result<ClientAuth> ParseClientAuth(std::string_view text) {
  if (text == "off" || text.empty()) return ClientAuth::kOff;
  if (text == "optional") return ClientAuth::kOptional;
  if (text == "require") return ClientAuth::kRequire;
  return Status::InvalidArgument("tls_client_auth: expected off, optional or require, got '" +
                                 std::string(text) + "'");
}

std::string_view ClientAuthName(ClientAuth mode) {
  switch (mode) {
    case ClientAuth::kOff: return "off";
    case ClientAuth::kOptional: return "optional";
    case ClientAuth::kRequire: return "require";
  }
  return "off";
}

ServerTls::ServerTls(ServerTlsOptions options) : options_(std::move(options)) {}
ServerTls::~ServerTls() = default;

Result<std::shared_ptr<ServerTls>> ServerTls::Create(ServerTlsOptions options) {
  ASSIGN_OR_RETURN(Loaded loaded, Load(options));
  std::shared_ptr<ServerTls> tls(new ServerTls(std::move(options)));
  {
    MutexLock lock(&tls->mu_);
    tls->current_ = std::move(loaded.context);
    tls->description_ = std::move(loaded.description);
  }
  TlsMetrics::Get()
      .expiry->Add({{"file", tls->options_.cert_file}})
      .Set(static_cast<double>(loaded.not_after));
  return tls;
}

Status ServerTls::Reload() {
  Result<Loaded> loaded = Load(options_);
  if (!loaded.ok()) {
    TlsMetrics::Get().reloads->Add({{"result", "error"}}).Increment();
    return loaded.status();
  }
  TlsMetrics::Get()
      .expiry->Add({{"file", options_.cert_file}})
      .Set(static_cast<double>(loaded->not_after));
  TlsMetrics::Get().reloads->Add({{"result", "ok"}}).Increment();
  MutexLock lock(&mu_);
  current_ = std::move(loaded->context);
  description_ = std::move(loaded->description);
  return Status::OK();
}

std::shared_ptr<ssl::context> ServerTls::Current() const {
  MutexLock lock(&mu_);
  return current_;
}

std::string ServerTls::Describe() const {
  MutexLock lock(&mu_);
  return description_;
}

std::string PeerSubject(SSL* ssl) {
  if (ssl == nullptr) return "";
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) return "";
  return NameLine(X509_get_subject_name(peer));
}

void CountHandshakeFailure(std::string_view listener, std::string_view reason) {
  TlsMetrics::Get()
      .handshake_failures
      ->Add({{"listener", std::string(listener)}, {"reason", std::string(reason)}})
      .Increment();
}

}  // namespace sawmill::tls
