// Sends alert notifications over HTTP (docs/alerting.md "Notifications"): to Alertmanager's v2
// API (POST URL/api/v2/alerts, a JSON list of alerts with labels, annotations, startsAt, endsAt
// and generatorURL) and to a generic JSON webhook (one object per notification, with a
// Slack-compatible "text").
//
// Each receiver has its own thread and a bounded queue: Send never blocks and never waits for a
// receiver. A receiver that fails (no answer within the timeout, or a status other than 2xx) is
// retried with exponential backoff; a notification that still fails after the last attempt,
// or that finds the queue full, is dropped, counted in sawmill_alert_notifications_total
// {result="dropped"} and logged, and its done callback says so (the engine then sends it again
// at its next evaluation).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alert/alert_engine.h"
#include "sawmill/status.h"

namespace sawmill::alert {

enum class ReceiverKind : uint8_t { kAlertmanager, kWebhook };

struct ReceiverOptions {
  ReceiverKind kind = ReceiverKind::kWebhook;
  std::string url;  // Alertmanager: its base URL ("http://127.0.0.1:9093"); webhook: the URL
  int64_t timeout_ns = 5 * kNanosPerSecond;
  int attempts = 6;                            // per notification
  int64_t first_backoff_ns = kNanosPerSecond;  // doubled after each failure
  int64_t max_backoff_ns = 30 * kNanosPerSecond;
  size_t queue_capacity = 1000;  // notifications waiting; more are dropped
};

// The JSON bodies (exposed for tests).
std::string AlertmanagerBody(const Notification& n);
std::string WebhookBody(const Notification& n);

// Appends "map" (a rule's labels or annotations) as a JSON object of strings, in key order.
void AppendStringMapJson(const std::map<std::string, std::string>& map, std::string* out);

class HttpNotifier final : public Notifier {
 public:
  // Errors: InvalidArgument for a URL that is not http:// or https://.
  static Result<std::unique_ptr<HttpNotifier>> Create(std::vector<ReceiverOptions> receivers);
  ~HttpNotifier() override;  // stops; what is still queued is dropped (counted)

  void Send(Notification notification, std::function<void(bool delivered)> done) override;

  // Alertmanager's silences API: POST URL/api/v2/silences with "body"; returns its answer.
  // Errors: FailedPrecondition without an Alertmanager receiver; Unavailable when it does not
  // answer; InvalidArgument with its message for a 4xx.
  Result<std::string> PostSilence(const std::string& body);
  bool has_alertmanager() const;

 private:
  HttpNotifier() = default;
  struct Receiver;
  std::vector<std::unique_ptr<Receiver>> receivers_;
};

}  // namespace sawmill::alert
