#include "agent/http_sender.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <mutex>

namespace sawmill::agent {

namespace {

size_t CollectBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t n = size * nmemb;
  if (out->size() < 1024) out->append(data, std::min(n, 1024 - out->size()));
  return n;
}

size_t CollectHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* retry_after = static_cast<int64_t*>(user);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string value(line.substr(kName.size()));
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (end != value.c_str() && v >= 0) *retry_after = v;
  }
  return n;
}

int AbortCheck(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort != nullptr && abort->load() ? 1 : 0;
}

}  // namespace

struct HttpSender::Impl {
  std::string url;
  std::string auth;
  int64_t timeout_ms;
  const std::atomic<bool>* abort = nullptr;
  SenderTls tls;
  CURL* curl = nullptr;
};

HttpSender::HttpSender(const std::string& server, const std::string& token, int64_t timeout_ns,
                       const std::atomic<bool>* abort, SenderTls tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->abort = abort;
  impl_->tls = std::move(tls);
  if (impl_->tls.insecure_skip_verify && server.starts_with("https://")) {
    spdlog::warn(
        "agent: tls.insecure_skip_verify: the certificate of {} is not checked; anyone on the "
        "way can read and change the lines sent",
        server);
  }
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->url = server + "/api/v1/ingest";
  if (!token.empty()) impl_->auth = "Authorization: Bearer " + token;
  impl_->timeout_ms = timeout_ns / 1'000'000;
  impl_->curl = curl_easy_init();
}

HttpSender::~HttpSender() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

SendResult HttpSender::Send(const std::string& body, const std::string& idempotency_key) {
  SendResult result;
  CURL* curl = impl_->curl;
  if (curl == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  curl_easy_reset(curl);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-ndjson");
  headers = curl_slist_append(headers, "Content-Encoding: zstd");
  headers = curl_slist_append(headers, ("Idempotency-Key: " + idempotency_key).c_str());
  headers = curl_slist_append(headers, "Expect:");
  if (!impl_->auth.empty()) headers = curl_slist_append(headers, impl_->auth.c_str());
  std::string answer;
  curl_easy_setopt(curl, CURLOPT_URL, impl_->url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.retry_after_s);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortCheck);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, impl_->abort);
  // https:// (docs/agent.md "TLS"): libcurl checks the chain and the host name by default.
  const SenderTls& tls = impl_->tls;
  if (!tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key_file.c_str());
  }
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  char error_text[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    // libcurl's own text says which check failed ("SSL certificate problem: certificate has
    // expired").
    result.error = error_text[0] != '\0' ? std::string(error_text) : curl_easy_strerror(code);
    if (code == CURLE_PEER_FAILED_VERIFICATION) {
      result.error += tls.ca_file.empty()
                          ? " (tls.ca_file names the CA that signed the server's certificate)"
                          : " (checked against tls.ca_file " + tls.ca_file + ")";
    }
    return result;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.http_status);
  if (result.http_status != 200) result.error = answer;
  return result;
}

}  // namespace sawmill::agent
