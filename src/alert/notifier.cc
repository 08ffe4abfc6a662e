// HTTP notification senders (contract in notifier.h).
#include "alert/notifier.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "common/json_string.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/time_format.h"

namespace sawmill::alert {

namespace {

struct NotifierMetrics {
  prometheus::Family<prometheus::Counter>& notifications;
  prometheus::Family<prometheus::Gauge>& queued;
};

NotifierMetrics& Metrics() {
  static NotifierMetrics metrics{
      prometheus::BuildCounter()
          .Name("sawmill_alert_notifications_total")
          .Help("Alert notifications by receiver and result: sent (accepted), failed (one "
                "attempt that failed; retried), dropped (given up after the last attempt, the "
                "queue was full, or the server stopped)")
          .Register(MetricsRegistry()),
      prometheus::BuildGauge()
          .Name("sawmill_alert_notifications_queued")
          .Help("Alert notifications waiting for their receiver")
          .Register(MetricsRegistry()),
  };
  return metrics;
}

size_t Collect(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (out->size() < 4096) out->append(data, std::min(n, 4096 - out->size()));
  return n;
}

int AbortCheck(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

std::string Time(int64_t ns) { return FormatRfc3339(ns); }

// "labels":{..},"annotations":{..},"startsAt":..,"endsAt":..,"generatorURL":".." of "n", the
// fields of Alertmanager's API that the webhook body has too.
void AppendAlertFields(const Notification& n, std::string* out) {
  *out += "\"labels\":";
  AppendStringMapJson(n.labels, out);
  *out += ",\"annotations\":";
  AppendStringMapJson(n.annotations, out);
  *out += ",\"startsAt\":";
  AppendJsonString(Time(n.starts_at_ns), out);
  *out += ",\"endsAt\":";
  AppendJsonString(Time(n.ends_at_ns), out);
  *out += ",\"generatorURL\":";
  AppendJsonString(n.generator_url, out);
}

std::string_view KindName(ReceiverKind kind) {
  return kind == ReceiverKind::kAlertmanager ? "alertmanager" : "webhook";
}

struct Shared {
  std::atomic<int> remaining;
  std::atomic<bool> failed{false};
  std::function<void(bool)> done;
};

}  // namespace

void AppendStringMapJson(const std::map<std::string, std::string>& map, std::string* out) {
  *out += '{';
  bool first = true;
  for (const auto& [k, v] : map) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(k, out);
    *out += ':';
    AppendJsonString(v, out);
  }
  *out += '}';
}

std::string AlertmanagerBody(const Notification& n) {
  std::string out = "[{";
  AppendAlertFields(n, &out);
  out += "}]";
  return out;
}

std::string WebhookBody(const Notification& n) {
  std::string out = "{\"version\":\"1\",\"status\":";
  AppendJsonString(n.resolved ? "resolved" : "firing", &out);
  out += ",\"tenant\":";
  AppendJsonString(n.tenant, &out);
  out += ",\"rule\":";
  AppendJsonString(n.rule, &out);
  out += ",\"group\":";
  AppendJsonString(n.group, &out);
  out += ",\"condition\":";
  AppendJsonString(n.condition, &out);
  out += ",\"window\":";
  AppendJsonString(n.window, &out);
  out += ",\"count\":" + std::to_string(n.count);
  char value[64];
  std::snprintf(value, sizeof(value), "%.17g", n.value);
  out += ",\"value\":";
  out += value;
  out += ',';
  AppendAlertFields(n, &out);
  // Slack (and Mattermost, Rocket.Chat) incoming webhooks show "text".
  auto summary = n.annotations.find("summary");
  std::string text = std::string(n.resolved ? "[RESOLVED] " : "[FIRING] ") +
                     (summary != n.annotations.end() ? summary->second : n.rule) + " " +
                     n.generator_url;
  out += ",\"text\":";
  AppendJsonString(text, &out);
  out += '}';
  return out;
}

struct HttpNotifier::Receiver {
  ReceiverOptions options;
  std::string post_url;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* dropped = nullptr;
  prometheus::Gauge* queued = nullptr;

  struct Item {
    std::string body;
    std::string what;  // for the log
    std::shared_ptr<Shared> shared;
  };
  Mutex mu;
  CondVar cv;
  std::deque<Item> queue GUARDED_BY(mu);
  bool stopping GUARDED_BY(mu) = false;
  std::atomic<bool> abort{false};
  std::thread thread;
  // Serialises the thread's requests with PostSilence's.
  std::mutex curl_mu;
  CURL* curl = nullptr;

  ~Receiver() {
    {
      MutexLock lock(&mu);
      stopping = true;
    }
    abort.store(true);
    cv.NotifyAll();
    if (thread.joinable()) thread.join();
    std::deque<Item> left;
    {
      MutexLock lock(&mu);
      left.swap(queue);
    }
    if (!left.empty()) {
      spdlog::warn("alert notifications: {} not sent to {} (the server is stopping)", left.size(),
                   options.url);
    }
    for (Item& item : left) Finish(item, false);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  static void Finish(Item& item, bool ok) {
    if (!ok) item.shared->failed.store(true);
    if (item.shared->remaining.fetch_sub(1) == 1 && item.shared->done) {
      item.shared->done(!item.shared->failed.load());
    }
  }

  void Enqueue(Item item) {
    {
      MutexLock lock(&mu);
      if (!stopping && queue.size() < options.queue_capacity) {
        queue.push_back(std::move(item));
        queued->Set(static_cast<double>(queue.size()));
        cv.NotifyAll();
        return;
      }
    }
    dropped->Increment();
    spdlog::warn("alert notification for {} dropped: the queue for {} is full ({} waiting)",
                 item.what, options.url, options.queue_capacity);
    Finish(item, false);
  }

  // One POST; returns "" on a 2xx, else what went wrong.
  std::string Post(const std::string& url, const std::string& body, long* status,
                   std::string* answer) {
    std::lock_guard<std::mutex> lock(curl_mu);
    if (curl == nullptr) curl = curl_easy_init();
    if (curl == nullptr) return "curl_easy_init failed";
    curl_easy_reset(curl);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ns / 1'000'000));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.timeout_ns / 1'000'000));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortCheck);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &abort);
    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) return curl_easy_strerror(code);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (*status < 200 || *status >= 300) {
      return "HTTP " + std::to_string(*status) + ": " + answer->substr(0, 200);
    }
    return "";
  }

  void Run() {
    while (true) {
      Item item;
      {
        UniqueLock lock(&mu);
        while (!stopping && queue.empty()) cv.Wait(&lock);
        if (stopping) return;
        item = std::move(queue.front());
        queue.pop_front();
        queued->Set(static_cast<double>(queue.size()));
      }
      int64_t backoff = options.first_backoff_ns;
      bool ok = false;
      std::string error;
      for (int attempt = 1; attempt <= options.attempts; ++attempt) {
        long status = 0;
        std::string answer;
        error = Post(post_url, item.body, &status, &answer);
        if (error.empty()) {
          ok = true;
          break;
        }
        failed->Increment();
        if (attempt == options.attempts) break;
        UniqueLock lock(&mu);
        const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(backoff);
        while (!stopping && std::chrono::steady_clock::now() < until) cv.WaitUntil(&lock, until);
        if (stopping) break;
        backoff = std::min(backoff * 2, options.max_backoff_ns);
      }
      if (ok) {
        sent->Increment();
      } else {
        dropped->Increment();
        spdlog::warn("alert notification for {} dropped after failing to reach {}: {}", item.what,
                     post_url, error);
      }
      Finish(item, ok);
    }
  }
};

Result<std::unique_ptr<HttpNotifier>> HttpNotifier::Create(std::vector<ReceiverOptions> receivers) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<HttpNotifier> notifier(new HttpNotifier());
  for (ReceiverOptions& options : receivers) {
    if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument(std::string(KindName(options.kind)) + " URL '" + options.url +
                                     "': expected http://HOST:PORT/...");
    }
    auto r = std::make_unique<Receiver>();
    r->options = std::move(options);
    std::string base = r->options.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    r->post_url =
        r->options.kind == ReceiverKind::kAlertmanager ? base + "/api/v2/alerts" : r->options.url;
    const std::string kind(KindName(r->options.kind));
    r->sent = &Metrics().notifications.Add({{"receiver", kind}, {"result", "sent"}});
    r->failed = &Metrics().notifications.Add({{"receiver", kind}, {"result", "failed"}});
    r->dropped = &Metrics().notifications.Add({{"receiver", kind}, {"result", "dropped"}});
    r->queued = &Metrics().queued.Add({{"receiver", kind}});
    Receiver* raw = r.get();
    r->thread = std::thread([raw] { raw->Run(); });
    notifier->receivers_.push_back(std::move(r));
  }
  return notifier;
}

HttpNotifier::~HttpNotifier() { receivers_.clear(); }

void HttpNotifier::Send(Notification notification, std::function<void(bool)> done) {
  if (receivers_.empty()) {
    if (done) done(false);
    return;
  }
  auto shared = std::make_shared<Shared>();
  shared->remaining.store(static_cast<int>(receivers_.size()));
  shared->done = std::move(done);
  const std::string what = "alert " + notification.rule + " (tenant " + notification.tenant +
                           (notification.group.empty() ? "" : ", " + notification.group) + ")";
  for (auto& r : receivers_) {
    Receiver::Item item;
    item.body = r->options.kind == ReceiverKind::kAlertmanager ? AlertmanagerBody(notification)
                                                               : WebhookBody(notification);
    item.what = what;
    item.shared = shared;
    r->Enqueue(std::move(item));
  }
}

bool HttpNotifier::has_alertmanager() const {
  for (const auto& r : receivers_) {
    if (r->options.kind == ReceiverKind::kAlertmanager) return true;
  }
  return false;
}

Result<std::string> HttpNotifier::PostSilence(const std::string& body) {
  for (auto& r : receivers_) {
    if (r->options.kind != ReceiverKind::kAlertmanager) continue;
    std::string base = r->options.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    long status = 0;
    std::string answer;
    std::string error = r->Post(base + "/api/v2/silences", body, &status, &answer);
    if (error.empty()) return answer;
    if (status >= 400 && status < 500) {
      return Status::InvalidArgument("Alertmanager refused the silence: " + answer);
    }
    return Status::Unavailable("Alertmanager at " + r->options.url + ": " + error);
  }
  return Status::FailedPrecondition(
      "silences live in Alertmanager: start the server with --alertmanager URL");
}

}  // namespace sawmill::alert
