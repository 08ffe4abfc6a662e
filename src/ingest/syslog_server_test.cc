#include "ingest/syslog_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/metrics.h"

namespace sawmill::ingest {
namespace {

namespace asio = boost::asio;

class WaitingSink : public IngestSink {
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
  Pipeline pipeline(&sink);
  auto server = SyslogServer::Start("127.0.0.1:0", &pipeline);
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
  Pipeline pipeline(&sink);
  auto server = SyslogServer::Start("127.0.0.1:0", &pipeline);
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

class RefusingSink : public IngestSink {
 public:
  Status Ingest(const std::string&, std::string_view, std::vector<Record>* records) override {
    refused_ += records->size();
    return Status::Unavailable("disk full");
  }
  std::atomic<size_t> refused_{0};
};

// sawmill_syslog_dropped_total{reason="..."}; -1 when absent.
double DropMetric(const std::string& reason) {
  const std::string text = SerializeMetrics();
  const std::string name = "sawmill_syslog_dropped_total{reason=\"" + reason + "\"} ";
  size_t at = text.find(name);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

TEST(SyslogServer, MessagesStorageRefusesAreCountedAsDropped) {
  const double before = DropMetric("storage_refused");
  RefusingSink sink;
  Pipeline pipeline(&sink);
  auto server = SyslogServer::Start("127.0.0.1:0", &pipeline);
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
  EXPECT_EQ(DropMetric("storage_refused"), std::max(before, 0.0) + 1) << SerializeMetrics();
}

// Storage slower than a burst of datagrams: the first batch waits until the test opens the
// gate, so the datagrams sent meanwhile overflow the socket's receive buffer.
class GatedSink : public IngestSink {
 public:
  Status Ingest(const std::string&, std::string_view, std::vector<Record>* records) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return open_; });
    stored_ += records->size();
    return Status::OK();
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  size_t stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  size_t stored_ = 0;
};

double KernelDropMetric() { return DropMetric("kernel_buffer"); }

// Sends "count" small datagrams as fast as the socket takes them; returns how many were sent.
size_t SendBurst(uint16_t port, size_t count) {
  asio::io_context io;
  asio::ip::udp::socket udp(io, asio::ip::udp::v4());
  const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), port);
  size_t sent = 0;
  for (size_t i = 0; i < count; ++i) {
    std::string datagram = "<13>1 - burst app - - - datagram " + std::to_string(i);
    boost::system::error_code ec;
    udp.send_to(asio::buffer(datagram), to, 0, ec);
    if (!ec) ++sent;
  }
  return sent;
}

// Every datagram of a burst is either stored or counted as dropped by the kernel, once the
// receiver has caught up; returns {stored, dropped}.
std::pair<size_t, uint64_t> WaitForAccounting(GatedSink* sink, SyslogServer* server, size_t sent) {
  for (int wait = 0; wait < 3000; ++wait) {
    if (sink->stored() + server->udp_kernel_drops() >= sent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {sink->stored(), server->udp_kernel_drops()};
}

TEST(SyslogServer, UdpDatagramsTheKernelDropsAreCounted) {
  GatedSink sink;
  Pipeline pipeline(&sink);
  SyslogServerOptions options;
  options.udp_receive_buffer_bytes = 4096;  // the kernel's minimum is about this
  auto server = SyslogServer::Start("127.0.0.1:0", &pipeline, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_LT((*server)->udp_receive_buffer_bytes(), size_t{64} * 1024);
  const double metric_before = KernelDropMetric();
  ASSERT_GE(metric_before, 0) << SerializeMetrics();

  const size_t sent = SendBurst((*server)->port(), 20'000);
  ASSERT_GT(sent, 0u);
  sink.Open();
  auto [stored, dropped] = WaitForAccounting(&sink, server->get(), sent);
  EXPECT_GT(stored, 0u);
  EXPECT_GT(dropped, 0u) << "the burst did not overflow a 4 KiB receive buffer";
  EXPECT_EQ(stored + dropped, sent) << stored << " stored, " << dropped << " dropped";
  EXPECT_EQ(KernelDropMetric() - metric_before, static_cast<double>(dropped));

  // A second burst without the gate: whatever the receiver keeps up with, nothing is unseen.
  const size_t stored_before = stored;
  const uint64_t dropped_before = dropped;
  const size_t sent2 = SendBurst((*server)->port(), 20'000);
  for (int wait = 0; wait < 3000; ++wait) {
    if (sink.stored() - stored_before + (*server)->udp_kernel_drops() - dropped_before >= sent2) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(sink.stored() - stored_before + (*server)->udp_kernel_drops() - dropped_before, sent2);
  EXPECT_EQ(KernelDropMetric() - metric_before, static_cast<double>((*server)->udp_kernel_drops()));
  (*server)->Stop();
}

TEST(SyslogServer, OneAddressCannotTakeEveryTcpConnection) {
  WaitingSink sink;
  Pipeline pipeline(&sink);
  SyslogServerOptions options;
  options.max_connections_per_address = 2;
  auto server = SyslogServer::Start("127.0.0.1:0", &pipeline, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const asio::ip::tcp::endpoint to(asio::ip::make_address("127.0.0.1"), (*server)->port());
  auto refused_metric = [] {
    const std::string text = SerializeMetrics();
    const std::string name = "sawmill_syslog_refused_connections_total{reason=\"per_address\"} ";
    size_t at = text.find(name);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size()));
  };
  asio::io_context io;
  auto connect_from = [&](const char* source) {
    auto socket = std::make_unique<asio::ip::tcp::socket>(io);
    socket->open(asio::ip::tcp::v4());
    socket->bind({asio::ip::make_address(source), 0});
    socket->connect(to);
    return socket;
  };
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(connect_from("127.0.0.1"));
    asio::write(*held.back(),
                asio::buffer("<13>1 - held app - - - held " + std::to_string(i) + "\n"));
    ASSERT_EQ(sink.WaitFor(i + 1).size(), static_cast<size_t>(i + 1));  // admitted
  }
  const double before = refused_metric();
  auto extra = connect_from("127.0.0.1");
  char byte;
  boost::system::error_code ec;
  extra->read_some(asio::buffer(&byte, 1), ec);  // closed by the server at once
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_EQ(refused_metric(), std::max(before, 0.0) + 1);
  // Another address still gets in.
  auto other = connect_from("127.0.0.2");
  asio::write(*other, asio::buffer(std::string("<13>1 - other app - - - from another address\n")));
  std::vector<Record> records = sink.WaitFor(3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.back().message, "from another address");
  (*server)->Stop();
}

TEST(SyslogServer, BadAddressesAreRejected) {
  WaitingSink sink;
  Pipeline pipeline(&sink);
  EXPECT_TRUE(SyslogServer::Start("nonsense", &pipeline).status().IsInvalidArgument());
  EXPECT_TRUE(SyslogServer::Start("127.0.0.1:99999", &pipeline).status().IsInvalidArgument());
  EXPECT_TRUE(SyslogServer::Start("not-an-ip:514", &pipeline).status().IsInvalidArgument());
}

}  // namespace
}  // namespace sawmill::ingest
