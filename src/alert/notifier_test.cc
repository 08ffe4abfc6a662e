#include "alert/notifier.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/metrics.h"
#include "common/mutex.h"

namespace sawmill::alert {
namespace {

using ::testing::HasSubstr;

// A small HTTP/1.1 receiver on loopback that records the bodies POSTed to it and answers
// "status" (one request per connection).
class Receiver {
 public:
  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Run(); });
  }
  ~Receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::pair<std::string, std::string>> Take() {
    MutexLock lock(&mu_);
    return requests_;
  }
  std::atomic<int> status{200};

 private:
  void Run() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[4096];
      size_t need = std::string::npos;
      while (true) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        const size_t end = data.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          size_t length = 0;
          const size_t at = data.find("Content-Length: ");
          if (at != std::string::npos && at < end) length = std::stoul(data.substr(at + 16));
          need = end + 4 + length;
        }
        if (need != std::string::npos && data.size() >= need) break;
      }
      const size_t end = data.find("\r\n\r\n");
      const std::string line = data.substr(0, data.find("\r\n"));
      {
        MutexLock lock(&mu_);
        requests_.push_back({line, end == std::string::npos ? "" : data.substr(end + 4)});
      }
      const std::string answer = "HTTP/1.1 " + std::to_string(status.load()) +
                                 " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
      ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Mutex mu_;
  std::vector<std::pair<std::string, std::string>> requests_ GUARDED_BY(mu_);
};

Notification Sample() {
  Notification n;
  n.tenant = "default";
  n.rule = "payments-errors";
  n.group = "host=a";
  n.labels = {{"alertname", "payments-errors"}, {"tenant", "default"}, {"host", "a"}};
  n.annotations = {{"summary", "too many \"errors\""}};
  n.starts_at_ns = 1'800'000'000 * kNanosPerSecond;
  n.ends_at_ns = n.starts_at_ns + 3600 * kNanosPerSecond;
  n.generator_url = "http://127.0.0.1:9640/api/v1/search?q=x";
  n.count = 51;
  n.value = 51;
  return n;
}

bool WaitFor(const std::function<bool()>& done, int seconds = 20) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TEST(AlertNotifier, AlertmanagerBodyIsTheV2ListOfAlerts) {
  const std::string body = AlertmanagerBody(Sample());
  EXPECT_EQ(body.front(), '[');
  EXPECT_THAT(body, HasSubstr("\"labels\":{\"alertname\":\"payments-errors\",\"host\":\"a\""));
  EXPECT_THAT(body, HasSubstr("\"startsAt\":\"2027-01-15T08:00:00Z\""));
  EXPECT_THAT(body, HasSubstr("\"endsAt\":\"2027-01-15T09:00:00Z\""));
  EXPECT_THAT(body, HasSubstr("\"generatorURL\":\"http://127.0.0.1:9640/api/v1/search?q=x\""));
  EXPECT_THAT(body, HasSubstr("too many \\\"errors\\\""));
}

TEST(AlertNotifier, WebhookBodyHasStatusAndSlackText) {
  Notification n = Sample();
  n.resolved = true;
  const std::string body = WebhookBody(n);
  EXPECT_THAT(body, HasSubstr("\"status\":\"resolved\""));
  EXPECT_THAT(body, HasSubstr("\"text\":\"[RESOLVED] too many \\\"errors\\\" http://"));
  EXPECT_THAT(body, HasSubstr("\"count\":51"));
}

// The bodies byte for byte (the receivers parse them; the bytes are pinned so that a change of
// how they are written shows).
TEST(AlertNotifier, TheBodiesAreTheseBytes) {
  Notification n = Sample();
  n.condition = "count > 50";
  n.window = "5m";
  const std::string fields =
      R"("labels":{"alertname":"payments-errors","host":"a","tenant":"default"},)"
      R"("annotations":{"summary":"too many \"errors\""},"startsAt":"2027-01-15T08:00:00Z",)"
      R"("endsAt":"2027-01-15T09:00:00Z","generatorURL":"http://127.0.0.1:9640/api/v1/search?q=x")";
  EXPECT_EQ(AlertmanagerBody(n), "[{" + fields + "}]");
  EXPECT_EQ(
      WebhookBody(n),
      R"({"version":"1","status":"firing","tenant":"default","rule":"payments-errors",)"
      R"("group":"host=a","condition":"count > 50","window":"5m","count":51,"value":51,)" +
          fields +
          R"(,"text":"[FIRING] too many \"errors\" http://127.0.0.1:9640/api/v1/search?q=x"})");
}

TEST(AlertNotifier, DeliversToAlertmanagerAndWebhook) {
  Receiver am, hook;
  auto notifier = HttpNotifier::Create(
      {{ReceiverKind::kAlertmanager, am.url()}, {ReceiverKind::kWebhook, hook.url() + "/hook"}});
  ASSERT_TRUE(notifier.ok());
  std::atomic<int> result{-1};
  (*notifier)->Send(Sample(), [&](bool ok) { result = ok ? 1 : 0; });
  ASSERT_TRUE(WaitFor([&] { return result.load() != -1; }));
  EXPECT_EQ(result.load(), 1);
  ASSERT_EQ(am.Take().size(), 1u);
  EXPECT_EQ(am.Take()[0].first, "POST /api/v2/alerts HTTP/1.1");
  ASSERT_EQ(hook.Take().size(), 1u);
  EXPECT_EQ(hook.Take()[0].first, "POST /hook HTTP/1.1");
  EXPECT_THAT(hook.Take()[0].second, HasSubstr("\"status\":\"firing\""));
}

TEST(AlertNotifier, AFailingReceiverIsRetriedThenGivenUpWithoutBlockingTheSender) {
  Receiver down;
  down.status = 503;
  ReceiverOptions options{ReceiverKind::kWebhook, down.url()};
  options.attempts = 3;
  options.first_backoff_ns = 50 * kNanosPerMilli;
  options.queue_capacity = 2;
  auto notifier = HttpNotifier::Create({options});
  ASSERT_TRUE(notifier.ok());
  std::atomic<int> delivered{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    (*notifier)->Send(Sample(), [&](bool ok) { (ok ? delivered : failed)++; });
  }
  // Send never waits for the receiver: ten calls return at once, and what does not fit the
  // queue of two (plus the one being sent) is given up right away.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  ASSERT_TRUE(WaitFor([&] { return failed.load() == 10; }));
  EXPECT_EQ(delivered.load(), 0);
  // Three attempts for each notification that was queued (at most three of them).
  EXPECT_LE(down.Take().size(), 9u);
  EXPECT_GE(down.Take().size(), 3u);
  EXPECT_THAT(
      SerializeMetrics(),
      HasSubstr("sawmill_alert_notifications_total{receiver=\"webhook\",result=\"dropped\"}"));
}

TEST(AlertNotifier, BadUrlIsRefused) {
  auto notifier = HttpNotifier::Create({{ReceiverKind::kAlertmanager, "127.0.0.1:9093"}});
  ASSERT_FALSE(notifier.ok());
  EXPECT_THAT(notifier.status().message(), HasSubstr("alertmanager URL '127.0.0.1:9093'"));
}

}  // namespace
}  // namespace sawmill::alert
