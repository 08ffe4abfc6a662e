// fuzz_seeds SHARED_DIR SOURCE_DIR OUT_DIR: writes the seed corpus of every fuzz target into
// OUT_DIR/<target>/ from the real datasets (SHARED_DIR/data/real, read here at run time and
// never copied into the repository) and from the tests' inputs (SOURCE_DIR/tests/queries).
// Each seed is a valid input of its target in the target's input layout (mode byte included),
// built with the same encoders the shippers and the storage use, so that mutations start from
// what Sawmill really receives and stores. The hand-made seeds in fuzz/seeds/<target> are
// passed to the fuzzers beside these.
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "common/json_string.h"
#include "fuzz_util.h"
#include "index/inverted_index.h"
#include "ingest/normalize.h"
#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "wal/log_writer.h"
#include "wal/record_batch.h"

namespace fs = std::filesystem;
using namespace sawmill;

namespace {

constexpr size_t kChunkBytes = 4096;  // a seed's body: the first lines of a file, up to this

struct Sample {
  std::string dataset;
  std::string name;  // dataset and file, for seed file names
  std::vector<std::string> lines;
  std::string text;  // the lines joined with LF
};

std::string ReadHead(const fs::path& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string out(max, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

std::string Slug(std::string s) {
  for (char& c : s) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

// Up to "per_dataset" files of each dataset, the first kChunkBytes of whole lines of each.
std::vector<Sample> LoadSamples(const fs::path& real, size_t per_dataset) {
  std::vector<Sample> out;
  std::vector<fs::path> datasets;
  for (const auto& e : fs::directory_iterator(real)) {
    if (e.is_directory()) datasets.push_back(e.path());
  }
  std::sort(datasets.begin(), datasets.end());
  for (const fs::path& ds : datasets) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(ds)) {
      std::string name = e.path().filename().string();
      if (e.is_regular_file() && name != "LICENSE" && name.find(".md") == std::string::npos) {
        files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end());
    // Spread the picks over the dataset (cidiff has hundreds of similar build logs).
    size_t step = std::max<size_t>(1, files.size() / per_dataset);
    for (size_t i = 0; i < files.size() && i / step < per_dataset; i += step) {
      std::string head = ReadHead(files[i], kChunkBytes);
      size_t end = head.rfind('\n');
      if (end == std::string::npos) continue;
      head.resize(end);
      Sample s;
      s.dataset = ds.filename().string();
      s.name = Slug(s.dataset + "_" + fs::relative(files[i], ds).string());
      s.text = head;
      std::istringstream lines(head);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) s.lines.push_back(line);
      }
      if (!s.lines.empty()) out.push_back(std::move(s));
    }
  }
  return out;
}

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  void Put(const std::string& target, const std::string& name, std::string_view bytes) {
    fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ++counts_[target];
  }
  void Summary() const {
    for (const auto& [target, n] : counts_) std::printf("%-16s %5zu seeds\n", target.c_str(), n);
  }

 private:
  fs::path root_;
  std::map<std::string, size_t> counts_;
};

bool IsJsonObject(std::string_view line) { return !line.empty() && line.front() == '{'; }

std::string Mode(uint8_t mode, std::string_view rest) {
  std::string out(1, static_cast<char>(mode));
  out.append(rest);
  return out;
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

std::string Lz4(std::string_view in) {
  std::string out(LZ4F_compressFrameBound(in.size(), nullptr), '\0');
  out.resize(LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), nullptr));
  return out;
}

std::vector<Record> Normalize(const Sample& s, size_t max_lines) {
  std::vector<Record> records;
  ingest::IngestCounts counts;
  ingest::Defaults defaults{s.dataset, "seed-host", std::nullopt};
  std::string body;
  for (size_t i = 0; i < s.lines.size() && i < max_lines; ++i) body += s.lines[i] + "\n";
  ingest::NormalizeBody(body, defaults, {}, fuzz::kNowNs, &records, &counts);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].tenant = "default";
    records[i].ingest_ts = fuzz::kNowNs + static_cast<int64_t>(i);
    if (records[i].ts == 0) records[i].ts = records[i].ingest_ts;
    records[i].seq = 1000 + i;
    if (i % 3 == 0) records[i].trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    if (i % 4 == 1) records[i].user_id = "user-" + std::to_string(i % 7);
  }
  return records;
}

void NativeBody(const std::vector<Sample>& samples, Writer* w) {
  for (const Sample& s : samples) w->Put("native_body", s.name, s.text);
}

void DecodeBody(const std::vector<Sample>& samples, Writer* w) {
  // Byte 0: the encoding's index in decode_body.cc (2 gzip, 3 zstd, 4 lz4), bit 3 round trip.
  for (size_t i = 0; i < samples.size(); i += 3) {
    const Sample& s = samples[i];
    w->Put("decode_body", s.name + ".gz", Mode(2, Gzip(s.text)));
    w->Put("decode_body", s.name + ".zst", Mode(3, Zstd(s.text)));
    w->Put("decode_body", s.name + ".lz4", Mode(4, Lz4(s.text)));
    w->Put("decode_body", s.name + ".id", Mode(1, s.text));
    w->Put("decode_body", s.name + ".rt", Mode(static_cast<uint8_t>(8 + 2 + i % 3), s.text));
  }
}

void EsBulk(const std::vector<Sample>& samples, Writer* w) {
  for (const Sample& s : samples) {
    std::string body;
    for (size_t i = 0; i < s.lines.size() && i < 30; ++i) {
      const std::string& line = s.lines[i];
      body += i % 4 == 3 ? "{\"create\":{\"_index\":\"logs-" + s.dataset + "\",\"_id\":\"" +
                               std::to_string(i) + "\"}}\n"
                         : "{\"index\":{}}\n";
      if (IsJsonObject(line)) {
        body += line + "\n";
      } else {
        body += "{\"@timestamp\":\"2024-05-01T12:00:00.000Z\",\"message\":" + JsonString(line) +
                ",\"service\":{\"name\":\"" + s.dataset + "\"},\"log\":{\"level\":\"info\"}}\n";
      }
    }
    w->Put("es_bulk", s.name, body);
  }
}

void LokiJson(const std::vector<Sample>& samples, Writer* w) {
  for (const Sample& s : samples) {
    std::string body = "{\"streams\":[{\"stream\":{\"job\":\"" + s.dataset +
                       "\",\"host\":\"seed-host\",\"level\":\"info\"},\"values\":[";
    for (size_t i = 0; i < s.lines.size() && i < 30; ++i) {
      if (i > 0) body += ",";
      body += "[\"" + std::to_string(fuzz::kNowNs + static_cast<int64_t>(i)) + "\"," +
              JsonString(s.lines[i]);
      if (i % 5 == 0) body += ",{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}";
      body += "]";
    }
    body += "]}]}";
    w->Put("loki_json", s.name, body);
  }
}

void LokiProto(const std::vector<Sample>& samples, Writer* w) {
  for (const Sample& s : samples) {
    logproto::PushRequest req;
    auto* stream = req.add_streams();
    stream->set_labels("{job=\"" + s.dataset + "\", host=\"seed-host\", app=\"seed\"}");
    for (size_t i = 0; i < s.lines.size() && i < 30; ++i) {
      auto* e = stream->add_entries();
      e->mutable_timestamp()->set_seconds(fuzz::kNowNs / 1000000000);
      e->mutable_timestamp()->set_nanos(static_cast<int32_t>(i));
      e->set_line(s.lines[i]);
      if (i % 5 == 0) {
        auto* md = e->add_structuredmetadata();
        md->set_name("trace_id");
        md->set_value("4bf92f3577b34da6a3ce929d0e0e4736");
      }
    }
    std::string raw = req.SerializeAsString();
    std::string compressed;
    snappy::Compress(raw.data(), raw.size(), &compressed);
    w->Put("loki_proto", s.name + ".snappy", Mode(0, compressed));
    w->Put("loki_proto", s.name + ".raw", Mode(1, raw));
    w->Put("loki_proto", s.name + ".labels", Mode(2, stream->labels()));
  }
}

void Otlp(const std::vector<Sample>& samples, Writer* w) {
  using opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;
  for (const Sample& s : samples) {
    ExportLogsServiceRequest req;
    auto* rl = req.add_resource_logs();
    auto* attr = rl->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value(s.dataset);
    auto* sl = rl->add_scope_logs();
    sl->mutable_scope()->set_name("seed");
    std::string json =
        "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":"
        "\"service.name\",\"value\":{\"stringValue\":\"" +
        s.dataset +
        "\"}},{\"key\":\"host.name\",\"value\":{\"stringValue\":\"seed-host\"}}]},"
        "\"scopeLogs\":[{\"scope\":{\"name\":\"seed\"},\"logRecords\":[";
    for (size_t i = 0; i < s.lines.size() && i < 30; ++i) {
      auto* lr = sl->add_log_records();
      lr->set_time_unix_nano(static_cast<uint64_t>(fuzz::kNowNs) + i);
      lr->set_severity_number(9);
      lr->set_severity_text("INFO");
      lr->mutable_body()->set_string_value(s.lines[i]);
      auto* a = lr->add_attributes();
      a->set_key("line");
      a->mutable_value()->set_int_value(static_cast<int64_t>(i));
      if (i % 3 == 0) {
        lr->set_trace_id(
            std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16));
        lr->set_span_id(std::string("\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8));
      }
      if (i > 0) json += ",";
      json += "{\"timeUnixNano\":\"" + std::to_string(fuzz::kNowNs + static_cast<int64_t>(i)) +
              "\",\"severityNumber\":9,\"severityText\":\"INFO\",\"body\":{\"stringValue\":" +
              JsonString(s.lines[i]) +
              "},\"attributes\":[{\"key\":\"line\",\"value\":{\"intValue\":\"" + std::to_string(i) +
              "\"}}]" +
              (i % 3 == 0 ? ",\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":"
                            "\"00f067aa0ba902b7\""
                          : "") +
              "}";
    }
    json += "]}]}]}";
    w->Put("otlp_proto", s.name, req.SerializeAsString());
    w->Put("otlp_json", s.name, json);
  }
}

void Syslog(const std::vector<Sample>& samples, Writer* w) {
  for (const Sample& s : samples) {
    // Real syslog files as they are (auth.log, pg-syslog), each line given a <PRI>.
    bool looks_syslog =
        s.dataset == "elastic_auth_log" || s.name.find("syslog") != std::string::npos;
    std::string lf, octets, r5424;
    for (size_t i = 0; i < s.lines.size() && i < 30; ++i) {
      std::string m3164 =
          "<" + std::to_string(8 * (i % 24) + i % 8) + ">" +
          (looks_syslog ? s.lines[i]
                        : "May  1 12:00:0" + std::to_string(i % 10) + " seed-host app[" +
                              std::to_string(i) + "]: " + s.lines[i]);
      std::string m5424 =
          "<165>1 2024-05-01T12:00:00." + std::to_string(i) + "Z seed-host " + s.dataset + " " +
          std::to_string(100 + i) +
          " ID47 [exampleSDID@32473 iut=\"3\" trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"] " +
          s.lines[i];
      lf += m3164 + "\n";
      octets += std::to_string(m5424.size()) + " " + m5424;
      r5424 += m5424 + "\n";
    }
    // Byte 0: frame limit index 2 (2048) or 3, read size index varies, bit 5 = one datagram.
    w->Put("syslog", s.name + ".lf", Mode(static_cast<uint8_t>(2 | (4 << 2)), lf));
    w->Put("syslog", s.name + ".octets", Mode(static_cast<uint8_t>(3 | (3 << 2)), octets));
    w->Put("syslog", s.name + ".5424", Mode(static_cast<uint8_t>(2 | (6 << 2)), r5424));
    w->Put("syslog", s.name + ".dgram",
           Mode(32, r5424.substr(0, std::min(r5424.size(), r5424.find('\n')))));
  }
}

void Queries(const fs::path& source, Writer* w) {
  fs::path dir = source / "tests" / "queries";
  if (!fs::is_directory(dir)) return;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".q") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string q = text.str();
    while (!q.empty() && (q.back() == '\n' || q.back() == '\r')) q.pop_back();
    w->Put("query_parser", e.path().stem().string(), q);
  }
}

// Writes "records" as the segment seed "name" (id "id", tenant "default") at /seeds/NAME.seg of
// "env"; false (said on stderr) when the writer fails.
bool WriteSeedSegment(FaultInjectionEnv* env, const std::string& name, uint64_t id,
                      const std::vector<Record>& records, const segment::WriterOptions& options) {
  segment::SegmentInfo info;
  info.id = id;
  info.tenant = "default";
  Status st =
      segment::WriteSegment(env, "/seeds/" + name + ".seg", info, records, options, nullptr);
  if (!st.ok()) {
    std::fprintf(stderr, "segment seed %s: %s\n", name.c_str(), st.ToString().c_str());
  }
  return st.ok();
}

// The segment seed "name" written by WriteSeedSegment, put as NAME.fixcrc and NAME.raw.
void PutSeedSegment(FaultInjectionEnv* env, Writer* w, const std::string& name) {
  std::string file;
  if (!env->GetContents("/seeds/" + name + ".seg", &file).ok()) return;
  w->Put("segment_reader", name + ".fixcrc", Mode(1, file));
  w->Put("segment_reader", name + ".raw", Mode(0, file));
}

void UsersAsRiceRows(FaultInjectionEnv* env, Writer* w);
void UsersAsBlockMap(FaultInjectionEnv* env, Writer* w);
void SeqAgainstTs(FaultInjectionEnv* env, Writer* w);
void TracesInsideFilters(FaultInjectionEnv* env, Writer* w);

void Segments(const std::vector<Sample>& samples, Writer* w) {
  FaultInjectionEnv env;
  if (!env.CreateDirs("/seeds").ok()) return;
  uint64_t id = 1;
  for (size_t i = 0; i < samples.size(); i += 2) {
    const Sample& s = samples[i];
    std::vector<Record> records = Normalize(s, 3 + i % 24);
    if (records.empty()) continue;
    segment::WriterOptions options;
    options.block_rows = static_cast<uint32_t>(1 + i % 8);
    options.sort_rows = i % 4 != 0;
    segment::SegmentInfo info;
    info.id = id++;
    info.tenant = "default";
    segment::SegmentInfo out;
    std::string path = "/seeds/" + s.name + ".seg";
    Status st = segment::WriteSegment(&env, path, info, records, options, &out);
    if (!st.ok()) {
      std::fprintf(stderr, "segment seed %s: %s\n", s.name.c_str(), st.ToString().c_str());
      continue;
    }
    std::string file;
    if (!env.GetContents(path, &file).ok()) continue;
    w->Put("segment_reader", s.name + ".fixcrc", Mode(1, file));
    if (i % 6 == 0) w->Put("segment_reader", s.name + ".raw", Mode(0, file));
  }
  // Shapes the samples lack (a few rows each): user ids in every row, a few popular, so that
  // the writer codes them as huffman-ids (format 20), and rows over several minutes and levels
  // for the minute and service/level counts (format 19); blocks of 64 and 200 rows.
  for (uint32_t block_rows : {64u, 200u, 1500u}) {
    std::vector<Record> records;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < (block_rows == 1500 ? 3000u : 600u); ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      Record r;
      r.tenant = "default";
      r.ts = fuzz::kNowNs + static_cast<int64_t>(i) * 1'500'000'000;
      r.ingest_ts = r.ts + static_cast<int64_t>(x % 3'000'000'000);
      r.seq = 1 + i;
      r.service = i % 5 == 0 ? "auth" : "api";
      r.host = "seed-host";
      r.level = static_cast<Level>(x % kLevelCount);
      // About half the rows one of four users, the rest one of many; in the large blocks a
      // skewed few (kept as huffman-ids where zstd makes them smallest), short messages.
      if (block_rows == 1500) {
        const uint64_t u = (x >> 8) % 64;
        r.user_id = "user-" + std::to_string(1000 + u * u * u % 4099);
        r.message = "ok";
      } else {
        r.user_id = "user-" + std::to_string(x % 2 == 0 ? (x >> 8) % 4 : (x >> 8) % 997);
        r.message =
            "GET /api/items/" + std::to_string(x % 50) + " took " + std::to_string(x % 300) + "ms";
      }
      records.push_back(std::move(r));
    }
    segment::WriterOptions options;
    options.block_rows = block_rows;
    segment::SegmentInfo info;
    info.id = id++;
    info.tenant = "default";
    segment::SegmentInfo out;
    const std::string name = "users-" + std::to_string(block_rows);
    const std::string path = "/seeds/" + name + ".seg";
    Status st = segment::WriteSegment(&env, path, info, records, options, &out);
    if (!st.ok()) {
      std::fprintf(stderr, "segment seed %s: %s\n", name.c_str(), st.ToString().c_str());
      continue;
    }
    std::string file;
    if (!env.GetContents(path, &file).ok()) continue;
    w->Put("segment_reader", name + ".fixcrc", Mode(1, file));
    w->Put("segment_reader", name + ".raw", Mode(0, file));
  }
  UsersAsRiceRows(&env, w);
  UsersAsBlockMap(&env, w);
  SeqAgainstTs(&env, w);
  TracesInsideFilters(&env, w);
}

// The records of the seed seq-ts-line (format version 25): 3,000 lines of 12 sources arriving
// roughly in time order (each line's ts up to 2 s from where its arrival puts it, batches of 250
// lines, every third one place early), so that the writer stores each block's seq against its
// ts (encoding 28, ts-line). Blocks of 1,000 rows.
std::vector<Record> SeqAgainstTsRecords() {
  std::vector<Record> records;
  std::vector<size_t> line(3000);
  for (size_t i = 0; i < line.size(); ++i) line[i] = i;
  for (size_t b = 250; b < line.size(); b += 750) {
    for (size_t i = 0; i < 250; ++i) std::swap(line[b - 250 + i], line[b + i]);
  }
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i < line.size(); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Record r;
    r.tenant = "default";
    r.ts = (fuzz::kNowNs + static_cast<int64_t>(line[i]) * 8'640'000 +
            static_cast<int64_t>(x % 4'000'000'001) - 2'000'000'000) /
           1000 * 1000;
    r.ingest_ts = fuzz::kNowNs + static_cast<int64_t>(i / 250) * 1'000'000;
    r.seq = 1 + i;
    r.service = "svc" + std::to_string((x >> 40) % 3);
    r.host = "seed-" + std::to_string((x >> 44) % 12);
    r.level = static_cast<Level>((x >> 8) % kLevelCount);
    r.message = "ok";
    records.push_back(std::move(r));
  }
  return records;
}

void SeqAgainstTs(FaultInjectionEnv* env, Writer* w) {
  segment::WriterOptions options;
  options.block_rows = 1000;
  if (WriteSeedSegment(env, "seq-ts-line", 101, SeqAgainstTsRecords(), options)) {
    PutSeedSegment(env, w, "seq-ts-line");
  }
}

// (Format version 22) A segment as compaction writes it whose user ids' rows are Rice codes
// (inverted index version 3 without a rest: index/inverted_index.h): 2,000 rows over three
// services and two hosts, sorted by service, host and ts, each of 16 users in ~125 rows spread
// at random among them, where Rice codes (~6 bits a row) are smaller than runs (two varints a
// row). The target's Postings of the indexed values, KeepRowsHolding and MatchingRowsPerBlock
// of "user-3" and "user-1" then decode Rice rows (second reader's LOW-F1, session 22: the seeds
// above were written at format 20, before Rice rows).
std::vector<Record> SixteenUsersRecords() {
  std::vector<Record> records;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Record r;
    r.tenant = "default";
    r.ts = fuzz::kNowNs + static_cast<int64_t>(i) * 250'000'000;
    r.ingest_ts = r.ts + static_cast<int64_t>(x % 1'000'000'000);
    r.seq = 1 + i;
    r.service = i % 3 == 0 ? "auth" : i % 3 == 1 ? "api" : "billing";
    r.host = (x >> 20) % 2 == 0 ? "seed-a" : "seed-b";
    r.level = static_cast<Level>((x >> 8) % kLevelCount);
    r.user_id = "user-" + std::to_string((x >> 32) % 16);
    r.message = "ok";
    records.push_back(std::move(r));
  }
  return records;
}

void UsersAsRiceRows(FaultInjectionEnv* env, Writer* w) {
  const std::vector<Record> records = SixteenUsersRecords();
  segment::WriterOptions options;  // DefaultValuePostingsRule
  // Format 22: the users' rows as version 3's Rice codes (format 23's version 4 has its own
  // seed, users-1500-v23.fixcrc).
  options.format_version = 22;
  options.block_rows = 1000;
  const std::string name = "users-rice";
  const std::string path = "/seeds/" + name + ".seg";
  if (!WriteSeedSegment(env, name, 100, records, options)) return;
  // Said when the writer stops choosing Rice codes for these users (the seed would then test
  // something else).
  auto reader = segment::SegmentFileReader::OpenFile(env, path);
  auto users = reader.ok()
                   ? (*reader)->LoadIndex("user_id")
                   : Result<std::shared_ptr<const index::InvertedIndexReader>>(reader.status());
  size_t rice = 0;
  for (int u = 0; users.ok() && *users != nullptr && u < 16; ++u) {
    rice += (*users)->RiceCoded("user-" + std::to_string(u));
  }
  if (rice == 0)
    std::fprintf(stderr, "segment seed %s: no user's rows are Rice codes\n", name.c_str());
  PutSeedSegment(env, w, name);
}

// (Format version 26) A segment whose trace ids are kept inside their filters (filtered-hex
// column blocks beside mixed id filters): 600 rows in three blocks of random 32-hex trace ids,
// one in ten repeating the previous row's, as the corpus draws them. The target's reads of every
// block, of a few rows and of the rows holding a trace id then decode them.
void TracesInsideFilters(FaultInjectionEnv* env, Writer* w) {
  std::vector<Record> records;
  uint64_t x = 0x2545f4914f6cdd1dull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (size_t i = 0; i < 600; ++i) {
    Record r;
    r.tenant = "default";
    r.ts = fuzz::kNowNs + static_cast<int64_t>(i) * 250'000'000;
    r.ingest_ts = r.ts;
    r.seq = 1 + i;
    r.service = "api";
    r.host = "seed-a";
    r.message = "ok";
    if (i > 0 && next() % 10 == 0) {
      r.trace_id = records.back().trace_id;
    } else {
      char id[40];
      const uint64_t a = next();
      std::snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(a),
                    static_cast<unsigned long long>(next()));
      r.trace_id = id;
    }
    records.push_back(std::move(r));
  }
  segment::WriterOptions options;
  options.format_version = 26;
  options.block_rows = options.time_slice_rows = 200;
  if (WriteSeedSegment(env, "traces-v26", 102, records, options)) {
    PutSeedSegment(env, w, "traces-v26");
  }
}

// (Format version 27) users-rice's rows with the user ids as the block map (inverted index
// version 5: index/inverted_index.h), in blocks of 250 rows, so that the target's Postings,
// KeepRowsHolding and MatchingRowsPerBlock of "user-3" and "user-1" decode a user's blocks.
void UsersAsBlockMap(FaultInjectionEnv* env, Writer* w) {
  segment::WriterOptions options;
  options.format_version = 27;
  options.block_rows = 250;
  if (WriteSeedSegment(env, "users-map-v27", 102, SixteenUsersRecords(), options)) {
    PutSeedSegment(env, w, "users-map-v27");
  }
}

void Wal(const std::vector<Sample>& samples, Writer* w) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    std::vector<Record> records = Normalize(s, 40);
    if (records.empty()) continue;
    std::string batch;
    wal::EncodeBatch("default", records, &batch);
    wal::SetBatchBaseSeq(batch.data(), 1000);
    w->Put("wal_batch", s.name, batch);
    // The same batch with the Idempotency-Key it was sent with.
    const wal::BatchIdempotency key{"agent-" + std::to_string(i), 0x9e3779b97f4a7c15ull,
                                    1700000000000000000, std::to_string(records.size()) + ",0,0,0"};
    std::string keyed;
    wal::EncodeBatch("default", records, &keyed, &key);
    wal::SetBatchBaseSeq(keyed.data(), 1000);
    w->Put("wal_batch", s.name + ".key", keyed);
    if (i % 2 != 0) continue;
    // A WAL file of a few batches (log number 42, as wal_reader.cc reads it).
    wal::LogWriter writer(nullptr, 42);
    std::string file;
    size_t per = std::max<size_t>(1, records.size() / 3);
    for (size_t at = 0; at < records.size(); at += per) {
      std::vector<Record> part(
          records.begin() + static_cast<long>(at),
          records.begin() + static_cast<long>(std::min(records.size(), at + per)));
      std::string b;
      wal::EncodeBatch("default", part, &b);
      wal::SetBatchBaseSeq(b.data(), 1000 + at);
      writer.Encode(b, &file);
    }
    w->Put("wal_reader", s.name + ".fixcrc", Mode(1, file));
    w->Put("wal_reader", s.name + ".raw", Mode(0, file));
  }
  // One record fragmented across a 32 KiB block boundary (FIRST, MIDDLE, LAST).
  std::vector<Record> big;
  for (const Sample& s : samples) {
    for (auto& r : Normalize(s, 40)) big.push_back(std::move(r));
    if (big.size() > 400) break;
  }
  std::string batch;
  wal::EncodeBatch("default", big, &batch);
  wal::SetBatchBaseSeq(batch.data(), 1);
  if (batch.size() > 40000) batch.resize(40000);  // keeps the seed under the target's max_len
  wal::LogWriter writer(nullptr, 42);
  std::string file;
  writer.Encode("small first record", &file);
  writer.Encode(batch, &file);
  w->Put("wal_reader", "fragments.fixcrc", Mode(1, file));
}

void Agent(const std::vector<Sample>& samples, Writer* w) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    std::string text = s.text.substr(0, 2048);
    // agent_parser byte 0: parser kind (0 auto, 1 json, 2 logfmt, 3 regex), bit 2 short lines.
    w->Put("agent_parser", s.name, Mode(static_cast<uint8_t>(i % 8), text));
    // agent_multiline byte 0: bit 0 start pattern, bits 1-2 max_lines, 3-4 max_bytes, 5-6 flush.
    w->Put("agent_multiline", s.name, Mode(static_cast<uint8_t>((i * 37) & 0x7f), text));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s SHARED_DIR SOURCE_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  fs::path real = fs::path(argv[1]) / "data" / "real";
  if (!fs::is_directory(real)) {
    std::fprintf(stderr,
                 "fuzz_seeds: %s is missing: the seed corpora come from the real "
                 "datasets (set SAWMILL_SHARED_DIR)\n",
                 real.c_str());
    return 1;
  }
  std::vector<Sample> samples = LoadSamples(real, 6);
  std::printf("fuzz_seeds: %zu samples from %s\n", samples.size(), real.c_str());
  Writer w{fs::path(argv[3])};
  NativeBody(samples, &w);
  DecodeBody(samples, &w);
  EsBulk(samples, &w);
  LokiJson(samples, &w);
  LokiProto(samples, &w);
  Otlp(samples, &w);
  Syslog(samples, &w);
  Queries(argv[2], &w);
  Segments(samples, &w);
  Wal(samples, &w);
  Agent(samples, &w);
  w.Summary();
  return 0;
}
