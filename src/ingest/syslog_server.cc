#include "ingest/syslog_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "ingest/syslog_framing.h"
#include "ingest/syslog_parser.h"

namespace sawmill::ingest {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr size_t kReadBytes = size_t{64} * 1024;
constexpr size_t kMaxDatagram = 65536;

Result<std::pair<asio::ip::address, uint16_t>> ParseAddress(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("syslog address \"" + addr + "\": expected HOST:PORT");
  }
  std::string host = addr.substr(0, colon);
  std::string port_text = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Status::InvalidArgument("syslog address \"" + addr + "\": bad port \"" + port_text +
                                   "\"");
  }
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("syslog address \"" + addr + "\": \"" + host +
                                   "\" is not an IP address");
  }
  return std::make_pair(ip, static_cast<uint16_t>(port));
}

// Process-wide syslog metrics (one listener per process in practice).
struct SyslogMetrics {
  prometheus::Counter* tcp_messages;
  prometheus::Counter* udp_messages;
  prometheus::Counter* dropped;
  prometheus::Gauge* connections;

  static SyslogMetrics& Get() {
    static SyslogMetrics* metrics = [] {
      auto& registry = MetricsRegistry();
      auto& messages = prometheus::BuildCounter()
                           .Name("sawmill_syslog_messages_total")
                           .Help("Syslog messages received, by transport")
                           .Register(registry);
      auto& dropped = prometheus::BuildCounter()
                          .Name("sawmill_syslog_dropped_total")
                          .Help("Syslog messages lost because storage refused them")
                          .Register(registry);
      auto& connections = prometheus::BuildGauge()
                              .Name("sawmill_syslog_connections")
                              .Help("Open syslog TCP connections")
                              .Register(registry);
      return new SyslogMetrics{&messages.Add({{"transport", "tcp"}}),
                               &messages.Add({{"transport", "udp"}}), &dropped.Add({}),
                               &connections.Add({})};
    }();
    return *metrics;
  }
};

}  // namespace

struct SyslogServer::Impl {
  Impl(http::IngestSink* sink_in, SyslogServerOptions options_in)
      : sink(sink_in), options(std::move(options_in)), acceptor(io), udp_socket(io) {}

  http::IngestSink* sink;
  const SyslogServerOptions options;
  // Declared before "io": connections still queued in the io_context when it is destroyed
  // decrement the count from their destructors.
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  asio::io_context io;
  tcp::acceptor acceptor;
  udp::socket udp_socket;
  udp::endpoint udp_sender;
  std::vector<char> udp_buffer = std::vector<char>(kMaxDatagram);
  std::vector<std::thread> threads;
  uint16_t port = 0;

  ShipperContext ContextFor(const std::string& peer) const {
    ShipperContext context;
    context.tenant = options.tenant;
    context.defaults.host = peer;
    context.options.max_line_bytes = options.max_message_bytes;
    context.now_ns = WallNanos();
    return context;
  }

  void Deliver(std::vector<Record>* records) {
    if (records->empty()) return;
    Status status = sink->Ingest(options.tenant, "syslog", records);
    if (!status.ok()) {
      // Syslog has no way to ask the sender to retry: the loss is counted and logged.
      SyslogMetrics::Get().dropped->Increment(static_cast<double>(records->size()));
      spdlog::warn("syslog: {} records not stored: {}", records->size(), status.ToString());
    }
    records->clear();
  }

  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    Connection(Impl* impl, tcp::socket socket)
        : impl_(impl), socket_(std::move(socket)), decoder_(impl->options.max_message_bytes) {
      boost::system::error_code ec;
      auto endpoint = socket_.remote_endpoint(ec);
      if (!ec) peer_ = endpoint.address().to_string();
      SyslogMetrics::Get().connections->Increment();
    }
    ~Connection() {
      impl_->connections.fetch_sub(1);
      SyslogMetrics::Get().connections->Decrement();
    }

    void Read() {
      socket_.async_read_some(asio::buffer(buffer_),
                              [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                                self->OnRead(ec, n);
                              });
    }

   private:
    void OnRead(boost::system::error_code ec, size_t n) {
      ShipperContext context = impl_->ContextFor(peer_);
      std::vector<Record> records;
      auto emit = [&](std::string_view frame, bool truncated) {
        Record record = ParseSyslogMessage(frame, context);
        if (truncated) record.flags |= kFlagTruncated;
        records.push_back(std::move(record));
        SyslogMetrics::Get().tcp_messages->Increment();
        if (records.size() >= impl_->options.max_batch) impl_->Deliver(&records);
      };
      if (n > 0) decoder_.Feed(std::string_view(buffer_.data(), n), emit);
      if (ec) decoder_.Finish(emit);
      impl_->Deliver(&records);
      if (!ec && !impl_->stopped.load()) Read();
    }

    Impl* impl_;
    tcp::socket socket_;
    SyslogFrameDecoder decoder_;
    std::array<char, kReadBytes> buffer_;
    std::string peer_;
  };

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped.load()) return;
        spdlog::warn("syslog: accept failed: {}", ec.message());
      } else if (connections.load() >= options.max_connections) {
        spdlog::warn("syslog: refusing a connection: {} connections open", options.max_connections);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        connections.fetch_add(1);
        std::make_shared<Connection>(this, std::move(socket))->Read();
      }
      Accept();
    });
  }

  void Receive() {
    udp_socket.async_receive_from(
        asio::buffer(udp_buffer), udp_sender, [this](boost::system::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || stopped.load()) return;
          std::vector<Record> records;
          if (!ec) {
            Add(n, &records);
            // Drain what has already arrived so that a burst becomes one batch.
            while (records.size() < options.max_batch && udp_socket.available(ec) > 0 && !ec) {
              size_t got = udp_socket.receive_from(asio::buffer(udp_buffer), udp_sender, 0, ec);
              if (ec) break;
              Add(got, &records);
            }
          }
          Deliver(&records);
          Receive();
        });
  }

  void Add(size_t n, std::vector<Record>* records) {
    ShipperContext context = ContextFor(udp_sender.address().to_string());
    std::string_view datagram(udp_buffer.data(), n);
    bool truncated = false;
    if (datagram.size() > options.max_message_bytes) {
      datagram = datagram.substr(0, options.max_message_bytes);
      truncated = true;
    }
    Record record = ParseSyslogMessage(datagram, context);
    if (truncated) record.flags |= kFlagTruncated;
    records->push_back(std::move(record));
    SyslogMetrics::Get().udp_messages->Increment();
  }
};

SyslogServer::SyslogServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SyslogServer::~SyslogServer() { Stop(); }

uint16_t SyslogServer::port() const { return impl_->port; }

Result<std::unique_ptr<SyslogServer>> SyslogServer::Start(const std::string& addr,
                                                          http::IngestSink* sink,
                                                          SyslogServerOptions options) {
  ASSIGN_OR_RETURN(auto address, ParseAddress(addr));
  auto impl = std::make_unique<Impl>(sink, std::move(options));
  boost::system::error_code ec;
  tcp::endpoint tcp_endpoint(address.first, address.second);
  impl->acceptor.open(tcp_endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(tcp_endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("syslog: cannot listen on TCP " + addr + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  udp::endpoint udp_endpoint(address.first, impl->port);
  impl->udp_socket.open(udp_endpoint.protocol(), ec);
  if (!ec) impl->udp_socket.bind(udp_endpoint, ec);
  if (ec) {
    return Status::Unavailable("syslog: cannot bind UDP " + address.first.to_string() + ":" +
                               std::to_string(impl->port) + ": " + ec.message());
  }
  asio::socket_base::receive_buffer_size size(4 * 1024 * 1024);
  impl->udp_socket.set_option(size, ec);  // best effort: bursts of datagrams
  impl->Accept();
  impl->Receive();
  const int threads = std::max(1, impl->options.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  spdlog::info("syslog: listening on {} (TCP and UDP)", addr);
  return std::unique_ptr<SyslogServer>(new SyslogServer(std::move(impl)));
}

void SyslogServer::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  // Called from the destructor: nothing may escape.
  try {
    asio::post(impl_->io, [impl = impl_.get()] {
      boost::system::error_code ignored;
      impl->acceptor.close(ignored);
      impl->udp_socket.close(ignored);
    });
    impl_->io.stop();
    for (std::thread& thread : impl_->threads) {
      if (thread.joinable()) thread.join();
    }
  } catch (const std::exception& e) {
    spdlog::error("syslog: stopping the listener failed: {}", e.what());
  }
}

}  // namespace sawmill::ingest
