// The syslog input as a sender sees it: real UDP and TCP sockets on localhost, messages framed
// and parsed by the server's syslog code (RFC 6587 framing, RFC 5424 and RFC 3164 headers).
#include "agent/inputs/syslog/syslog_input.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <thread>

#include "agent/config.h"

namespace sawmill::agent {
namespace {

constexpr int64_t kNow = 1'717'243'200'000'000'000;  // 2024-06-01T12:00:00Z

std::unique_ptr<InputContext> Context(const std::string& yaml, OptionValues* values) {
  auto validated = ValidateSection(YAML::Load(yaml), SyslogInputOptionTable(), "inputs[0]",
                                   AgentSectionTables());
  EXPECT_TRUE(validated.ok()) << validated.status().ToString();
  *values = *validated;
  auto context = MakeInputContext(*values, 1024);
  EXPECT_TRUE(context.ok()) << context.status().ToString();
  return std::move(context).value();
}

std::string Field(const Record& record, std::string_view key) {
  const std::string* value = record.FindField(key);
  return value ? *value : "<none>";
}

TEST(SyslogInputMessage, Rfc5424HeaderBecomesTheRecordsParts) {
  OptionValues values;
  auto context = Context("type: syslog\nservice: fallback\n", &values);
  Record r = ParseSyslogInputMessage(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 77 ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event\n",
      false, *context, 1024, kNow);
  EXPECT_EQ(r.message, "An application event");
  EXPECT_EQ(r.service, "evntslog");
  EXPECT_EQ(r.host, "mymachine.example.com");
  EXPECT_EQ(r.ts, 1'065'910'455'003'000'000);
  EXPECT_EQ(r.level, Level::kInfo);  // severity 5, notice
  EXPECT_EQ(Field(r, "facility"), "local4");
  EXPECT_EQ(Field(r, "proc_id"), "77");
  EXPECT_EQ(Field(r, "msg_id"), "ID47");
  EXPECT_EQ(Field(r, "exampleSDID@32473.eventSource"), "Application");
  EXPECT_EQ(r.flags, 0u);
}

TEST(SyslogInputMessage, Rfc3164HeaderAndTheInputsDefaults) {
  OptionValues values;
  auto context = Context("type: syslog\nservice: fallback\n", &values);
  Record r = ParseSyslogInputMessage("<34>May 31 23:59:00 gateway su[91]: 'su root' failed", false,
                                     *context, 1024, kNow);
  EXPECT_EQ(r.message, "'su root' failed");
  EXPECT_EQ(r.service, "su");
  EXPECT_EQ(r.host, "gateway");
  EXPECT_EQ(r.level, Level::kFatal);  // severity 2, crit
  EXPECT_EQ(Field(r, "facility"), "auth");
  // No year in RFC 3164: the most recent such time not more than a day after the clock.
  EXPECT_EQ(r.ts, kNow - 12 * 3600 * 1'000'000'000LL - 60 * 1'000'000'000LL);

  Record plain = ParseSyslogInputMessage("no header at all", true, *context, 1024, kNow);
  EXPECT_EQ(plain.message, "no header at all");
  EXPECT_EQ(plain.service, "fallback");
  EXPECT_NE(plain.flags & kFlagParseFailed, 0u);
  EXPECT_NE(plain.flags & kFlagTruncated, 0u);
}

TEST(SyslogInputMessage, AParserOtherThanAutoParsesTheMessagePart) {
  OptionValues values;
  auto context = Context("type: syslog\nparser: logfmt\n", &values);
  Record r = ParseSyslogInputMessage(
      "<14>1 2024-06-01T11:00:00Z web-1 checkout - - - msg=\"paid\" order=42", false, *context,
      1024, kNow);
  EXPECT_EQ(r.message, "paid");
  EXPECT_EQ(r.service, "checkout");
  EXPECT_EQ(r.host, "web-1");
  EXPECT_EQ(Field(r, "order"), "42");
  EXPECT_EQ(Field(r, "facility"), "user");
}

TEST(SyslogInputMessage, LongMessageIsCutAndFlagged) {
  OptionValues values;
  auto context = Context("type: syslog\n", &values);
  Record r = ParseSyslogInputMessage("<14>1 - h app - - - " + std::string(300, 'x'), false,
                                     *context, 256, kNow);
  EXPECT_EQ(r.message.size(), 256u);
  EXPECT_NE(r.flags & kFlagTruncated, 0u);
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(SyslogInput, TcpFramesAndUdpDatagramsArriveParsed) {
  const int port = FreePort();
  OptionValues values;
  auto context = Context("type: syslog\nprotocol: both\nservice: fallback\naddress: 127.0.0.1:" +
                             std::to_string(port) + "\n",
                         &values);
  auto input = CreateSyslogInput(values, std::move(context), 1024);
  ASSERT_TRUE(input.ok()) << input.status().ToString();

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // One newline-delimited message, one octet-counted message holding a newline, and a last
  // message without a newline that ends with the connection.
  const std::string counted = "<11>1 2024-06-01T10:00:00Z db-1 postgres - - - two\nlines";
  const std::string stream = "<14>1 2024-06-01T10:00:00Z web-1 nginx - - - one\n" +
                             std::to_string(counted.size()) + " " + counted +
                             "<13>May 31 10:00:00 web-2 cron: three";
  ASSERT_EQ(::send(tcp, stream.data(), stream.size(), 0), static_cast<ssize_t>(stream.size()));
  ::close(tcp);
  int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  const std::string datagram = "<12>1 2024-06-01T10:00:01Z edge-1 haproxy - - - four";
  ASSERT_EQ(::sendto(udp, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof(addr)),
            static_cast<ssize_t>(datagram.size()));
  ::close(udp);

  std::map<std::string, Record> by_message;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (by_message.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::vector<SourceRecord> out;
    (*input)->Poll(0, 100, 1 << 20, &out);
    for (auto& source : out) {
      ASSERT_TRUE(source.record.has_value());
      by_message[source.record->message] = *source.record;
    }
    if (out.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (*input)->Stop();
  ASSERT_EQ(by_message.size(), 4u);
  EXPECT_EQ(by_message["one"].service, "nginx");
  EXPECT_EQ(by_message["one"].host, "web-1");
  EXPECT_EQ(by_message["two\nlines"].service, "postgres");
  EXPECT_EQ(by_message["two\nlines"].level, Level::kError);
  EXPECT_EQ(by_message["three"].service, "cron");
  EXPECT_EQ(by_message["three"].host, "web-2");
  EXPECT_EQ(by_message["four"].service, "haproxy");
  EXPECT_EQ(by_message["four"].level, Level::kWarn);
}

}  // namespace
}  // namespace sawmill::agent
