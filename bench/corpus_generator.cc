#include "corpus_generator.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "common/time_format.h"

namespace sawmill::bench {
namespace {

namespace fs = std::filesystem;

// SplitMix64: tiny, fast, and the same sequence everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>(Uniform() * static_cast<double>(n)); }

 private:
  uint64_t state_;
};

// Zipf over ranks 0..n-1 with exponent s, by inverse CDF.
class Zipf {
 public:
  Zipf(int n, double s) : cdf_(static_cast<size_t>(n)) {
    double sum = 0;
    for (int rank = 0; rank < n; ++rank) {
      sum += 1.0 / std::pow(rank + 1.0, s);
      cdf_[static_cast<size_t>(rank)] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  int Sample(double u) const {
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.end()) --it;
    return static_cast<int>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

constexpr double kServiceZipf = 1.1;
constexpr double kUserZipf = 0.9;
constexpr double kSharedTraceProbability = 0.1;
constexpr int64_t kJitterNs = 2'000'000'000;  // arrival order is only roughly time order
constexpr uint64_t kSeed = 0x5A3D1111ull;

bool IsPlainLogFile(const fs::path& path) {
  std::string name = path.filename().string();
  std::string ext = path.extension().string();
  if (name == "LICENSE" || ext == ".csv" || ext == ".json" || ext == ".md") return false;
  std::ifstream in(path, std::ios::binary);
  std::string first;
  while (std::getline(in, first)) {
    size_t start = first.find_first_not_of(" \t\r");
    if (start == std::string::npos) continue;
    return first[start] != '{';
  }
  return false;
}

// RFC 3339 UTC with microseconds.
void AppendTimestamp(int64_t ns, std::string* out) { AppendRfc3339(ns, 6, out); }

// Appends "text" as a JSON string; stops before the first character (a whole UTF-8 sequence
// or escape) that would take "out" past "max_size" bytes with the closing quote.
void AppendJsonString(std::string_view text, std::string* out,
                      size_t max_size = std::string::npos) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    unsigned char c = static_cast<unsigned char>(ch);
    if (max_size != std::string::npos) {
      size_t len = c < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
      if (c >= 0x80) {
        len = 1;
        while (i + len < text.size() &&
               (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80) {
          ++len;
        }
      }
      if (out->size() + len + 1 > max_size) break;
      if (c >= 0x80) {
        out->append(text.substr(i, len));
        i += len - 1;
        continue;
      }
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\t': out->append("\\t"); break;
      case '\r': out->append("\\r"); break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string Hex128(Rng* rng) {
  static const char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = rng->Next(), b = rng->Next();
  for (int i = 0; i < 16; ++i) {
    id[static_cast<size_t>(i)] = kHex[(a >> (60 - 4 * i)) & 15];
    id[static_cast<size_t>(16 + i)] = kHex[(b >> (60 - 4 * i)) & 15];
  }
  return id;
}

// Words as both the engine (letters, digits, bytes >= 0x80) and `rg -w` (which also counts '_')
// see them: a candidate must be made of ASCII letters only and look the same to both.
struct WordStats {
  uint64_t pool_lines = 0;  // pool lines holding the word
  bool rg_agrees = true;    // never glued to '_' or to a digit/non-ASCII neighbour
};

bool IsEngineWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void CollectWords(std::string_view line, std::unordered_map<std::string, WordStats>* words) {
  std::set<std::string> seen;
  size_t i = 0;
  while (i < line.size()) {
    if (!IsEngineWordByte(static_cast<unsigned char>(line[i]))) {
      ++i;
      continue;
    }
    size_t start = i;
    bool letters_only = true;
    while (i < line.size() && IsEngineWordByte(static_cast<unsigned char>(line[i]))) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) letters_only = false;
      ++i;
    }
    if (!letters_only) continue;
    std::string word(line.substr(start, i - start));
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool glued = (start > 0 && line[start - 1] == '_') || (i < line.size() && line[i] == '_');
    auto& stats = (*words)[word];
    if (glued) stats.rg_agrees = false;
    if (seen.insert(word).second) ++stats.pool_lines;
  }
}

// How many corpus lines replay pool line "index" when "lines" are generated.
uint64_t Replays(uint64_t index, uint64_t pool_size, uint64_t lines) {
  if (index >= lines) return 0;
  return (lines - index - 1) / pool_size + 1;
}

// Tokens the generated fields and JSON keys put in every line: never chosen as query words.
bool IsGeneratedToken(const std::string& word) {
  static const std::set<std::string> kKeys = {"ts",   "service", "host",  "level", "trace", "id",
                                              "user", "message", "debug", "info",  "warn",  "error",
                                              "node", "u",       "z",     "t"};
  if (kKeys.count(word)) return true;
  for (const std::string& service : ServiceNames()) {
    if (service.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& ServiceNames() {
  static const std::vector<std::string> kNames = {
      "frontend",  "checkout",      "payments", "cart",       "catalog",       "search",
      "auth",      "users",         "orders",   "shipping",   "inventory",     "pricing",
      "recommend", "notifications", "email",    "gateway",    "billing",       "invoices",
      "ledger",    "fraud",         "reviews",  "ratings",    "media",         "thumbnails",
      "uploads",   "sessions",      "profile",  "settings",   "audit",         "reports",
      "analytics", "tracking",      "ads",      "promotions", "coupons",       "loyalty",
      "wishlist",  "geo",           "tax",      "currency",   "ledger-export", "sms",
      "push",      "scheduler",     "webhooks", "exports",    "imports",       "feature-flags",
      "config",    "status-page"};
  return kNames;
}

std::string HostName(int index) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "node-%03d", index);
  return buf;
}

Result<MessagePool> LoadMessagePool(const std::string& data_dir, size_t max_line_bytes) {
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) {
    return Status::NotFound("corpus: no data directory at " + data_dir);
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(data_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && IsPlainLogFile(it->path())) files.push_back(it->path());
  }
  if (ec) return Status::NotFound("corpus: cannot list " + data_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  MessagePool pool;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    bool used = false;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (line.size() > max_line_bytes) continue;
      pool.lines.push_back(line);
      used = true;
    }
    if (used) pool.files.push_back(fs::relative(path, data_dir).string());
  }
  if (pool.lines.empty()) return Status::NotFound("corpus: no log lines under " + data_dir);
  return pool;
}

Result<CorpusFacts> GenerateCorpus(const MessagePool& pool, uint64_t lines, std::FILE* out,
                                   size_t max_line_bytes) {
  CorpusFacts facts;
  facts.lines = lines;
  const std::vector<std::string>& services = ServiceNames();
  std::vector<std::string> hosts;
  for (int h = 0; h < kServiceCount * kHostsPerService; ++h) hosts.push_back(HostName(h));
  static const char* const kLevels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  const Zipf service_zipf(kServiceCount, kServiceZipf);
  const Zipf user_zipf(kUserCount, kUserZipf);
  // Users are ranked by popularity but their ids are scattered, as real ids are.
  std::vector<uint32_t> user_ids(kUserCount);
  Rng shuffle(kSeed ^ 0xABCDEFull);
  for (uint32_t u = 0; u < kUserCount; ++u) user_ids[u] = u;
  for (size_t u = user_ids.size() - 1; u > 0; --u)
    std::swap(user_ids[u], user_ids[shuffle.Below(u + 1)]);

  Rng rng(kSeed);
  XXH3_state_t* hash = XXH3_createState();
  XXH3_64bits_reset(hash);
  const int error_service_rank = 7;
  facts.error_service = services[error_service_rank];
  const uint64_t needle_line = lines / 2;
  std::string trace_id;
  std::string buffer;
  buffer.reserve(1 << 20);
  const int64_t start_ns = kWindowStartSeconds * 1'000'000'000;
  const int64_t window_ns = kWindowSeconds * 1'000'000'000;
  for (uint64_t row = 0; row < lines; ++row) {
    // Field draws happen in a fixed order: ts jitter, service, host, level, trace, user.
    int64_t base =
        start_ns + static_cast<int64_t>(static_cast<double>(window_ns) * static_cast<double>(row) /
                                        static_cast<double>(lines));
    int64_t jitter = static_cast<int64_t>(rng.Below(2 * kJitterNs)) - kJitterNs;
    int64_t ts = std::clamp<int64_t>(base + jitter, start_ns, start_ns + window_ns - 1);
    int service = service_zipf.Sample(rng.Uniform());
    int host = service * kHostsPerService + static_cast<int>(rng.Below(kHostsPerService));
    double level_draw = rng.Uniform();
    int level = level_draw < 0.50 ? 0 : level_draw < 0.85 ? 1 : level_draw < 0.95 ? 2 : 3;
    bool shared = row > 0 && row != needle_line && row != needle_line + 1 &&
                  rng.Uniform() < kSharedTraceProbability;
    if (shared) {
      ++facts.shared_trace_ids;
    } else {
      trace_id = Hex128(&rng);
    }
    int user = user_zipf.Sample(rng.Uniform());
    const std::string& message = pool.lines[row % pool.lines.size()];

    ++facts.level_counts[level];
    if (row == needle_line) facts.needle_trace_id = trace_id;
    if (service == error_service_rank && level == 3) ++facts.error_service_error_lines;

    const size_t line_start = buffer.size();
    buffer.append("{\"ts\":\"");
    AppendTimestamp(ts, &buffer);
    buffer.append("\",\"service\":\"").append(services[static_cast<size_t>(service)]);
    buffer.append("\",\"host\":\"").append(hosts[static_cast<size_t>(host)]);
    buffer.append("\",\"level\":\"").append(kLevels[level]);
    buffer.append("\",\"trace_id\":\"").append(trace_id);
    char user_buf[16];
    std::snprintf(user_buf, sizeof(user_buf), "u%06u", user_ids[static_cast<size_t>(user)]);
    buffer.append("\",\"user_id\":\"").append(user_buf);
    buffer.append("\",\"message\":");
    // The line ends with "}\n" after the message.
    AppendJsonString(message, &buffer,
                     max_line_bytes > 0 ? line_start + max_line_bytes - 2 : std::string::npos);
    buffer.append("}\n");
    if (buffer.size() >= (1 << 20) - 64 * 1024 || row + 1 == lines) {
      XXH3_64bits_update(hash, buffer.data(), buffer.size());
      facts.bytes += buffer.size();
      if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) {
        XXH3_freeState(hash);
        return Status::Internal("corpus: write failed after " + std::to_string(facts.bytes) +
                                " bytes");
      }
      buffer.clear();
    }
  }
  facts.xxh3 = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);

  // Query words, from the pool weighted by how often each pool line is replayed.
  std::unordered_map<std::string, WordStats> words;
  std::unordered_map<std::string, uint64_t> corpus_lines;
  const uint64_t pool_size = pool.lines.size();
  for (uint64_t index = 0; index < pool_size && index < lines; ++index) {
    std::unordered_map<std::string, WordStats> line_words;
    CollectWords(pool.lines[index], &line_words);
    uint64_t replays = Replays(index, pool_size, lines);
    for (const auto& [word, stats] : line_words) {
      auto& total = words[word];
      total.pool_lines += 1;
      total.rg_agrees = total.rg_agrees && stats.rg_agrees;
      corpus_lines[word] += replays;
    }
  }
  // Sorted so that ties break the same way everywhere.
  std::map<std::string, uint64_t> candidates;
  for (const auto& [word, stats] : words) {
    if (word.size() >= 5 && stats.rg_agrees && !IsGeneratedToken(word)) {
      candidates[word] = corpus_lines[word];
    }
  }
  // Rare: the first word (in byte order) of 8 to 14 letters that appears in exactly one pool
  // line, so in about lines / pool_size corpus lines; common: the one nearest to 10% of lines.
  const double common_target = 0.10 * static_cast<double>(lines);
  double best_common = -1;
  for (const auto& [word, count] : candidates) {
    if (words[word].pool_lines == 1 && word.size() >= 8 && word.size() <= 14 &&
        facts.rare_word.empty()) {
      facts.rare_word = word;
      facts.rare_word_lines = count;
    }
    double distance = std::fabs(static_cast<double>(count) - common_target);
    if (best_common < 0 || distance < best_common) {
      best_common = distance;
      facts.common_word = word;
      facts.common_word_lines = count;
    }
  }
  return facts;
}

std::string FactsToJson(const CorpusFacts& facts, const MessagePool& pool) {
  char hash[32];
  std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(facts.xxh3));
  std::string json = "{\n";
  auto field = [&](const char* name, const std::string& value, bool quote) {
    json.append("  \"").append(name).append("\": ");
    if (quote) {
      AppendJsonString(value, &json);
    } else {
      json.append(value);
    }
    json.append(",\n");
  };
  field("generator_version", std::to_string(kCorpusGeneratorVersion), false);
  field("lines", std::to_string(facts.lines), false);
  field("bytes", std::to_string(facts.bytes), false);
  field("xxh3", hash, true);
  field("pool_lines", std::to_string(pool.lines.size()), false);
  field("pool_files", std::to_string(pool.files.size()), false);
  std::string window;
  AppendTimestamp(kWindowStartSeconds * 1'000'000'000, &window);
  field("window_start", window, true);
  field("window_seconds", std::to_string(kWindowSeconds), false);
  field("levels",
        "{\"DEBUG\": " + std::to_string(facts.level_counts[0]) +
            ", \"INFO\": " + std::to_string(facts.level_counts[1]) +
            ", \"WARN\": " + std::to_string(facts.level_counts[2]) +
            ", \"ERROR\": " + std::to_string(facts.level_counts[3]) + "}",
        false);
  field("shared_trace_ids", std::to_string(facts.shared_trace_ids), false);
  field("needle_trace_id", facts.needle_trace_id, true);
  field("rare_word", facts.rare_word, true);
  field("rare_word_lines", std::to_string(facts.rare_word_lines), false);
  field("common_word", facts.common_word, true);
  field("common_word_lines", std::to_string(facts.common_word_lines), false);
  field("error_service", facts.error_service, true);
  field("error_service_error_lines", std::to_string(facts.error_service_error_lines), false);
  std::string services = "[";
  for (size_t i = 0; i < ServiceNames().size(); ++i) {
    if (i) services.append(", ");
    AppendJsonString(ServiceNames()[i], &services);
  }
  services.append("]");
  field("services", services, false);
  json.append("  \"hosts_per_service\": ").append(std::to_string(kHostsPerService));
  json.append(",\n  \"host_format\": \"node-%03d (service rank * 10 + 0..9)\"\n}\n");
  return json;
}

}  // namespace sawmill::bench
