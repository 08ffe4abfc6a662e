#include "ingest/syslog_server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/metrics.h"

namespace sawmill::ingest {
namespace {

namespace asio = boost::asio;

class WaitingSink : public http::IngestSink {
 public:
  Status Ingest(const std::string& tenant, std::string_view protocol,
                std::vector<Record>* records) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(tenant, "default");
    EXPECT_EQ(protocol, "syslog");
    for (Record& r : *records) records_.push_back(r);
    cv_.notify_all();
    return Status::OK();
  }
  // Waits (at most 10 s) until "count" records have arrived; returns them.
  std::vector<Record> WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return records_.size() >= count; });
    return records_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Record> records_;
};

TEST(SyslogServer, ReceivesTcpFramesAndUdpDatagramsOnOnePort) {
  WaitingSink sink;
  auto server = SyslogServer::Start("127.0.0.1:0", &sink);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  asio::io_context io;
  asio::ip::tcp::socket tcp(io);
  tcp.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string stream =
      "40 <13>1 - web1 app - - - tcp octet counted"
      "<14>Nov 30 11:28:47 web2 nginx: tcp newline framed\n";
  asio::write(tcp, asio::buffer(stream));
  tcp.close();

  asio::ip::udp::socket udp(io, asio::ip::udp::v4());
  const std::string datagram = "<11>1 2026-11-30T11:00:00Z web3 db - - - udp datagram";
  udp.send_to(asio::buffer(datagram), {asio::ip::make_address("127.0.0.1"), port});

  std::vector<Record> records = sink.WaitFor(3);
  ASSERT_EQ(records.size(), 3u);
  std::map<std::string, Record> by_host;
  for (const Record& r : records) by_host[r.host] = r;
  EXPECT_EQ(by_host["web1"].message, "tcp octet counted");
  EXPECT_EQ(by_host["web2"].service, "nginx");
  EXPECT_EQ(by_host["web2"].message, "tcp newline framed");
  EXPECT_EQ(by_host["web3"].level, Level::kError);
  EXPECT_EQ(by_host["web3"].message, "udp datagram");
  (*server)->Stop();
  (*server)->Stop();  // idempotent
}

TEST(SyslogServer, PartialFrameAtDisconnectIsStoredAsTruncated) {
  WaitingSink sink;
  auto server = SyslogServer::Start("127.0.0.1:0", &sink);
  ASSERT_TRUE(server.ok());
  asio::io_context io;
  asio::ip::tcp::socket tcp(io);
  tcp.connect({asio::ip::make_address("127.0.0.1"), (*server)->port()});
  asio::write(tcp, asio::buffer(std::string("500 <13>1 - h a - - - cut short")));
  tcp.close();
  std::vector<Record> records = sink.WaitFor(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].flags & kFlagTruncated);
  EXPECT_EQ(records[0].message, "cut short");
}

class RefusingSink : public http::IngestSink {
 public:
  Status Ingest(const std::string&, std::string_view, std::vector<Record>* records) override {
    refused_ += records->size();
    return Status::Unavailable("disk full");
  }
  std::atomic<size_t> refused_{0};
};

TEST(SyslogServer, MessagesStorageRefusesAreCountedAsDropped) {
  RefusingSink sink;
  auto server = SyslogServer::Start("127.0.0.1:0", &sink);
  ASSERT_TRUE(server.ok());
  asio::io_context io;
  asio::ip::udp::socket udp(io, asio::ip::udp::v4());
  udp.send_to(asio::buffer(std::string("<13>1 - h a - - - lost")),
              {asio::ip::make_address("127.0.0.1"), (*server)->port()});
  for (int wait = 0; wait < 1000 && sink.refused_.load() == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*server)->Stop();
  EXPECT_EQ(sink.refused_.load(), 1u);
  EXPECT_NE(SerializeMetrics().find("sawmill_syslog_dropped_total 1\n"), std::string::npos)
      << SerializeMetrics();
}

TEST(SyslogServer, BadAddressesAreRejected) {
  WaitingSink sink;
  EXPECT_TRUE(SyslogServer::Start("nonsense", &sink).status().IsInvalidArgument());
  EXPECT_TRUE(SyslogServer::Start("127.0.0.1:99999", &sink).status().IsInvalidArgument());
  EXPECT_TRUE(SyslogServer::Start("not-an-ip:514", &sink).status().IsInvalidArgument());
}

}  // namespace
}  // namespace sawmill::ingest
