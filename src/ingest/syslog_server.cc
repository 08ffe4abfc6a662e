#include "ingest/syslog_server.h"

#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/mutex.h"
#include "ingest/syslog_framing.h"
#include "ingest/syslog_parser.h"

namespace sawmill::ingest {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using TlsSocket = ssl::stream<tcp::socket>;

namespace {

constexpr size_t kReadBytes = size_t{64} * 1024;
constexpr size_t kMaxDatagram = 65536;
// At most this much of a UDP burst goes into one Pipeline::Submit (one WAL sync).
constexpr size_t kUdpBatchRecords = 8192;
constexpr size_t kUdpBatchBytes = size_t{4} << 20;

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

asio::ip::address Unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

// Process-wide syslog metrics (one listener per process in practice).
struct SyslogMetrics {
  prometheus::Counter* tcp_messages;
  prometheus::Counter* udp_messages;
  prometheus::Counter* tls_messages;
  prometheus::Counter* dropped;         // reason="storage_refused"
  prometheus::Counter* kernel_dropped;  // reason="kernel_buffer"
  prometheus::Counter* too_long;        // reason="frame_too_long" (syslog over TLS)
  prometheus::Gauge* connections;
  prometheus::Gauge* udp_buffer;
  prometheus::Counter* refused_total;        // reason="max_connections"
  prometheus::Counter* refused_per_address;  // reason="per_address"

  static SyslogMetrics& Get() {
    static SyslogMetrics* metrics = [] {
      auto& registry = MetricsRegistry();
      auto& messages = prometheus::BuildCounter()
                           .Name("sawmill_syslog_messages_total")
                           .Help("Syslog messages received, by transport")
                           .Register(registry);
      auto& dropped =
          prometheus::BuildCounter()
              .Name("sawmill_syslog_dropped_total")
              .Help(
                  "Syslog messages lost, by reason: storage_refused (storage refused the "
                  "batch), kernel_buffer (UDP datagrams the kernel dropped because the "
                  "socket's receive buffer was full), frame_too_long (syslog over TLS: an "
                  "octet-counted frame longer than the largest message; its connection was "
                  "closed)")
              .Register(registry);
      auto* connections =
          UnlabelledGauge("sawmill_syslog_connections", "Open syslog TCP connections");
      auto* udp_buffer =
          UnlabelledGauge("sawmill_syslog_udp_receive_buffer_bytes",
                          "The UDP socket's receive buffer as granted by the kernel");
      auto& refused = prometheus::BuildCounter()
                          .Name("sawmill_syslog_refused_connections_total")
                          .Help(
                              "Syslog TCP connections closed at accept, by reason "
                              "(max_connections, per_address)")
                          .Register(registry);
      return new SyslogMetrics{&messages.Add({{"transport", "tcp"}}),
                               &messages.Add({{"transport", "udp"}}),
                               &messages.Add({{"transport", "tls"}}),
                               &dropped.Add({{"reason", "storage_refused"}}),
                               &dropped.Add({{"reason", "kernel_buffer"}}),
                               &dropped.Add({{"reason", "frame_too_long"}}),
                               connections,
                               udp_buffer,
                               &refused.Add({{"reason", "max_connections"}}),
                               &refused.Add({{"reason", "per_address"}})};
    }();
    return *metrics;
  }
};

}  // namespace

struct SyslogServer::Impl {
  Impl(Pipeline* pipeline_in, SyslogServerOptions options_in)
      : pipeline(pipeline_in),
        options(std::move(options_in)),
        acceptor(io),
        udp_socket(io),
        drop_timer(io) {}

  Pipeline* pipeline;
  const SyslogServerOptions options;
  // Declared before "io": connections still queued in the io_context when it is destroyed
  // decrement the count from their destructors.
  std::atomic<size_t> connections{0};
  Mutex peers_mu;
  std::unordered_map<std::string, size_t> per_peer GUARDED_BY(peers_mu);
  std::atomic<bool> stopped{false};
  asio::io_context io;
  tcp::acceptor acceptor;
  udp::socket udp_socket;
  asio::steady_timer drop_timer;
  udp::endpoint udp_sender;
  std::vector<char> udp_buffer = std::vector<char>(kMaxDatagram);
  std::vector<std::thread> threads;
  uint16_t port = 0;
  size_t udp_buffer_granted = 0;

  // The kernel's drop counter of the UDP socket (sk_drops: a 32-bit count since the socket was
  // created), seen in SO_RXQ_OVFL control messages and read with SO_MEMINFO.
  Mutex drops_mu;
  uint32_t kernel_drops_seen GUARDED_BY(drops_mu) = 0;
  uint64_t kernel_drops_total GUARDED_BY(drops_mu) = 0;
  uint64_t kernel_drops_unlogged GUARDED_BY(drops_mu) = 0;
  std::chrono::steady_clock::time_point last_drop_log GUARDED_BY(drops_mu);
  uint64_t refused_unlogged GUARDED_BY(drops_mu) = 0;
  std::chrono::steady_clock::time_point last_refused_log GUARDED_BY(drops_mu);
  uint64_t handshakes_unlogged GUARDED_BY(drops_mu) = 0;
  std::chrono::steady_clock::time_point last_handshake_log GUARDED_BY(drops_mu);
  uint64_t too_long_unlogged GUARDED_BY(drops_mu) = 0;
  std::chrono::steady_clock::time_point last_too_long_log GUARDED_BY(drops_mu);

  // A failed TLS handshake: counted by "reason" ("timeout", "plain_text", "error"), logged at
  // most once per interval with the last reason.
  void HandshakeFailed(const std::string& peer, std::string_view reason, const std::string& why) {
    tls::CountHandshakeFailure("syslog", reason);
    MutexLock lock(&drops_mu);
    ++handshakes_unlogged;
    auto now = std::chrono::steady_clock::now();
    if (now - last_handshake_log < std::chrono::milliseconds(options.drop_log_interval_ms)) return;
    spdlog::warn("syslog: {} TLS handshake(s) failed; the last from {}: {}", handshakes_unlogged,
                 peer, why);
    handshakes_unlogged = 0;
    last_handshake_log = now;
  }

  // A TLS connection closed for an octet-counted frame longer than max_message_bytes: counted
  // (the frame is lost), logged at most once per interval.
  void FrameTooLong(const std::string& peer, size_t length) {
    SyslogMetrics::Get().too_long->Increment();
    MutexLock lock(&drops_mu);
    ++too_long_unlogged;
    auto now = std::chrono::steady_clock::now();
    if (now - last_too_long_log < std::chrono::milliseconds(options.drop_log_interval_ms)) return;
    spdlog::warn(
        "syslog: closed {} TLS connection(s) for a frame longer than max_message_bytes; the last "
        "from {} announced a frame of {} bytes, the largest is {} bytes (the frames before it "
        "were stored)",
        too_long_unlogged, peer, length, options.max_message_bytes);
    too_long_unlogged = 0;
    last_too_long_log = now;
  }

  // The pipeline's context for messages from "peer" (its address is the default host). Syslog
  // passes no level default, so Begin cannot fail.
  ShipperContext ContextFor(const std::string& peer) const {
    IngestCall call;
    call.tenant = options.tenant;
    call.protocol = "syslog";
    call.host = peer;
    Result<ShipperContext> context = pipeline->Begin(call);
    return context.ok() ? *std::move(context) : ShipperContext();
  }

  void Deliver(const ShipperContext& context, std::vector<Record>* records) {
    if (records->empty()) return;
    Status status = pipeline->Submit(context, "syslog", records);
    if (!status.ok()) {
      // Syslog has no way to ask the sender to retry: the loss is counted and logged.
      SyslogMetrics::Get().dropped->Increment(static_cast<double>(records->size()));
      spdlog::warn("syslog: {} records not stored: {}", records->size(), status.ToString());
    }
    records->clear();
  }

  // Takes a connection slot for "peer" unless the per-address cap is reached.
  bool AdmitPeer(const std::string& peer) {
    MutexLock lock(&peers_mu);
    size_t& count = per_peer[peer];
    if (options.max_connections_per_address > 0 && count >= options.max_connections_per_address) {
      if (count == 0) per_peer.erase(peer);
      return false;
    }
    ++count;
    return true;
  }
  void ReleasePeer(const std::string& peer) {
    MutexLock lock(&peers_mu);
    auto it = per_peer.find(peer);
    if (it != per_peer.end() && --it->second == 0) per_peer.erase(it);
  }

  // Closes a connection past a cap: counted, logged at most once per interval.
  void Refuse(tcp::socket* socket, const std::string& peer, bool per_address) {
    (per_address ? SyslogMetrics::Get().refused_per_address : SyslogMetrics::Get().refused_total)
        ->Increment();
    boost::system::error_code ignored;
    socket->close(ignored);
    MutexLock lock(&drops_mu);
    ++refused_unlogged;
    auto now = std::chrono::steady_clock::now();
    if (now - last_refused_log < std::chrono::milliseconds(options.drop_log_interval_ms)) return;
    spdlog::warn(
        "syslog: refused {} TCP connection(s); the last from {} ({} connections open, at most "
        "{} per address and {} in all)",
        refused_unlogged, peer, connections.load(), options.max_connections_per_address,
        options.max_connections);
    refused_unlogged = 0;
    last_refused_log = now;
  }

  // One TCP connection: "Stream" is the socket, or a TLS stream over it (RFC 5425). Its
  // handlers run on the socket's strand.
  template <class Stream>
  class Connection : public std::enable_shared_from_this<Connection<Stream>> {
   public:
    static constexpr bool kTls = std::is_same_v<Stream, TlsSocket>;

    // REQUIRES: the caller counted the connection and admitted "peer" (AdmitPeer).
    // "tls_context" (null for plain TCP) is the context "socket" was made with.
    Connection(Impl* impl, Stream socket, std::shared_ptr<ssl::context> tls_context,
               std::string peer)
        : impl_(impl),
          tls_context_(std::move(tls_context)),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          decoder_(impl->options.max_message_bytes),
          peer_(std::move(peer)) {
      SyslogMetrics::Get().connections->Increment();
      // RFC 5425 asks nothing of an oversized frame; cutting it (as on TCP) would take the
      // rest of its bytes for the next frame's start when the length is a lie, so the TLS door
      // refuses it and closes the connection (counted and logged).
      decoder_.set_refuse_oversized(kTls);
    }
    ~Connection() {
      impl_->ReleasePeer(peer_);
      impl_->connections.fetch_sub(1);
      SyslogMetrics::Get().connections->Decrement();
    }

    // TLS: the handshake first, within tls_handshake_timeout (a client that connects and says
    // nothing holds its slot no longer); then the frames.
    void Start() {
      if constexpr (kTls) {
        timer_.expires_after(std::chrono::milliseconds(impl_->options.tls_handshake_timeout_ms));
        timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
          self->OnHandshakeDeadline(ec);
        });
        // The client's first byte must open a TLS handshake record (22): a plain-text sender
        // on this port is told apart from a broken handshake, in the log and the metric.
        socket_.lowest_layer().async_wait(
            tcp::socket::wait_read,
            [self = this->shared_from_this()](boost::system::error_code ec) {
              if (ec || self->timed_out_) return self->HandshakeError(ec);
              unsigned char first = 0;
              ssize_t n = ::recv(self->socket_.lowest_layer().native_handle(), &first, 1,
                                 MSG_PEEK | MSG_DONTWAIT);
              if (n == 1 && first != 22) {
                self->timer_.cancel();
                self->impl_->HandshakeFailed(
                    self->peer_, "plain_text",
                    "it sent plain text, not a TLS handshake: this port speaks syslog over TLS "
                    "(RFC 5425); plain syslog goes to the --syslog port");
                boost::system::error_code ignored;
                self->socket_.lowest_layer().close(ignored);
                return;
              }
              self->Handshake();
            });
      } else {
        Read();
      }
    }

   private:
    // The handshake's deadline passed. The server may be the late one (its threads busy
    // storing other connections' batches) while the client has done its part: a handshake
    // step already read is let finish first (the close is posted behind it), and a client
    // whose bytes wait unread in the socket gets the timeout once more. A client that sends
    // nothing is closed; one that trickles bytes is held at most twice the timeout.
    void OnHandshakeDeadline(boost::system::error_code ec) {
      if (ec || shaken_) return;
      boost::system::error_code e;
      if (!extended_ && socket_.lowest_layer().available(e) > 0 && !e) {
        extended_ = true;
        timer_.expires_after(std::chrono::milliseconds(impl_->options.tls_handshake_timeout_ms));
        timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec2) {
          self->OnHandshakeDeadline(ec2);
        });
        return;
      }
      asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
        if (self->shaken_) return;
        self->timed_out_ = true;
        boost::system::error_code ignored;
        self->socket_.lowest_layer().close(ignored);
      });
    }

    void Handshake() {
      socket_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                if (ec) return self->HandshakeError(ec);
                                self->timer_.cancel();
                                self->shaken_ = true;
                                self->Read();
                              });
    }

    // The handshake failed or the client left (a client that connects and closes is no failure).
    void HandshakeError(boost::system::error_code ec) {
      timer_.cancel();
      if (timed_out_) {
        impl_->HandshakeFailed(peer_, "timeout", "no handshake within tls_handshake_timeout");
      } else if (ec && ec != asio::error::eof && ec != asio::error::connection_reset &&
                 ec != asio::error::operation_aborted) {
        impl_->HandshakeFailed(peer_, "error", ec.message());
      }
    }

    void Read() {
      socket_.async_read_some(asio::buffer(buffer_),
                              [self = this->shared_from_this()](boost::system::error_code ec,
                                                                size_t n) { self->OnRead(ec, n); });
    }

    void OnRead(boost::system::error_code ec, size_t n) {
      ShipperContext context = impl_->ContextFor(peer_);
      std::vector<Record> records;
      auto emit = [&](std::string_view frame, bool truncated) {
        Record record = ParseSyslogMessage(frame, context);
        if (truncated) record.flags |= kFlagTruncated;
        records.push_back(std::move(record));
        (kTls ? SyslogMetrics::Get().tls_messages : SyslogMetrics::Get().tcp_messages)->Increment();
        if (records.size() >= impl_->options.max_batch) impl_->Deliver(context, &records);
      };
      if (n > 0) decoder_.Feed(std::string_view(buffer_.data(), n), emit);
      if (ec) decoder_.Finish(emit);
      impl_->Deliver(context, &records);
      if (decoder_.refused()) {
        impl_->FrameTooLong(peer_, decoder_.refused_length());
        boost::system::error_code ignored;
        socket_.lowest_layer().close(ignored);
        return;
      }
      // An ssl::stream hands out what OpenSSL decrypted (and holds: SSL_pending, or records
      // already read from the socket) before it reads the socket again, so reading on until
      // an error loses nothing that arrived with the peer's close.
      if (!ec && !impl_->stopped.load()) return Read();
      if constexpr (kTls) {
        // The sender's close_notify (eof; a close without one is stream_truncated): RFC 5425
        // answers it with ours, within tls_handshake_timeout, then the connection closes.
        if (ec == asio::error::eof && !impl_->stopped.load()) {
          timer_.expires_after(std::chrono::milliseconds(impl_->options.tls_handshake_timeout_ms));
          timer_.async_wait([self = this->shared_from_this()](boost::system::error_code e) {
            if (e) return;
            boost::system::error_code ignored;
            self->socket_.lowest_layer().close(ignored);
          });
          socket_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) {
            self->timer_.cancel();
          });
        }
      }
    }

    Impl* impl_;
    std::shared_ptr<ssl::context> tls_context_;  // before socket_: outlives it
    Stream socket_;
    asio::steady_timer timer_;  // the handshake's deadline
    bool shaken_ = false;
    bool timed_out_ = false;
    bool extended_ = false;  // the handshake deadline was extended once
    SyslogFrameDecoder decoder_;
    std::array<char, kReadBytes> buffer_;
    std::string peer_;
  };

  void Accept() {
    // Each connection on a strand of its own: its handshake deadline and reads never run at
    // once, whatever the number of threads.
    acceptor.async_accept(
        asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec == asio::error::operation_aborted || stopped.load()) return;
            spdlog::warn("syslog: accept failed: {}", ec.message());
          } else {
            boost::system::error_code peer_ec;
            auto endpoint = socket.remote_endpoint(peer_ec);
            std::string peer = peer_ec ? "" : Unmapped(endpoint.address()).to_string();
            if (connections.load() >= options.max_connections) {
              Refuse(&socket, peer, /*per_address=*/false);
            } else if (!AdmitPeer(peer)) {
              Refuse(&socket, peer, /*per_address=*/true);
            } else {
              connections.fetch_add(1);
              if (options.tls) {
                // The context current now: a reload (SIGHUP) affects later connections only.
                std::shared_ptr<ssl::context> context = options.tls->Current();
                TlsSocket stream(std::move(socket), *context);
                // No TLS 1.3 session tickets: syslog is one-way and its senders never read, so
                // tickets sent after the handshake lay unread in the sender's socket, and its
                // close then reset the connection (RST), which throws away whatever the
                // sender's kernel had not sent yet: the last frames were lost (one run in two
                // with Python's ssl). With nothing to read, a sender's close is a FIN after
                // all of its data.
                SSL_set_num_tickets(stream.native_handle(), 0);
                std::make_shared<Connection<TlsSocket>>(this, std::move(stream), std::move(context),
                                                        std::move(peer))
                    ->Start();
              } else {
                std::make_shared<Connection<tcp::socket>>(this, std::move(socket), nullptr,
                                                          std::move(peer))
                    ->Start();
              }
            }
          }
          Accept();
        });
  }

  // Waits until datagrams are queued, then reads them with recvmsg() so that the kernel's
  // drop counter (SO_RXQ_OVFL) comes with each one.
  void Receive() {
    udp_socket.async_wait(udp::socket::wait_read, [this](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || stopped.load()) return;
      std::vector<Record> records;
      const ShipperContext batch_context = ContextFor("");
      // Drain what has already arrived so that a burst becomes one batch: while storage syncs
      // one batch the kernel queues the next, so larger batches keep up with faster bursts.
      size_t bytes = 0;
      while (!ec && records.size() < kUdpBatchRecords && bytes < kUdpBatchBytes) {
        ssize_t n = ReceiveOne();
        if (n < 0) break;
        bytes += static_cast<size_t>(n);
        Add(static_cast<size_t>(n), &records);
      }
      Deliver(batch_context, &records);
      CheckKernelDrops(/*log=*/true);
      Receive();
    });
  }

  // Reads one datagram into udp_buffer and its sender into udp_sender without blocking.
  // Returns its size, or -1 when none is queued (or on an error, which is logged).
  ssize_t ReceiveOne() {
    sockaddr_storage from{};
    iovec iov{udp_buffer.data(), udp_buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(udp_socket.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::warn("syslog: receiving a UDP datagram failed: {}", std::strerror(errno));
      }
      return -1;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops = 0;
        std::memcpy(&drops, CMSG_DATA(c), sizeof(drops));
        NoteKernelDrops(drops);
      }
    }
    if (from.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&from);
      udp_sender =
          udp::endpoint(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)), ntohs(in->sin_port));
    } else if (from.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&from);
      asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      asio::ip::address_v6 v6(bytes, in6->sin6_scope_id);
      udp_sender = udp::endpoint(
          v6.is_v4_mapped() ? asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6))
                            : asio::ip::address(v6),
          ntohs(in6->sin6_port));
    }
    return n;
  }

  // "counter" is a reading of the socket's cumulative drop count; counts what is new.
  void NoteKernelDrops(uint32_t counter) {
    MutexLock lock(&drops_mu);
    auto delta = static_cast<uint32_t>(counter - kernel_drops_seen);
    // A control message carries the count from when its datagram was queued, so it can be
    // older than a SO_MEMINFO reading: only move forward.
    if (delta == 0 || delta > (1u << 31)) return;
    kernel_drops_seen = counter;
    kernel_drops_total += delta;
    kernel_drops_unlogged += delta;
    SyslogMetrics::Get().kernel_dropped->Increment(static_cast<double>(delta));
  }

  // Reads the drop counter now (drops after the last queued datagram are in no control
  // message yet) and, with "log", logs the drops not yet logged at most once per interval.
  void CheckKernelDrops(bool log) {
    uint32_t meminfo[SK_MEMINFO_VARS] = {};
    socklen_t size = sizeof(meminfo);
    if (::getsockopt(udp_socket.native_handle(), SOL_SOCKET, SO_MEMINFO, meminfo, &size) == 0 &&
        size > SK_MEMINFO_DROPS * sizeof(uint32_t)) {
      NoteKernelDrops(meminfo[SK_MEMINFO_DROPS]);
    }
    if (!log) return;
    MutexLock lock(&drops_mu);
    auto now = std::chrono::steady_clock::now();
    if (kernel_drops_unlogged == 0 ||
        now - last_drop_log < std::chrono::milliseconds(options.drop_log_interval_ms)) {
      return;
    }
    spdlog::warn(
        "syslog: the kernel dropped {} UDP datagrams ({} since start) because the receive buffer "
        "({} bytes) was full; UDP has no backpressure and no retry: raise --syslog-udp-buffer "
        "(and net.core.rmem_max) or send over TCP or through the agent",
        kernel_drops_unlogged, kernel_drops_total, udp_buffer_granted);
    kernel_drops_unlogged = 0;
    last_drop_log = now;
  }

  // Logs drops that happened after the last burst, when no datagram wakes Receive() up.
  void DropTick() {
    drop_timer.expires_after(
        std::chrono::milliseconds(std::max(100, options.drop_log_interval_ms)));
    drop_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped.load()) return;
      CheckKernelDrops(/*log=*/true);
      DropTick();
    });
  }

  // Sets SO_RXQ_OVFL and the receive buffer; returns the buffer the kernel granted.
  void ConfigureUdpSocket() {
    int fd = udp_socket.native_handle();
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0) {
      spdlog::warn("syslog: cannot enable SO_RXQ_OVFL ({}); kernel drops are read with SO_MEMINFO",
                   std::strerror(errno));
    }
    int wanted = static_cast<int>(std::min<size_t>(options.udp_receive_buffer_bytes, 1u << 30));
    auto granted = [fd] {
      int value = 0;
      socklen_t size = sizeof(value);
      ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &size);
      return value;
    };
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof(wanted));
    // The kernel doubles the value for its bookkeeping and caps it at net.core.rmem_max;
    // SO_RCVBUFFORCE passes the cap when the process has CAP_NET_ADMIN.
    if (granted() < wanted) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof(wanted));
    udp_buffer_granted = static_cast<size_t>(granted());
    SyslogMetrics::Get().udp_buffer->Set(static_cast<double>(udp_buffer_granted));
    if (udp_buffer_granted < static_cast<size_t>(wanted)) {
      spdlog::warn(
          "syslog: the UDP receive buffer is {} bytes, less than the {} asked for: "
          "net.core.rmem_max caps it (raise it with sysctl, or grant CAP_NET_ADMIN)",
          udp_buffer_granted, wanted);
    }
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

size_t SyslogServer::udp_receive_buffer_bytes() const { return impl_->udp_buffer_granted; }

uint64_t SyslogServer::udp_kernel_drops() const {
  impl_->CheckKernelDrops(/*log=*/false);
  MutexLock lock(&impl_->drops_mu);
  return impl_->kernel_drops_total;
}

Result<std::unique_ptr<SyslogServer>> SyslogServer::Start(const std::string& addr,
                                                          Pipeline* pipeline,
                                                          SyslogServerOptions options) {
  ASSIGN_OR_RETURN(auto address, ParseAddress(addr));
  auto impl = std::make_unique<Impl>(pipeline, std::move(options));
  boost::system::error_code ec;
  tcp::endpoint tcp_endpoint(address.first, address.second);
  impl->acceptor.open(tcp_endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(tcp_endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("syslog: cannot listen on TCP " + addr + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  const std::string host =
      address.first.is_v6() ? "[" + address.first.to_string() + "]" : address.first.to_string();
  if (impl->options.tls) {
    impl->Accept();
    const int threads = std::max(1, impl->options.threads);
    for (int i = 0; i < threads; ++i) {
      impl->threads.emplace_back([io = &impl->io] { io->run(); });
    }
    spdlog::info("syslog: listening on {}:{} (TCP over TLS, RFC 5425)", host, impl->port);
    return std::unique_ptr<SyslogServer>(new SyslogServer(std::move(impl)));
  }
  udp::endpoint udp_endpoint(address.first, impl->port);
  impl->udp_socket.open(udp_endpoint.protocol(), ec);
  if (!ec) impl->udp_socket.bind(udp_endpoint, ec);
  if (ec) {
    return Status::Unavailable("syslog: cannot bind UDP " + address.first.to_string() + ":" +
                               std::to_string(impl->port) + ": " + ec.message());
  }
  impl->ConfigureUdpSocket();
  impl->Accept();
  impl->Receive();
  impl->DropTick();
  const int threads = std::max(1, impl->options.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  // The one start-up line for syslog, with the port actually bound (":0" picks one).
  spdlog::info("syslog: listening on {}:{} (TCP and UDP)", host, impl->port);
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
      impl->drop_timer.cancel();
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
