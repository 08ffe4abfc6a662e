// bench_http: the load generators of bench/run.sh. Each mode prints one JSON object on stdout.
//
//   ingest --addr H:P --file F [--clients 8] [--batch 1000] [--lines N] [--rate LINES_PER_S]
//          [--path /api/v1/ingest] [--max-seconds S] [--batch-bytes B] [--retry-429 0|1]
//          [--latencies FILE]
//       Sends F's lines in batches of --batch from --clients keep-alive connections and times
//       each acknowledgement (request sent -> 200 received). --batch-bytes B: batches of whole
//       lines of at most B bytes instead (--batch is then ignored). --retry-429 1: a batch
//       answered 429 is sent again after its Retry-After (as shippers do), and its latency runs
//       from the first send to the 200; "retried_429" counts the retries.
//   query  --addr H:P --target T [--runs 20] [--warmup 0] [--body-out FILE]
//          [--max-seconds S --min-runs 5]
//       Runs GET T one after another; "{i}" in T becomes the run number (to bust caches).
//       With --max-seconds, stops early once S seconds have passed and --min-runs are done.
//   storm  --addr H:P --target T [--concurrency 200]
//       Opens --concurrency connections, then sends GET T on all of them at once; reports the
//       time until the last answer.
//   tail   --addr H:P --file F --filters FILE [--sessions 2000] [--rate 50000] [--seconds 10]
//          [--batch 1000] [--clients 8]
//       Opens --sessions WebSocket sessions on /api/v1/tail (filters taken round-robin from
//       FILE, one per line), then ingests F's NDJSON lines at --rate for --seconds (batches not
//       sent by then are dropped), each line carrying a "bench_batch" field, and times
//       acknowledgement -> receipt for every record received.
//
// Every mode takes [--tenant T]: each HTTP request (not the tail mode's WebSocket handshakes)
// carries X-Scope-OrgID: T (the noisy-neighbour area runs two tenants side by side).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// --tenant: sent as X-Scope-OrgID on every request when not empty.
std::string g_tenant;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "bench_http: %s\n", why.c_str());
  std::exit(2);
}

class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc) Die("expected --name value at '" + key + "'");
      values_[key.substr(2)] = argv[++i];
    }
  }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  std::string Required(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) Die("--" + name + " is required");
    return it->second;
  }
  double Number(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end) Die("--" + name + " wants a number, got '" + it->second + "'");
    return v;
  }

 private:
  std::map<std::string, std::string> values_;
};

struct Address {
  std::string host;
  std::string port;
};

Address ParseAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) Die("--addr wants HOST:PORT, got '" + text + "'");
  return {text.substr(0, colon), text.substr(colon + 1)};
}

// Percentile by nearest rank, in the unit of the samples.
double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

std::string Fixed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A read-only view of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) Die("cannot open " + path);
    struct stat st {};
    ::fstat(fd, &st);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) Die("cannot map " + path);
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

struct Batch {
  std::string_view text;  // whole lines, the last with its '\n'
  uint32_t lines = 0;
};

// Cuts "data" into batches of "batch_lines" lines, at most "max_lines" lines in all; with
// "batch_bytes" > 0, into batches of whole lines of at most that many bytes (a longer line
// alone).
std::vector<Batch> CutBatches(std::string_view data, size_t batch_lines, uint64_t max_lines,
                              size_t batch_bytes = 0) {
  std::vector<Batch> batches;
  size_t start = 0, pos = 0;
  uint32_t lines = 0;
  uint64_t total = 0;
  while (pos < data.size() && total < max_lines) {
    size_t nl = data.find('\n', pos);
    size_t next = nl == std::string_view::npos ? data.size() : nl + 1;
    if (batch_bytes > 0 && lines > 0 && next - start > batch_bytes) {
      batches.push_back({data.substr(start, pos - start), lines});
      start = pos;
      lines = 0;
    }
    pos = next;
    ++lines;
    ++total;
    if ((batch_bytes == 0 && lines == batch_lines) || pos == data.size() || total == max_lines) {
      batches.push_back({data.substr(start, pos - start), lines});
      start = pos;
      lines = 0;
    }
  }
  return batches;
}

// One keep-alive HTTP/1.1 connection, used by one thread.
class Connection {
 public:
  explicit Connection(Address address) : address_(std::move(address)), stream_(ioc_) {}

  bool Connect(std::string* error) {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(address_.host, address_.port, ec);
    if (!ec) stream_.connect(endpoints, ec);
    if (ec) {
      *error = "connect " + address_.host + ":" + address_.port + ": " + ec.message();
      return false;
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);
    connected_ = true;
    return true;
  }

  // Sends one request and reads the answer; reconnects once when the connection went stale.
  // Returns the HTTP status, or -1 with "*error" set.
  // Seconds of the last answer's Retry-After header (0: none).
  int retry_after() const { return retry_after_; }

  int Do(http::verb verb, const std::string& target, std::string_view body,
         const std::string& content_type, std::string* response, std::string* error) {
    retry_after_ = 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!connected_ && !Connect(error)) return -1;
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, address_.host);
      if (!g_tenant.empty()) req.set("X-Scope-OrgID", g_tenant);
      req.keep_alive(true);
      if (verb == http::verb::post) {
        req.set(http::field::content_type, content_type);
        req.body().assign(body.data(), body.size());
        req.prepare_payload();
      }
      beast::error_code ec;
      stream_.expires_after(std::chrono::seconds(300));
      http::write(stream_, req, ec);
      if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(1ull << 30);
        http::read(stream_, buffer_, parser, ec);
        if (!ec) {
          auto& res = parser.get();
          *response = std::move(res.body());
          if (auto it = res.find(http::field::retry_after); it != res.end()) {
            retry_after_ = std::atoi(std::string(it->value()).c_str());
          }
          if (!res.keep_alive()) Close();
          return static_cast<int>(res.result_int());
        }
      }
      Close();
      *error = ec.message();
    }
    return -1;
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

 private:
  Address address_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  int retry_after_ = 0;
};

// --retry-429 1: batches answered 429 are sent again after their Retry-After.
bool g_retry_429 = false;

// ---------------------------------------------------------------------------------------------
// ingest

struct IngestResult {
  uint64_t lines_sent = 0;
  uint64_t lines_acked = 0;
  uint64_t batches = 0;
  uint64_t errors = 0;
  std::map<int, uint64_t> statuses;
  std::string first_error;
  std::vector<double> latencies_ms;
  double wall_s = 0;
  uint64_t retried_429 = 0;
};

// Sends "batches" from "clients" connections; batch i is not sent before start + i / rate
// (rate in batches/s; 0 = as fast as acknowledged), and none after "max_seconds" (0: no
// bound). "on_ack(i, sent_ns, ack_ns)" runs after each 200.
template <typename OnAck>
IngestResult RunIngest(const Address& address, const std::string& path,
                       const std::vector<std::string_view>& bodies,
                       const std::vector<uint32_t>& lines, int clients, double batches_per_s,
                       double max_seconds, OnAck on_ack) {
  IngestResult total;
  std::mutex mu;
  std::atomic<size_t> next{0};
  const int64_t start = NowNs();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      Connection conn(address);
      IngestResult mine;
      std::string response, error;
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= bodies.size()) break;
        if (max_seconds > 0 && static_cast<double>(NowNs() - start) / 1e9 >= max_seconds) break;
        if (batches_per_s > 0) {
          int64_t due = start + static_cast<int64_t>(static_cast<double>(i) * 1e9 / batches_per_s);
          int64_t wait = due - NowNs();
          if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        }
        int64_t sent = NowNs();
        int status =
            conn.Do(http::verb::post, path, bodies[i], "application/x-ndjson", &response, &error);
        while (status == 429 && g_retry_429) {
          ++mine.retried_429;
          std::this_thread::sleep_for(std::chrono::seconds(std::max(1, conn.retry_after())));
          status =
              conn.Do(http::verb::post, path, bodies[i], "application/x-ndjson", &response, &error);
        }
        int64_t acked = NowNs();
        ++mine.batches;
        mine.lines_sent += lines[i];
        ++mine.statuses[status];
        if (status == 200) {
          mine.lines_acked += lines[i];
          mine.latencies_ms.push_back(static_cast<double>(acked - sent) / 1e6);
          on_ack(i, sent, acked);
        } else {
          ++mine.errors;
          if (mine.first_error.empty()) {
            mine.first_error = status < 0 ? error : std::to_string(status) + " " + response;
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      total.lines_sent += mine.lines_sent;
      total.lines_acked += mine.lines_acked;
      total.batches += mine.batches;
      total.errors += mine.errors;
      total.retried_429 += mine.retried_429;
      for (auto [code, n] : mine.statuses) total.statuses[code] += n;
      if (total.first_error.empty()) total.first_error = mine.first_error;
      total.latencies_ms.insert(total.latencies_ms.end(), mine.latencies_ms.begin(),
                                mine.latencies_ms.end());
    });
  }
  for (auto& t : threads) t.join();
  total.wall_s = static_cast<double>(NowNs() - start) / 1e9;
  return total;
}

std::string StatusesJson(const std::map<int, uint64_t>& statuses) {
  std::string out = "{";
  for (auto [code, n] : statuses) {
    if (out.size() > 1) out += ",";
    out += "\"" + std::to_string(code) + "\":" + std::to_string(n);
  }
  return out + "}";
}

int IngestMode(const Args& args) {
  Address address = ParseAddress(args.Required("addr"));
  MappedFile file(args.Required("file"));
  auto batch = static_cast<size_t>(args.Number("batch", 1000));
  auto max_lines = static_cast<uint64_t>(args.Number("lines", 1e18));
  int clients = static_cast<int>(args.Number("clients", 8));
  double rate = args.Number("rate", 0);
  std::string path = args.Get("path", "/api/v1/ingest");
  g_retry_429 = args.Number("retry-429", 0) != 0;
  std::vector<Batch> batches =
      CutBatches(file.view(), batch, max_lines, static_cast<size_t>(args.Number("batch-bytes", 0)));
  std::vector<std::string_view> bodies;
  std::vector<uint32_t> lines;
  for (const Batch& b : batches) {
    bodies.push_back(b.text);
    lines.push_back(b.lines);
  }
  // --latencies FILE: one line per acknowledged batch, "batch sent_s latency_ms epoch_s" (sent_s
  // from the start of the run; epoch_s the same moment in Unix seconds, to join with what the
  // server did then: the run starts only after F was read and cut, seconds for a large F), to
  // see when in a run the slow acknowledgements came (docs/performance.md "Ingest ack p99 at
  // 10,000,000 lines", "Session 17: ack p99").
  const std::string latencies_path = args.Get("latencies", "");
  std::mutex acks_mu;
  std::vector<std::array<int64_t, 3>> acks;  // batch, sent ns, acked ns
  const int64_t run_start = NowNs();
  const double run_start_epoch_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  IngestResult r = RunIngest(
      address, path, bodies, lines, clients, rate > 0 ? rate / static_cast<double>(batch) : 0,
      args.Number("max-seconds", 0), [&](size_t i, int64_t sent, int64_t acked) {
        std::lock_guard<std::mutex> lock(acks_mu);
        acks.push_back({static_cast<int64_t>(i), sent, acked});
      });
  if (!latencies_path.empty()) {
    std::FILE* out = std::fopen(latencies_path.c_str(), "w");
    if (out == nullptr) Die("--latencies: cannot write " + latencies_path);
    std::sort(acks.begin(), acks.end(), [](const auto& a, const auto& b) { return a[1] < b[1]; });
    for (const auto& [i, sent, acked] : acks) {
      const double sent_s = static_cast<double>(sent - run_start) / 1e9;
      std::fprintf(out, "%lld %.3f %.1f %.3f\n", static_cast<long long>(i), sent_s,
                   static_cast<double>(acked - sent) / 1e6, run_start_epoch_s + sent_s);
    }
    std::fclose(out);
  }
  std::printf(
      "{\"lines_sent\":%llu,\"lines_acked\":%llu,\"batches\":%llu,\"errors\":%llu,"
      "\"statuses\":%s,\"first_error\":\"%s\",\"wall_s\":%s,\"lines_per_s\":%s,"
      "\"ack_p50_ms\":%s,\"ack_p99_ms\":%s,\"ack_max_ms\":%s,\"retried_429\":%llu}\n",
      static_cast<unsigned long long>(r.lines_sent), static_cast<unsigned long long>(r.lines_acked),
      static_cast<unsigned long long>(r.batches), static_cast<unsigned long long>(r.errors),
      StatusesJson(r.statuses).c_str(), JsonEscape(r.first_error.substr(0, 300)).c_str(),
      Fixed(r.wall_s).c_str(), Fixed(static_cast<double>(r.lines_acked) / r.wall_s).c_str(),
      Fixed(Percentile(r.latencies_ms, 0.5)).c_str(),
      Fixed(Percentile(r.latencies_ms, 0.99)).c_str(),
      Fixed(Percentile(r.latencies_ms, 1.0)).c_str(),
      static_cast<unsigned long long>(r.retried_429));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// query and storm

std::string ReplaceIndex(std::string target, size_t index) {
  for (size_t pos = target.find("{i}"); pos != std::string::npos; pos = target.find("{i}")) {
    target.replace(pos, 3, std::to_string(index));
  }
  return target;
}

int QueryMode(const Args& args) {
  Address address = ParseAddress(args.Required("addr"));
  std::string target = args.Required("target");
  int runs = static_cast<int>(args.Number("runs", 20));
  int warmup = static_cast<int>(args.Number("warmup", 0));
  std::string body_out = args.Get("body-out");
  double max_seconds = args.Number("max-seconds", 0);
  auto min_runs = static_cast<size_t>(args.Number("min-runs", 5));
  const int64_t begin = NowNs();
  Connection conn(address);
  std::vector<double> latencies;
  std::map<int, uint64_t> statuses;
  std::string response, error, first_error;
  for (int run = 0; run < warmup + runs; ++run) {
    std::string t = ReplaceIndex(target, static_cast<size_t>(run));
    int64_t start = NowNs();
    int status = conn.Do(http::verb::get, t, "", "", &response, &error);
    double ms = static_cast<double>(NowNs() - start) / 1e6;
    if (run < warmup) continue;
    ++statuses[status];
    bool out_of_time = max_seconds > 0 && static_cast<double>(NowNs() - begin) / 1e9 > max_seconds;
    if (status == 200) {
      latencies.push_back(ms);
    } else if (first_error.empty()) {
      first_error = status < 0 ? error : std::to_string(status) + " " + response;
    }
    if (out_of_time && latencies.size() >= min_runs) break;
  }
  if (!body_out.empty()) std::ofstream(body_out, std::ios::binary) << response;
  std::printf(
      "{\"runs\":%d,\"ok\":%zu,\"statuses\":%s,\"first_error\":\"%s\",\"p50_ms\":%s,"
      "\"p95_ms\":%s,\"min_ms\":%s,\"max_ms\":%s}\n",
      runs, latencies.size(), StatusesJson(statuses).c_str(),
      JsonEscape(first_error.substr(0, 300)).c_str(), Fixed(Percentile(latencies, 0.5)).c_str(),
      Fixed(Percentile(latencies, 0.95)).c_str(), Fixed(Percentile(latencies, 0.0)).c_str(),
      Fixed(Percentile(latencies, 1.0)).c_str());
  return 0;
}

int StormMode(const Args& args) {
  Address address = ParseAddress(args.Required("addr"));
  std::string target = args.Required("target");
  int concurrency = static_cast<int>(args.Number("concurrency", 200));
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  int64_t release = 0;
  std::vector<double> latencies;
  std::vector<int64_t> ends;
  std::map<int, uint64_t> statuses;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int c = 0; c < concurrency; ++c) {
    threads.emplace_back([&] {
      Connection conn(address);
      std::string response, error;
      bool connected = conn.Connect(&error);
      {
        std::unique_lock<std::mutex> lock(mu);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      int status = -1;
      int64_t start = NowNs();
      if (connected) status = conn.Do(http::verb::get, target, "", "", &response, &error);
      int64_t end = NowNs();
      std::lock_guard<std::mutex> lock(mu);
      ++statuses[status];
      if (status == 200) {
        latencies.push_back(static_cast<double>(end - start) / 1e6);
        ends.push_back(end);
      } else if (first_error.empty()) {
        first_error = status < 0 ? error : std::to_string(status) + " " + response;
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == concurrency; });
    release = NowNs();
    go = true;
    cv.notify_all();
  }
  for (auto& t : threads) t.join();
  int64_t last = ends.empty() ? release : *std::max_element(ends.begin(), ends.end());
  std::printf(
      "{\"concurrency\":%d,\"ok\":%zu,\"statuses\":%s,\"first_error\":\"%s\",\"wall_ms\":%s,"
      "\"p50_ms\":%s,\"max_ms\":%s}\n",
      concurrency, latencies.size(), StatusesJson(statuses).c_str(),
      JsonEscape(first_error.substr(0, 300)).c_str(),
      Fixed(static_cast<double>(last - release) / 1e6).c_str(),
      Fixed(Percentile(latencies, 0.5)).c_str(), Fixed(Percentile(latencies, 1.0)).c_str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// tail

// State shared by the WebSocket sessions; touched only from the one io thread.
struct TailState {
  int pending_handshakes = 0;
  int open = 0;
  int failed = 0;
  int closed_early = 0;
  std::string first_failure;
  uint64_t messages = 0;
  uint64_t dropped = 0;
  std::vector<std::pair<int64_t, uint32_t>> receipts;  // (receive ns, batch)
  bool stopping = false;
};

// Every "bench_batch" value in a message (one record per message, but tolerate arrays).
template <typename Fn>
void ForEachBatchId(std::string_view text, Fn&& fn) {
  static constexpr std::string_view kKey = "\"bench_batch\"";
  for (size_t pos = text.find(kKey); pos != std::string_view::npos;
       pos = text.find(kKey, pos + 1)) {
    size_t i = pos + kKey.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '"')) ++i;
    uint64_t id = 0;
    bool any = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      id = id * 10 + static_cast<uint64_t>(text[i] - '0');
      any = true;
      ++i;
    }
    if (any) fn(static_cast<uint32_t>(id));
  }
}

uint64_t DroppedCount(std::string_view text) {
  static constexpr std::string_view kKey = "\"dropped\"";
  size_t pos = text.find(kKey);
  if (pos == std::string_view::npos) return 0;
  size_t i = pos + kKey.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == ':')) ++i;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') n = n * 10 + (text[i++] - '0');
  return n;
}

net::awaitable<void> TailSessionLoop(tcp::endpoint endpoint, std::string host, std::string target,
                                     TailState* state) {
  auto executor = co_await net::this_coro::executor;
  websocket::stream<beast::tcp_stream> ws(executor);
  auto token = net::as_tuple(net::use_awaitable);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  auto [ec] = co_await beast::get_lowest_layer(ws).async_connect(endpoint, token);
  if (!ec) {
    auto [hec] = co_await ws.async_handshake(host, target, token);
    ec = hec;
  }
  --state->pending_handshakes;
  if (ec) {
    ++state->failed;
    if (state->first_failure.empty()) state->first_failure = ec.message();
    co_return;
  }
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ++state->open;
  beast::flat_buffer buffer;
  for (;;) {
    auto [rec, n] = co_await ws.async_read(buffer, token);
    if (rec) {
      if (!state->stopping) ++state->closed_early;
      if (state->first_failure.empty() && !state->stopping) {
        state->first_failure = "read: " + rec.message();
      }
      break;
    }
    int64_t now = NowNs();
    std::string_view text(static_cast<const char*>(buffer.data().data()), buffer.size());
    ++state->messages;
    state->dropped += DroppedCount(text);
    ForEachBatchId(text, [&](uint32_t id) { state->receipts.emplace_back(now, id); });
    buffer.consume(n);
  }
  --state->open;
}

int TailMode(const Args& args) {
  Address address = ParseAddress(args.Required("addr"));
  MappedFile file(args.Required("file"));
  int sessions = static_cast<int>(args.Number("sessions", 2000));
  double rate = args.Number("rate", 50000);
  double seconds = args.Number("seconds", 10);
  auto batch = static_cast<size_t>(args.Number("batch", 1000));
  int clients = static_cast<int>(args.Number("clients", 8));
  std::vector<std::string> filters;
  {
    std::ifstream in(args.Required("filters"));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) filters.push_back(line);
    }
  }
  if (filters.empty()) Die("--filters holds no filter");

  // Batches carry their number in every line: {"bench_batch":"N", ...the corpus line...}.
  auto total_lines = static_cast<uint64_t>(rate * seconds);
  std::vector<Batch> source = CutBatches(file.view(), batch, 1e18);
  if (source.empty()) Die("--file holds no line");
  std::vector<std::string> owned;
  std::vector<std::string_view> bodies;
  std::vector<uint32_t> lines;
  for (uint64_t sent = 0, i = 0; sent < total_lines; ++i) {
    const Batch& b = source[i % source.size()];
    std::string body;
    body.reserve(b.text.size() + b.lines * 24);
    std::string prefix = "{\"bench_batch\":\"" + std::to_string(i) + "\",";
    size_t pos = 0;
    while (pos < b.text.size()) {
      size_t nl = b.text.find('\n', pos);
      size_t end = nl == std::string_view::npos ? b.text.size() : nl + 1;
      std::string_view line = b.text.substr(pos, end - pos);
      if (!line.empty() && line[0] == '{') {
        body.append(prefix).append(line.substr(1));
      } else {
        body.append(line);
      }
      pos = end;
    }
    owned.push_back(std::move(body));
    lines.push_back(b.lines);
    sent += b.lines;
  }
  for (const std::string& body : owned) bodies.push_back(body);
  std::vector<std::atomic<int64_t>> acks(bodies.size()), sends(bodies.size());
  for (auto& a : acks) a.store(0);
  for (auto& a : sends) a.store(0);

  // Open the sessions, at most 64 handshakes in flight.
  net::io_context ioc(1);
  TailState state;
  tcp::resolver resolver(ioc);
  beast::error_code rec;
  auto resolved = resolver.resolve(address.host, address.port, rec);
  if (rec || resolved.empty()) Die("cannot resolve " + address.host);
  tcp::endpoint endpoint = *resolved.begin();
  std::string host = address.host + ":" + address.port;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        net::steady_timer timer(co_await net::this_coro::executor);
        for (int s = 0; s < sessions; ++s) {
          while (state.pending_handshakes >= 64) {
            timer.expires_after(std::chrono::milliseconds(1));
            co_await timer.async_wait(net::use_awaitable);
          }
          ++state.pending_handshakes;
          std::string target =
              "/api/v1/tail?q=" + UrlEncode(filters[static_cast<size_t>(s) % filters.size()]);
          net::co_spawn(ioc, TailSessionLoop(endpoint, host, target, &state), net::detached);
        }
      },
      net::detached);
  auto work = net::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });

  // Wait (up to 120 s) until every session is open or failed.
  int64_t connect_start = NowNs();
  int open = 0, failed = 0;
  while (NowNs() - connect_start < 120'000'000'000) {
    std::promise<std::pair<int, int>> p;
    auto f = p.get_future();
    net::post(ioc, [&] { p.set_value({state.open, state.failed}); });
    std::tie(open, failed) = f.get();
    if (open + failed >= sessions) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double connect_s = static_cast<double>(NowNs() - connect_start) / 1e9;

  IngestResult r = RunIngest(address, "/api/v1/ingest", bodies, lines, clients,
                             rate / static_cast<double>(batch), seconds,
                             [&](size_t i, int64_t sent, int64_t ack) {
                               sends[i].store(sent);
                               acks[i].store(ack);
                             });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the last records arrive

  std::promise<void> stopped;
  net::post(ioc, [&] {
    state.stopping = true;
    stopped.set_value();
  });
  stopped.get_future().wait();
  work.reset();
  ioc.stop();
  io.join();

  std::vector<double> latencies, from_send;
  uint64_t before_ack = 0, unacked = 0;
  for (auto [received, id] : state.receipts) {
    if (id >= acks.size() || acks[id].load() == 0) {
      ++unacked;
      continue;
    }
    from_send.push_back(static_cast<double>(received - sends[id].load()) / 1e6);
    int64_t delta = received - acks[id].load();
    if (delta < 0) {
      ++before_ack;
      delta = 0;
    }
    latencies.push_back(static_cast<double>(delta) / 1e6);
  }
  std::printf(
      "{\"sessions\":%d,\"open\":%d,\"failed\":%d,\"closed_early\":%d,\"first_failure\":\"%s\","
      "\"connect_s\":%s,\"lines_acked\":%llu,\"ingest_errors\":%llu,\"ingest_first_error\":\"%s\","
      "\"ingest_wall_s\":%s,\"achieved_lines_per_s\":%s,\"ack_p99_ms\":%s,\"messages\":%llu,"
      "\"records\":%zu,\"records_before_ack\":%llu,\"records_unacked\":%llu,\"dropped\":%llu,"
      "\"p50_ms\":%s,\"p99_ms\":%s,\"max_ms\":%s,\"send_p50_ms\":%s,\"send_p99_ms\":%s}\n",
      sessions, open, failed, state.closed_early,
      JsonEscape(state.first_failure.substr(0, 300)).c_str(), Fixed(connect_s).c_str(),
      static_cast<unsigned long long>(r.lines_acked), static_cast<unsigned long long>(r.errors),
      JsonEscape(r.first_error.substr(0, 300)).c_str(), Fixed(r.wall_s).c_str(),
      Fixed(static_cast<double>(r.lines_acked) / r.wall_s).c_str(),
      Fixed(Percentile(r.latencies_ms, 0.99)).c_str(),
      static_cast<unsigned long long>(state.messages), state.receipts.size(),
      static_cast<unsigned long long>(before_ack), static_cast<unsigned long long>(unacked),
      static_cast<unsigned long long>(state.dropped), Fixed(Percentile(latencies, 0.5)).c_str(),
      Fixed(Percentile(latencies, 0.99)).c_str(), Fixed(Percentile(latencies, 1.0)).c_str(),
      Fixed(Percentile(from_send, 0.5)).c_str(), Fixed(Percentile(from_send, 0.99)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: bench_http ingest|query|storm|tail --addr HOST:PORT ...");
  std::string mode = argv[1];
  Args args(argc, argv, 2);
  g_tenant = args.Get("tenant");
  if (mode == "ingest") return IngestMode(args);
  if (mode == "query") return QueryMode(args);
  if (mode == "storm") return StormMode(args);
  if (mode == "tail") return TailMode(args);
  Die("unknown mode '" + mode + "' (ingest, query, storm, tail)");
}
