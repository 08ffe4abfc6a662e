#include "objstore/s3_store.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "common/metrics.h"
#include "common/time_format.h"

namespace sawmill::objstore {

struct S3Store::Request {
  const char* method = "GET";  // GET, HEAD, PUT, POST or DELETE
  std::string key;             // the object's key; "" for the bucket itself
  std::vector<std::pair<std::string, std::string>> query;  // not encoded yet
  std::vector<std::string> headers;                        // "Name: value"
  std::string_view body;                                   // sent when upload is true
  bool upload = false;
  uint64_t max_body = 64 << 10;  // bytes of a successful answer kept; more is an error
  // CompleteMultipartUpload may answer 200 and put an error in the body.
  bool error_may_be_in_200 = false;
  // The caller's deadline (NowMs; PutWithin), which bounds every attempt and the retries too;
  // 0: none (the retry budget alone).
  int64_t deadline_ms = 0;
};

struct S3Store::Response {
  long status = 0;
  std::string body;
  std::string etag;           // without quotes
  std::string content_range;  // as sent
  uint64_t content_length = 0;
  std::string code;     // S3 error code, when the body is an <Error>
  std::string message;  // S3 error message
  int attempts = 0;
};

namespace {

constexpr uint64_t kMaxErrorBody = 64 << 10;
constexpr uint64_t kMaxListBody = 16 << 20;
constexpr uint64_t kMaxParts = 10000;
constexpr uint64_t kMinPartSize = 5 << 20;

struct S3Metrics {
  prometheus::Counter* requests;
  prometheus::Counter* retries;
  prometheus::Counter* errors;
  prometheus::Counter* bytes_uploaded;
  prometheus::Counter* bytes_fetched;
  prometheus::Counter* multipart_aborts;
  prometheus::Counter* incomplete_aborted;
  prometheus::Counter* bad_objects_deleted;
  prometheus::Counter* bad_objects_left;

  static S3Metrics& Get() {
    static S3Metrics m = [] {
      const auto counter = UnlabelledCounter;
      S3Metrics s;
      s.requests = counter("sawmill_cold_store_requests_total",
                           "HTTP requests sent to the S3 cold store, retries included");
      s.retries = counter("sawmill_cold_store_retries_total",
                          "S3 requests retried after a connection error, timeout, 429 or 5xx");
      s.errors = counter("sawmill_cold_store_request_errors_total",
                         "S3 store operations that failed (after their retries)");
      s.bytes_uploaded = counter("sawmill_cold_store_bytes_uploaded_total",
                                 "Object bytes uploaded to the S3 cold store");
      s.bytes_fetched = counter("sawmill_cold_store_bytes_fetched_total",
                                "Object bytes downloaded from the S3 cold store");
      s.multipart_aborts = counter("sawmill_cold_store_multipart_aborts_total",
                                   "Multipart uploads aborted because a step failed");
      s.incomplete_aborted = counter(
          "sawmill_cold_store_incomplete_uploads_aborted_total",
          "Unfinished multipart uploads left by a crash or a lost connection, found under the "
          "prefix older than cold_store_upload_grace and aborted");
      s.bad_objects_deleted = counter(
          "sawmill_cold_store_bad_objects_deleted_total",
          "Objects whose multipart upload completed but whose size or ETag was not what was "
          "sent, deleted (the segment stays local and is moved again later)");
      s.bad_objects_left = counter(
          "sawmill_cold_store_bad_objects_left_total",
          "Objects that failed that check and could not be deleted either: they stay in the "
          "bucket, named by no segment (the log names each)");
      return s;
    }();
    return m;
  }
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

// The raw digest of "data" (EVP one-shot: the low-level MD5() is deprecated in OpenSSL 3).
std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string HexOf(std::string_view raw) {
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(n);
  return out;
}

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// SigV4's URI encoding: every byte but the unreserved ones as %XX; '/' kept when "keep_slash".
std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back(s[i]);
      continue;
    }
    std::string_view entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.size() > 1 && entity[0] == '#') {
      unsigned long code = entity[1] == 'x'
                               ? std::strtoul(std::string(entity.substr(2)).c_str(), nullptr, 16)
                               : std::strtoul(std::string(entity.substr(1)).c_str(), nullptr, 10);
      // UTF-8 of the code point.
      if (code < 0x80) {
        out.push_back(static_cast<char>(code));
      } else if (code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else if (code < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag>...</tag> at or after "*pos" (which moves past it); nullopt when
// there is none.
std::optional<std::string> NextTag(std::string_view xml, std::string_view tag, size_t* pos) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t start = xml.find(open, *pos);
  if (start == std::string_view::npos) return std::nullopt;
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return std::nullopt;
  *pos = end + close.size();
  return XmlUnescape(xml.substr(start, end - start));
}

std::string FirstTag(std::string_view xml, std::string_view tag) {
  size_t pos = 0;
  return NextTag(xml, tag, &pos).value_or("");
}

bool RetryableCurl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3: return true;
    default: return false;
  }
}

bool RetryableAnswer(long status, const std::string& code) {
  if (status == 429 || status >= 500) return true;
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable";
}

// Body of a request being sent, for CURLOPT_READFUNCTION / CURLOPT_SEEKFUNCTION.
struct UploadSource {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t nitems, void* user) {
  auto* src = static_cast<UploadSource*>(user);
  size_t n = std::min(size * nitems, src->data.size() - src->pos);
  std::memcpy(buffer, src->data.data() + src->pos, n);
  src->pos += n;
  return n;
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* src = static_cast<UploadSource*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > src->data.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  src->pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Where an answer's body goes: kept up to a cap (a larger successful answer is refused, since
// we asked for a known size; an error body is cut).
struct DownloadSink {
  CURL* handle;
  std::string* body;
  uint64_t max_success;
  bool too_long = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<DownloadSink*>(user);
  size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(sink->handle, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) {
    if (sink->body->size() + n > sink->max_success) {
      sink->too_long = true;
      return 0;  // aborts the transfer: CURLE_WRITE_ERROR
    }
    sink->body->append(data, n);
  } else if (sink->body->size() < kMaxErrorBody) {
    sink->body->append(data, std::min<size_t>(n, kMaxErrorBody - sink->body->size()));
  }
  return n;
}

std::string HeaderValue(CURL* handle, const char* name) {
  struct curl_header* header = nullptr;
  if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK) return "";
  return header->value;
}

std::string StripQuotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// The total size in a Content-Range "bytes a-b/total" or "bytes */total"; nullopt if absent.
std::optional<uint64_t> RangeTotal(const std::string& content_range) {
  size_t slash = content_range.rfind('/');
  if (slash == std::string::npos || slash + 1 >= content_range.size()) return std::nullopt;
  char* end = nullptr;
  unsigned long long total = std::strtoull(content_range.c_str() + slash + 1, &end, 10);
  if (end == content_range.c_str() + slash + 1) return std::nullopt;
  return total;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status ParseS3Url(std::string_view url, S3Options* options) {
  constexpr std::string_view kScheme = "s3://";
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("cold store '" + std::string(url) + "': " + std::string(why) +
                                   " (expected s3://BUCKET or s3://BUCKET/PREFIX)");
  };
  if (url.substr(0, kScheme.size()) != kScheme) return bad("does not start with s3://");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (bucket.size() < 3 || bucket.size() > 63) return bad("the bucket name must be 3-63 bytes");
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return bad("the bucket name may hold only a-z, 0-9, '-' and '.'");
    }
  }
  if (!prefix.empty()) {
    Status s = ValidateObjectName(prefix);
    if (!s.ok()) return bad("bad prefix: " + s.message());
  }
  options->bucket = std::string(bucket);
  options->prefix = std::string(prefix);
  return Status::OK();
}

void FillS3OptionsFromEnvironment(S3Options* options) {
  auto fill = [](std::string* field, std::initializer_list<const char*> names) {
    if (!field->empty()) return;
    for (const char* name : names) {
      const char* value = std::getenv(name);
      if (value != nullptr && *value != '\0') {
        *field = value;
        return;
      }
    }
  };
  fill(&options->endpoint, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  fill(&options->access_key, {"AWS_ACCESS_KEY_ID"});
  fill(&options->secret_key, {"AWS_SECRET_ACCESS_KEY"});
  // The region has a default, so the environment overrides only that default.
  const char* region = std::getenv("AWS_REGION");
  if (region == nullptr || *region == '\0') region = std::getenv("AWS_DEFAULT_REGION");
  if (region != nullptr && *region != '\0' && options->region == S3Options().region) {
    options->region = region;
  }
}

// One opened object: its size and ETag at Open, read by ranged GETs with If-Match.
class S3ObjectReader final : public ObjectReader {
 public:
  S3ObjectReader(S3Store* store, std::string name, uint64_t size, std::string etag)
      : store_(store), name_(std::move(name)), size_(size), etag_(std::move(etag)) {}
  uint64_t size() const override { return size_; }
  Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const override {
    RETURN_IF_ERROR(CheckRange(store_->Location(name_), size_, offset, length));
    if (length == 0) {
      out->clear();
      return Status::OK();
    }
    Status s = store_->GetRangeOnce(name_, offset, length, etag_, out);
    if (s.IsNotFound()) {
      return Status::NotFound(store_->Location(name_) + " was deleted after it was opened");
    }
    return s;
  }

 private:
  S3Store* const store_;
  const std::string name_;
  const uint64_t size_;
  const std::string etag_;
};

S3Store::S3Store(S3Options options) : options_(std::move(options)) {}

S3Store::~S3Store() {
  MutexLock l(&pool_mu_);
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<std::unique_ptr<S3Store>> S3Store::Create(S3Options options) {
  auto missing = [](const char* what, const char* how) {
    return Status::InvalidArgument(std::string("S3 cold store: no ") + what + " (" + how + ")");
  };
  if (options.endpoint.empty()) {
    return missing("endpoint", "cold_store_endpoint in the config file or AWS_ENDPOINT_URL");
  }
  if (options.endpoint.rfind("http://", 0) != 0 && options.endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("S3 cold store: endpoint '" + options.endpoint +
                                   "' must start with http:// or https://");
  }
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (options.endpoint.find('/', options.endpoint.find("//") + 2) != std::string::npos) {
    return Status::InvalidArgument("S3 cold store: endpoint '" + options.endpoint +
                                   "' must have no path (the bucket comes from s3://BUCKET)");
  }
  if (options.bucket.empty()) return missing("bucket", "--cold-store s3://BUCKET/PREFIX");
  if (options.access_key.empty()) {
    return missing("access key", "cold_store_access_key in the config file or AWS_ACCESS_KEY_ID");
  }
  if (options.secret_key.empty()) {
    return missing("secret key",
                   "cold_store_secret_key in the config file or AWS_SECRET_ACCESS_KEY");
  }
  if (options.region.empty()) return missing("region", "cold_store_region or AWS_REGION");
  if (options.part_size < kMinPartSize) {
    return Status::InvalidArgument("S3 cold store: part size " + std::to_string(options.part_size) +
                                   " is below S3's minimum of 5 MiB");
  }
  if (options.multipart_threshold < options.part_size) {
    options.multipart_threshold = options.part_size;
  }
  GlobalInit();
  S3Metrics::Get();  // the families show from the start, at zero
  return std::unique_ptr<S3Store>(new S3Store(std::move(options)));
}

std::string S3Store::Key(std::string_view name) const {
  return options_.prefix.empty() ? std::string(name) : options_.prefix + "/" + std::string(name);
}

std::string S3Store::Location(std::string_view name) const {
  return "s3://" + options_.bucket + "/" + Key(name);
}

S3Store::Stats S3Store::stats() const {
  Stats s;
  s.requests = requests_.load();
  s.retries = retries_.load();
  s.errors = errors_.load();
  s.bytes_uploaded = bytes_uploaded_.load();
  s.bytes_downloaded = bytes_downloaded_.load();
  s.multipart_uploads = multipart_uploads_.load();
  s.multipart_aborts = multipart_aborts_.load();
  s.peak_upload_buffer_bytes = peak_upload_buffer_.load();
  s.bad_objects_deleted = bad_objects_deleted_.load();
  s.bad_objects_left = bad_objects_left_.load();
  return s;
}

void* S3Store::AcquireHandle() {
  {
    MutexLock l(&pool_mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Store::ReleaseHandle(void* handle) {
  {
    MutexLock l(&pool_mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Result<S3Store::Response> S3Store::Perform(const Request& request) {
  std::string url = options_.endpoint + "/" + options_.bucket;
  if (!request.key.empty()) url += "/" + UriEncode(request.key, /*keep_slash=*/true);
  if (!request.query.empty()) {
    // SigV4 signs the query sorted by name, every name and value encoded ('/' too); curl signs
    // the query as it is in the URL, so it must already be in that form.
    std::vector<std::pair<std::string, std::string>> query = request.query;
    std::sort(query.begin(), query.end());
    char sep = '?';
    for (const auto& [name, value] : query) {
      url += sep + UriEncode(name, false) + "=" + UriEncode(value, false);
      sep = '&';
    }
  }
  const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
  const std::string payload_hash =
      "x-amz-content-sha256: " + HexOf(Digest(EVP_sha256(), request.body));

  const int64_t start = NowMs();
  const int64_t deadline = request.deadline_ms;  // 0: none
  std::string last_error;
  thread_local std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    // A caller's deadline (PutWithin) bounds the attempt too.
    int64_t timeout_ms = options_.request_timeout_ms;
    if (deadline != 0) timeout_ms = std::max<int64_t>(1, std::min(timeout_ms, deadline - NowMs()));
    Response response;
    response.attempts = attempt;
    auto* handle = static_cast<CURL*>(AcquireHandle());
    if (handle == nullptr) return Status::Internal("curl_easy_init failed");
    curl_easy_reset(handle);
    struct curl_slist* headers = curl_slist_append(nullptr, payload_hash.c_str());
    for (const std::string& header : request.headers) {
      headers = curl_slist_append(headers, header.c_str());
    }
    UploadSource source{request.body, 0};
    DownloadSink sink{handle, &response.body, request.max_body};
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(handle, CURLOPT_USERNAME, options_.access_key.c_str());
    curl_easy_setopt(handle, CURLOPT_PASSWORD, options_.secret_key.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(options_.connect_timeout_ms, timeout_ms)));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<int64_t>(1, options_.stall_timeout_ms / 1000)));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
    // Never send credentials through a proxy the environment names for other traffic.
    curl_easy_setopt(handle, CURLOPT_PROXY, "");
    const std::string_view method = request.method;
    if (method == "HEAD") {
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (request.upload) {
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(handle, CURLOPT_READDATA, &source);
      curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, SeekBody);
      curl_easy_setopt(handle, CURLOPT_SEEKDATA, &source);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      if (method != "PUT") curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method);
    } else if (method != "GET") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method);
    }

    requests_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().requests->Increment();
    CURLcode rc = curl_easy_perform(handle);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
      response.etag = StripQuotes(HeaderValue(handle, "ETag"));
      response.content_range = HeaderValue(handle, "Content-Range");
      curl_off_t length = -1;
      curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      response.content_length = length < 0 ? 0 : static_cast<uint64_t>(length);
    }
    ReleaseHandle(handle);

    bool retry = false;
    if (rc != CURLE_OK) {
      if (sink.too_long) {
        return Status::IOError(std::string(request.method) + " " + url +
                               ": the answer is longer than the " +
                               std::to_string(request.max_body) + " bytes asked for");
      }
      last_error = std::string(curl_easy_strerror(rc)) +
                   (error_buffer[0] != '\0' ? std::string(" (") + error_buffer + ")" : "");
      if (!RetryableCurl(rc)) {
        return Status::IOError(std::string(request.method) + " " + url + ": " + last_error);
      }
      retry = true;
    } else {
      const bool error_body =
          response.status >= 300 ||
          (request.error_may_be_in_200 && response.body.find("<Error>") != std::string::npos);
      if (error_body) {
        response.code = FirstTag(response.body, "Code");
        response.message = FirstTag(response.body, "Message");
        if (response.status < 300) response.status = 500;  // an error hidden in a 200
      }
      if (response.status >= 200 && response.status < 300) {
        if (method == "GET") {
          bytes_downloaded_.fetch_add(response.body.size(), std::memory_order_relaxed);
          S3Metrics::Get().bytes_fetched->Increment(static_cast<double>(response.body.size()));
        }
        return response;
      }
      if (!RetryableAnswer(response.status, response.code)) return response;
      last_error = "HTTP " + std::to_string(response.status) +
                   (response.code.empty() ? "" : " " + response.code) +
                   (response.message.empty() ? "" : ": " + response.message);
      retry = true;
    }
    // Exponential backoff with jitter: a random wait in [cap/2, cap], cap doubling per attempt.
    int64_t cap = std::min<int64_t>(options_.max_backoff_ms,
                                    options_.initial_backoff_ms << std::min(attempt - 1, 20));
    int64_t wait = cap / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(cap / 2 + 1));
    const int64_t now = NowMs();
    const int64_t elapsed = now - start;
    const bool past_deadline = deadline != 0 && now + wait >= deadline;
    if (!retry || attempt >= options_.max_attempts || elapsed + wait > options_.retry_budget_ms ||
        past_deadline) {
      return Status::IOError(std::string(request.method) + " " + url + ": " + last_error +
                             " (gave up after " + std::to_string(attempt) + " attempts in " +
                             std::to_string(elapsed) + " ms" +
                             (past_deadline ? ", at the caller's deadline" : "") + ")");
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().retries->Increment();
    spdlog::info("S3 {} {}: {}; retry {} in {} ms", request.method, url, last_error, attempt, wait);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
}

Status S3Store::ErrorFor(std::string_view op, std::string_view name,
                         const Response& response) const {
  std::string what = std::string(op) + " " + Location(name) + ": HTTP " +
                     std::to_string(response.status) +
                     (response.code.empty() ? "" : " " + response.code) +
                     (response.message.empty() ? "" : " (" + response.message + ")");
  if (response.status == 404 && response.code != "NoSuchBucket" &&
      response.code != "NoSuchUpload") {
    return Status::NotFound("object " + Location(name) + " does not exist (" + what + ")");
  }
  if (response.status == 403) {
    return Status::FailedPrecondition(
        what +
        ": the store refused the credentials; check the access key, the secret key, the "
        "region and the clock");
  }
  if (response.status == 404) {
    return Status::FailedPrecondition(what + ": check the bucket name");
  }
  if (response.status >= 500 || response.status == 429) return Status::IOError(what);
  return Status::FailedPrecondition(what);
}

Status S3Store::Put(std::string_view name, std::string_view data) { return PutBy(name, data, 0); }

Status S3Store::PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) {
  return PutBy(name, data, NowMs() + std::max<int64_t>(1, budget_ns / 1'000'000));
}

Status S3Store::PutBy(std::string_view name, std::string_view data, int64_t deadline_ms) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  Status s = data.size() > options_.multipart_threshold ? PutMultipart(name, data, deadline_ms)
                                                        : PutSingle(name, data, deadline_ms);
  if (!s.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().errors->Increment();
  }
  return s;
}

Status S3Store::PutSingle(std::string_view name, std::string_view data, int64_t deadline_ms) {
  const std::string md5 = Digest(EVP_md5(), data);
  Request request;
  request.deadline_ms = deadline_ms;
  request.method = "PUT";
  request.key = Key(name);
  request.upload = true;
  request.body = data;
  request.headers.push_back("Content-MD5: " + Base64(md5));
  auto response = Perform(request);
  if (!response.ok()) {
    return Status::IOError("put " + Location(name) + ": " + response.status().message());
  }
  if (response->status != 200) return ErrorFor("put", name, *response);
  // The store checked the body against Content-MD5; its ETag says which bytes it kept.
  if (!response->etag.empty() && response->etag != HexOf(md5)) {
    return Status::IOError("put " + Location(name) + ": the store's ETag " + response->etag +
                           " is not the MD5 " + HexOf(md5) + " of the bytes sent");
  }
  bytes_uploaded_.fetch_add(data.size(), std::memory_order_relaxed);
  S3Metrics::Get().bytes_uploaded->Increment(static_cast<double>(data.size()));
  return Status::OK();
}

Status S3Store::AbortUpload(const std::string& key, const std::string& upload_id,
                            int64_t deadline_ms) {
  multipart_aborts_.fetch_add(1, std::memory_order_relaxed);
  S3Metrics::Get().multipart_aborts->Increment();
  Request request;
  request.deadline_ms = deadline_ms;
  request.method = "DELETE";
  request.key = key;
  request.query = {{"uploadId", upload_id}};
  auto response = Perform(request);
  if (response.ok() &&
      (response->status == 204 || response->status == 200 || response->status == 404)) {
    return Status::OK();
  }
  Status s =
      response.ok()
          ? Status::IOError("HTTP " + std::to_string(response->status) + " " + response->code)
          : response.status();
  spdlog::warn(
      "S3: could not abort the multipart upload {} of s3://{}/{}: {} (its parts stay "
      "until a bucket lifecycle rule removes them)",
      upload_id, options_.bucket, key, s.ToString());
  return s;
}

Result<std::string> S3Store::StartUpload(std::string_view name, int64_t deadline_ms) {
  Request create;
  create.deadline_ms = deadline_ms;
  create.method = "POST";
  create.key = Key(name);
  create.upload = true;  // an empty body
  create.query = {{"uploads", ""}};
  auto created = Perform(create);
  if (!created.ok()) {
    return Status::IOError("put " + Location(name) +
                           ": starting a multipart upload: " + created.status().message());
  }
  if (created->status != 200) return ErrorFor("put (starting a multipart upload)", name, *created);
  std::string upload_id = FirstTag(created->body, "UploadId");
  if (upload_id.empty()) {
    return Status::IOError("put " + Location(name) +
                           ": the store's answer to starting a "
                           "multipart upload has no UploadId");
  }
  multipart_uploads_.fetch_add(1, std::memory_order_relaxed);
  return upload_id;
}

Status S3Store::UploadPart(std::string_view name, const std::string& upload_id, int number,
                           uint64_t offset, std::string_view part, MultipartState* state,
                           int64_t deadline_ms) {
  const std::string md5 = Digest(EVP_md5(), part);
  Request put;
  put.deadline_ms = deadline_ms;
  put.method = "PUT";
  put.key = Key(name);
  put.upload = true;
  put.body = part;
  put.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
  put.headers.push_back("Content-MD5: " + Base64(md5));
  // Perform retries this one request (a connection lost mid-part sends the part again).
  auto response = Perform(put);
  const std::string what = "put " + Location(name) + ": part " + std::to_string(number) +
                           " (bytes " + std::to_string(offset) + "-" +
                           std::to_string(offset + part.size()) + ")";
  if (!response.ok()) return Status::IOError(what + ": " + response.status().message());
  if (response->status != 200) {
    return ErrorFor("put part " + std::to_string(number) + " of", name, *response);
  }
  // The store checked the part against Content-MD5; its ETag says which bytes it kept.
  if (response->etag != HexOf(md5)) {
    return Status::IOError(what + ": the store's ETag " + response->etag + " is not the MD5 " +
                           HexOf(md5) + " of the bytes sent");
  }
  state->md5s += md5;
  state->complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>\"" +
                     HexOf(md5) + "\"</ETag></Part>";
  state->parts = number;
  state->bytes = offset + part.size();
  return Status::OK();
}

Status S3Store::CompleteUpload(std::string_view name, const std::string& upload_id,
                               const MultipartState& state, int64_t deadline_ms) {
  Request finish;
  finish.deadline_ms = deadline_ms;
  finish.method = "POST";
  finish.key = Key(name);
  finish.upload = true;
  std::string_view parts = state.complete;
  if (drop_last_part_for_testing_.load(std::memory_order_relaxed) && state.parts > 1) {
    // The store then really keeps an object without the last part: the check below fails.
    parts = parts.substr(0, parts.rfind("<Part>"));
  }
  const std::string body =
      "<CompleteMultipartUpload>" + std::string(parts) + "</CompleteMultipartUpload>";
  finish.body = body;
  finish.query = {{"uploadId", upload_id}};
  finish.error_may_be_in_200 = true;
  auto finished = Perform(finish);
  if (!finished.ok()) {
    return Status::IOError("put " + Location(name) +
                           ": completing the multipart upload: " + finished.status().message());
  }
  const std::string expected_etag =
      HexOf(Digest(EVP_md5(), state.md5s)) + "-" + std::to_string(state.parts);
  if (finished->status == 404 && finished->code == "NoSuchUpload" && finished->attempts > 1) {
    // An earlier attempt completed it and its answer was lost: the object says whether.
    uint64_t size = 0;
    std::string etag;
    if (Head(name, &size, &etag, deadline_ms).ok() && size == state.bytes &&
        etag == expected_etag) {
      bytes_uploaded_.fetch_add(state.bytes, std::memory_order_relaxed);
      S3Metrics::Get().bytes_uploaded->Increment(static_cast<double>(state.bytes));
      return Status::OK();
    }
  }
  if (finished->status != 200) {
    return ErrorFor("put (completing a multipart upload)", name, *finished);
  }
  // The object as stored: its size, and the ETag S3 derives from the parts' MD5s.
  uint64_t size = 0;
  std::string etag;
  RETURN_IF_ERROR(Head(name, &size, &etag, deadline_ms));
  if (size != state.bytes || (etag.find('-') != std::string::npos && etag != expected_etag)) {
    Status bad = Status::IOError("put " + Location(name) + ": the stored object has " +
                                 std::to_string(size) + " bytes and ETag " + etag + ", not " +
                                 std::to_string(state.bytes) + " bytes and " + expected_etag);
    // The upload is complete, so no abort removes it: without this the object would stay in the
    // bucket, named by no segment (the caller keeps the segment local) and found by no sweep.
    DeleteBadObject(name, bad, deadline_ms);
    return bad;
  }
  bytes_uploaded_.fetch_add(state.bytes, std::memory_order_relaxed);
  S3Metrics::Get().bytes_uploaded->Increment(static_cast<double>(state.bytes));
  return Status::OK();
}

void S3Store::DeleteBadObject(std::string_view name, const Status& why, int64_t deadline_ms) {
  Request request;
  request.deadline_ms = deadline_ms;
  request.method = "DELETE";
  request.key = Key(name);
  // Perform retries a connection error, a timeout, 429 and 5xx, as for every request.
  auto response = Perform(request);
  if (response.ok() &&
      (response->status == 204 || response->status == 200 || response->status == 404)) {
    bad_objects_deleted_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().bad_objects_deleted->Increment();
    spdlog::warn("S3: deleted {}, which failed the check after its upload completed ({})",
                 Location(name), why.message());
    return;
  }
  const Status s = response.ok() ? ErrorFor("delete", name, *response) : response.status();
  bad_objects_left_.fetch_add(1, std::memory_order_relaxed);
  S3Metrics::Get().bad_objects_left->Increment();
  CountError();
  spdlog::error(
      "S3: {} failed the check after its upload completed ({}) and could not be deleted: {}; "
      "it stays in the bucket, named by no segment: delete it by hand",
      Location(name), why.message(), s.ToString());
}

Status S3Store::PutMultipart(std::string_view name, std::string_view data, int64_t deadline_ms) {
  ASSIGN_OR_RETURN(const std::string upload_id, StartUpload(name, deadline_ms));
  uint64_t part_size = options_.part_size;
  if ((data.size() + part_size - 1) / part_size > kMaxParts) {
    part_size = (data.size() + kMaxParts - 1) / kMaxParts;
  }
  MultipartState state;
  Status s;
  for (uint64_t offset = 0; s.ok() && offset < data.size(); offset += part_size) {
    s = UploadPart(name, upload_id, state.parts + 1, offset, data.substr(offset, part_size), &state,
                   deadline_ms);
  }
  if (s.ok()) s = CompleteUpload(name, upload_id, state, deadline_ms);
  // A failed upload is aborted, so no object and no parts are left behind (a failed Head after
  // a completed upload aborts nothing: the upload is gone already).
  if (!s.ok()) {
    // Aborted even past the caller's deadline (PutWithin), or the parts would be kept and
    // billed, but by abort_within_ms from now at most (0: no deadline, the retry budget).
    const int64_t abort_by =
        deadline_ms == 0 ? 0 : std::max(deadline_ms, NowMs() + options_.abort_within_ms);
    (void)AbortUpload(Key(name), upload_id, abort_by);
  }
  return s;
}

// A multipart upload fed piece by piece: at most one part in memory. Until the buffered bytes
// exceed one part nothing is sent; an object of at most one part is then one PUT on Commit.
class S3ObjectWriter final : public ObjectWriter {
 public:
  S3ObjectWriter(S3Store* store, std::string name) : store_(store), name_(std::move(name)) {}
  ~S3ObjectWriter() override {
    // Abandoned (not committed, or a step failed): no object, and no parts kept and billed.
    // Should the abort fail too, the sweep finds the upload (ListIncomplete) and aborts it.
    if (!upload_id_.empty() && !committed_) {
      (void)store_->AbortUpload(store_->Key(name_), upload_id_);
    }
  }

  Status Append(std::string_view data) override {
    if (!status_.ok()) return status_;
    if (committed_) return Status::FailedPrecondition("append to committed " + name_);
    const uint64_t part_size = store_->options_.part_size;
    while (!data.empty()) {
      if (buffer_.size() == part_size) {
        // A full part and more to come: the object is larger than one part.
        status_ = SendPart();
        if (!status_.ok()) return Fail();
      }
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(data.size(), part_size - buffer_.size()));
      if (buffer_.size() + take > buffer_.capacity()) {
        // Grown by hand: std::vector::reserve allocates exactly what is asked, so the buffer
        // never holds more than one part of memory.
        buffer_.reserve(static_cast<size_t>(std::min<uint64_t>(
            part_size, std::max<uint64_t>(buffer_.size() + take, 2 * buffer_.capacity()))));
        store_->NotePeakBuffer(buffer_.capacity());
      }
      buffer_.insert(buffer_.end(), data.begin(), data.begin() + take);
      data.remove_prefix(take);
      bytes_ += take;
    }
    return Status::OK();
  }

  Status Commit() override {
    if (!status_.ok()) return status_;
    if (committed_) return Status::OK();
    if (upload_id_.empty()) {
      // At most one part: one PUT (which counts its own failure).
      status_ = store_->Put(name_, std::string_view(buffer_.data(), buffer_.size()));
      if (!status_.ok()) {
        buffer_ = {};
        return status_;
      }
    } else {
      status_ = SendPart();
      if (status_.ok()) status_ = store_->CompleteUpload(name_, upload_id_, state_);
      if (!status_.ok()) return Fail();
    }
    committed_ = true;
    buffer_ = {};
    return Status::OK();
  }

  uint64_t bytes() const override { return bytes_; }

 private:
  Status SendPart() {
    if (upload_id_.empty()) {
      auto id = store_->StartUpload(name_);
      if (!id.ok()) return id.status();
      upload_id_ = std::move(*id);
    }
    if (state_.parts >= static_cast<int>(kMaxParts)) {
      return Status::InvalidArgument("put " + store_->Location(name_) + ": more than " +
                                     std::to_string(kMaxParts) + " parts of " +
                                     std::to_string(store_->options_.part_size) +
                                     " bytes (raise cold_store_part_size)");
    }
    RETURN_IF_ERROR(store_->UploadPart(name_, upload_id_, state_.parts + 1, state_.bytes,
                                       std::string_view(buffer_.data(), buffer_.size()), &state_));
    buffer_.clear();  // the capacity stays: the next part reuses it
    return Status::OK();
  }
  // After an error: the upload is aborted now (not at destruction, which may be much later).
  Status Fail() {
    store_->CountError();
    if (!upload_id_.empty()) {
      (void)store_->AbortUpload(store_->Key(name_), upload_id_);
      upload_id_.clear();
    }
    buffer_ = {};
    return status_;
  }

  S3Store* const store_;
  const std::string name_;
  std::vector<char> buffer_;  // the part being filled; at most part_size bytes
  uint64_t bytes_ = 0;
  std::string upload_id_;  // empty until the first part is sent
  S3Store::MultipartState state_;
  Status status_;
  bool committed_ = false;
};

Result<std::unique_ptr<ObjectWriter>> S3Store::NewWriter(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  return std::unique_ptr<ObjectWriter>(new S3ObjectWriter(this, std::string(name)));
}

void S3Store::NotePeakBuffer(uint64_t bytes) {
  uint64_t peak = peak_upload_buffer_.load(std::memory_order_relaxed);
  while (bytes > peak &&
         !peak_upload_buffer_.compare_exchange_weak(peak, bytes, std::memory_order_relaxed)) {
  }
}

void S3Store::CountError() {
  errors_.fetch_add(1, std::memory_order_relaxed);
  S3Metrics::Get().errors->Increment();
}

Status S3Store::Head(std::string_view name, uint64_t* size, std::string* etag,
                     int64_t deadline_ms) {
  Request request;
  request.deadline_ms = deadline_ms;
  request.method = "HEAD";
  request.key = Key(name);
  auto response = Perform(request);
  if (!response.ok()) {
    return Status::IOError("size of " + Location(name) + ": " + response.status().message());
  }
  if (response->status != 200) return ErrorFor("head", name, *response);
  *size = response->content_length;
  *etag = response->etag;
  return Status::OK();
}

Result<uint64_t> S3Store::Size(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  uint64_t size = 0;
  std::string etag;
  RETURN_IF_ERROR(Head(name, &size, &etag));
  return size;
}

Status S3Store::GetRangeOnce(std::string_view name, uint64_t offset, uint64_t length,
                             const std::string& etag, std::string* out) {
  Request request;
  request.method = "GET";
  request.key = Key(name);
  request.max_body = length;
  request.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                            std::to_string(offset + length - 1));
  if (!etag.empty()) request.headers.push_back("If-Match: \"" + etag + "\"");
  auto response = Perform(request);
  if (!response.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().errors->Increment();
    return Status::IOError("read " + Location(name) + ": " + response.status().message());
  }
  if (response->status == 206 || response->status == 200) {
    // A 206 names the object's size: a range past the end is then refused like the local store
    // refuses it (S3 cuts it short instead).
    std::optional<uint64_t> total =
        response->status == 206 ? RangeTotal(response->content_range) : response->content_length;
    if (total.has_value()) RETURN_IF_ERROR(CheckRange(Location(name), *total, offset, length));
    if (response->body.size() != length || (response->status == 200 && offset != 0)) {
      return Status::IOError("read " + Location(name) + ": asked for " + std::to_string(length) +
                             " bytes at offset " + std::to_string(offset) + ", got " +
                             std::to_string(response->body.size()) + " (HTTP " +
                             std::to_string(response->status) + ")");
    }
    *out = std::move(response->body);
    return Status::OK();
  }
  if (response->status == 416) {
    std::optional<uint64_t> total = RangeTotal(response->content_range);
    if (!total.has_value()) {
      uint64_t size = 0;
      std::string ignored;
      RETURN_IF_ERROR(Head(name, &size, &ignored));
      total = size;
    }
    RETURN_IF_ERROR(CheckRange(Location(name), *total, offset, length));
  }
  if (response->status == 412) {
    return Status::FailedPrecondition(Location(name) + " was replaced after it was opened");
  }
  Status s = ErrorFor("read", name, *response);
  if (!s.IsNotFound()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().errors->Increment();
  }
  return s;
}

Status S3Store::GetRange(std::string_view name, uint64_t offset, uint64_t length,
                         std::string* out) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  if (length == 0 || offset + length < offset) {
    // Nothing to GET (or no such range): the size decides between "" and a range error.
    ASSIGN_OR_RETURN(uint64_t size, Size(name));
    RETURN_IF_ERROR(CheckRange(Location(name), size, offset, length));
    out->clear();
    return Status::OK();
  }
  return GetRangeOnce(name, offset, length, "", out);
}

Result<std::unique_ptr<ObjectReader>> S3Store::Open(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  uint64_t size = 0;
  std::string etag;
  RETURN_IF_ERROR(Head(name, &size, &etag));
  return std::unique_ptr<ObjectReader>(
      new S3ObjectReader(this, std::string(name), size, std::move(etag)));
}

Result<std::vector<std::string>> S3Store::List(std::string_view prefix) {
  const std::string key_prefix = options_.prefix.empty() ? "" : options_.prefix + "/";
  std::vector<std::string> names;
  std::string token;
  for (;;) {
    Request request;
    request.method = "GET";
    request.max_body = kMaxListBody;
    request.query = {{"list-type", "2"}, {"prefix", key_prefix + std::string(prefix)}};
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    auto response = Perform(request);
    if (!response.ok()) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      S3Metrics::Get().errors->Increment();
      return Status::IOError("list " + Location(prefix) + "*: " + response.status().message());
    }
    if (response->status != 200) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      S3Metrics::Get().errors->Increment();
      return ErrorFor("list", std::string(prefix) + "*", *response);
    }
    size_t pos = 0;
    while (auto key = NextTag(response->body, "Key", &pos)) {
      if (key->compare(0, key_prefix.size(), key_prefix) != 0) continue;
      std::string name = key->substr(key_prefix.size());
      // Keys that are not object names (written by hand, "dir/" markers) are not ours.
      if (ValidateObjectName(name).ok()) names.push_back(std::move(name));
    }
    if (FirstTag(response->body, "IsTruncated") != "true") break;
    token = FirstTag(response->body, "NextContinuationToken");
    if (token.empty()) {
      return Status::IOError("list " + Location(prefix) +
                             "*: a truncated listing without a continuation token");
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Status S3Store::Delete(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  // S3 answers 204 whether or not the object existed; the contract wants NotFound.
  uint64_t size = 0;
  std::string etag;
  RETURN_IF_ERROR(Head(name, &size, &etag));
  Request request;
  request.method = "DELETE";
  request.key = Key(name);
  auto response = Perform(request);
  if (!response.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    S3Metrics::Get().errors->Increment();
    return Status::IOError("delete " + Location(name) + ": " + response.status().message());
  }
  if (response->status == 204 || response->status == 200) return Status::OK();
  return ErrorFor("delete", name, *response);
}

Status S3Store::CreateBucket() {
  Request request;
  request.method = "PUT";
  request.upload = true;
  auto response = Perform(request);
  if (!response.ok()) {
    return Status::IOError("create bucket " + options_.bucket + ": " + response.status().message());
  }
  if (response->status == 200 || response->code == "BucketAlreadyOwnedByYou") return Status::OK();
  return ErrorFor("create bucket", "", *response);
}

Status S3Store::CheckAccess() {
  Request request;
  request.method = "GET";
  request.max_body = kMaxListBody;
  request.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", options_.prefix}};
  auto response = Perform(request);
  if (!response.ok()) {
    return Status::IOError("cold store s3://" + options_.bucket + " at " + options_.endpoint +
                           ": " + response.status().message());
  }
  if (response->status == 200) return Status::OK();
  return ErrorFor("list", "", *response);
}

Result<std::vector<std::string>> S3Store::ListUploadsInProgress() {
  Request request;
  request.method = "GET";
  request.max_body = kMaxListBody;
  request.query = {{"uploads", ""}, {"prefix", options_.prefix}};
  auto response = Perform(request);
  if (!response.ok()) return response.status();
  if (response->status != 200) return ErrorFor("list uploads", "", *response);
  std::vector<std::string> keys;
  size_t pos = 0;
  while (true) {
    size_t upload = response->body.find("<Upload>", pos);
    if (upload == std::string::npos) break;
    pos = upload;
    auto key = NextTag(response->body, "Key", &pos);
    if (!key.has_value()) break;
    keys.push_back(*key);
  }
  return keys;
}

namespace {
constexpr std::string_view kUploadIdMark = "?uploadId=";
}  // namespace

Result<std::vector<std::string>> S3Store::ListIncomplete(std::string_view prefix) {
  const std::string key_prefix = options_.prefix.empty() ? "" : options_.prefix + "/";
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t before_ns = now_ns - options_.incomplete_grace_ms * 1'000'000;
  std::vector<std::string> out;
  std::string key_marker, upload_marker;
  for (int page = 0; page < 100000; ++page) {
    Request request;
    request.method = "GET";
    request.max_body = kMaxListBody;
    request.query = {{"uploads", ""}, {"prefix", key_prefix + std::string(prefix)}};
    if (!key_marker.empty()) {
      request.query.emplace_back("key-marker", key_marker);
      request.query.emplace_back("upload-id-marker", upload_marker);
    }
    auto response = Perform(request);
    if (!response.ok()) return response.status().WithContext("list unfinished uploads");
    if (response->status != 200) return ErrorFor("list unfinished uploads", prefix, *response);
    const std::string& xml = response->body;
    size_t pos = 0;
    while (true) {
      const size_t start = xml.find("<Upload>", pos);
      if (start == std::string::npos) break;
      const size_t end = xml.find("</Upload>", start);
      if (end == std::string::npos) break;
      const std::string_view upload(xml.data() + start, end - start);
      pos = end;
      const std::string key = FirstTag(upload, "Key");
      const std::string id = FirstTag(upload, "UploadId");
      const std::optional<int64_t> initiated = ParseRfc3339(FirstTag(upload, "Initiated"));
      if (key.compare(0, key_prefix.size(), key_prefix) != 0 || id.empty()) continue;
      // An upload whose start cannot be read is left alone: it may be running.
      if (!initiated.has_value() || *initiated > before_ns) continue;
      out.push_back(key.substr(key_prefix.size()) + std::string(kUploadIdMark) + id);
    }
    if (FirstTag(xml, "IsTruncated") != "true") return out;
    key_marker = FirstTag(xml, "NextKeyMarker");
    upload_marker = FirstTag(xml, "NextUploadIdMarker");
    if (key_marker.empty()) {
      return Status::IOError("list unfinished uploads under " + Location(prefix) +
                             ": a truncated listing without NextKeyMarker");
    }
  }
  return Status::IOError("list unfinished uploads under " + Location(prefix) +
                         ": more than 100000 pages");
}

Status S3Store::DeleteIncomplete(std::string_view incomplete) {
  const size_t mark = incomplete.find(kUploadIdMark);
  if (mark == std::string_view::npos || mark + kUploadIdMark.size() == incomplete.size()) {
    return Status::InvalidArgument("not an unfinished upload of ListIncomplete: '" +
                                   std::string(incomplete) + "'");
  }
  const std::string name(incomplete.substr(0, mark));
  const std::string id(incomplete.substr(mark + kUploadIdMark.size()));
  Request request;
  request.method = "DELETE";
  request.key = Key(name);
  request.query = {{"uploadId", id}};
  auto response = Perform(request);
  if (!response.ok()) return response.status().WithContext("abort upload " + Location(name));
  if (response->status == 404) {
    return Status::NotFound("unfinished upload " + id + " of " + Location(name) + " is gone");
  }
  if (response->status != 204 && response->status != 200) {
    return ErrorFor("abort unfinished upload", name, *response);
  }
  S3Metrics::Get().incomplete_aborted->Increment();
  return Status::OK();
}

}  // namespace sawmill::objstore
