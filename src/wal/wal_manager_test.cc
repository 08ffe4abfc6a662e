#include "wal/wal_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/coding.h"
#include "common/fault_env.h"
#include "common/metrics.h"
#include "wal/record_batch.h"
#include "wal/slow_sync_env.h"

namespace sawmill::wal {
namespace {

// Payload: 8 bytes for the base seq, then text.
std::string MakePayload(const std::string& text) { return std::string(8, '\0') + text; }

// The value of one sample of /metrics, e.g. Metric("sawmill_wal_damage_total{kind=\"checksum\"}").
double Metric(const std::string& sample) {
  const std::string text = SerializeMetrics();
  size_t at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + sample.size() + 2));
}

size_t CountLogFiles(FaultInjectionEnv* env) {
  auto names = env->GetChildren("/data/wal");
  size_t n = 0;
  for (const auto& name : *names) n += name.size() > 4 && name.ends_with(".log");
  return n;
}

class WalManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<WalManager> OpenWal(WalOptions options = {}, Env* env = nullptr) {
    applied_.clear();
    auto wal = WalManager::Open(env != nullptr ? env : &env_, &clock_, "/data/wal", options,
                                [this](WalBatch& b) {
                                  applied_.push_back(b.payload.substr(8));
                                  applied_seqs_.push_back(b.base_seq);
                                });
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    return std::move(wal).value();
  }
  // Replays and returns the texts seen.
  std::vector<std::string> Replay(WalManager* wal, uint64_t* max_seq = nullptr) {
    std::vector<std::string> seen;
    auto r = wal->Replay([&](std::string_view payload, uint64_t* seq) {
      if (payload.size() < 8) return Status::DataLoss("short");
      *seq = DecodeFixed64(payload.data());
      seen.emplace_back(payload.substr(8));
      return Status::OK();
    });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (max_seq != nullptr && r.ok()) *max_seq = *r;
    return seen;
  }
  Status Commit(WalManager* wal, const std::string& text, int64_t ts = 0) {
    WalBatch b;
    b.payload = MakePayload(text);
    b.count = 1;
    if (ts != 0) {
      b.min_ts = b.max_ts = ts;
      b.min_ingest_ts = b.max_ingest_ts = ts + 5;
    }
    return wal->Commit(&b);
  }
  // Writes "n" records of 100 bytes of text with ts 1000, 1001, ... and drops the manager the
  // way kill -9 does (nothing synced or closed afterwards). Returns the file's contents.
  std::string WriteAndKill(int n) {
    {
      auto wal = OpenWal();
      Replay(wal.get());
      for (int i = 0; i < n; ++i) {
        EXPECT_TRUE(Commit(wal.get(), std::string(100, 'a' + i % 26), 1000 + i).ok());
      }
    }
    std::string c;
    EXPECT_TRUE(env_.GetContents("/data/wal/000001.log", &c).ok());
    return c;
  }

  FaultInjectionEnv env_;
  ManualClock clock_;
  std::vector<std::string> applied_;
  std::vector<uint64_t> applied_seqs_;
};

TEST_F(WalManagerTest, CommittedRecordsSurviveACrash) {
  {
    auto wal = OpenWal();
    EXPECT_TRUE(Replay(wal.get()).empty());
    wal->SetNextSeq(100);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Commit(wal.get(), "r" + std::to_string(i)).ok());
    EXPECT_EQ(applied_seqs_.front(), 100u);
    EXPECT_EQ(applied_seqs_.back(), 109u);
  }
  env_.SimulateCrash();
  auto wal = OpenWal();
  uint64_t max_seq = 0;
  auto seen = Replay(wal.get(), &max_seq);
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[9], "r9");
  EXPECT_EQ(max_seq, 109u);
}

TEST_F(WalManagerTest, ConcurrentWritersShareSyncs) {
  SlowSyncEnv slow(&env_, std::chrono::milliseconds(2));
  auto wal = OpenWal({}, &slow);
  Replay(wal.get());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Commit(wal.get(), std::to_string(t) + ":" + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  WalStats s = wal->stats();
  EXPECT_EQ(s.commits, static_cast<uint64_t>(kThreads * kPerThread));
  // With 8 writers and a 2 ms sync, groups form on every sync but the first few.
  EXPECT_LT(s.syncs, s.commits / 2);
  // Applied exactly once each, in seq order.
  ASSERT_EQ(applied_seqs_.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(std::is_sorted(applied_seqs_.begin(), applied_seqs_.end()));
  EXPECT_EQ(std::adjacent_find(applied_seqs_.begin(), applied_seqs_.end()), applied_seqs_.end());
}

TEST_F(WalManagerTest, FailedSyncIsNotAcknowledgedAndLogMovesOn) {
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_TRUE(Commit(wal.get(), "before").ok());
  env_.InjectSyncFailure(1);
  Status s = Commit(wal.get(), "failed");
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  ASSERT_TRUE(Commit(wal.get(), "after").ok());
  EXPECT_EQ(applied_, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(wal->stats().files, 2u);  // the failed file is never appended to again
  wal.reset();
  env_.SimulateCrash();
  auto wal2 = OpenWal();
  auto seen = Replay(wal2.get());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "before"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "after"), seen.end());
}

TEST_F(WalManagerTest, RotatesAndDeletesOnlyFlushedFiles) {
  WalOptions options;
  options.file_bytes = 4096;
  auto wal = OpenWal(options);
  Replay(wal.get());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Commit(wal.get(), std::string(200, 'x')).ok());
  const uint64_t files = wal->stats().files;
  EXPECT_GT(files, 3u);
  // Records with seq < 50 are in segments: only files holding nothing newer may go.
  int deleted = wal->DeleteObsoleteFiles(50);
  EXPECT_GT(deleted, 0);
  wal.reset();
  auto wal2 = OpenWal(options);
  auto seen = Replay(wal2.get());
  uint64_t min_seq_left = UINT64_MAX;
  EXPECT_GE(seen.size(), 51u);
  EXPECT_LT(seen.size(), 100u);
  (void)min_seq_left;
  // Everything deleted now: all seqs flushed.
  EXPECT_GT(wal2->DeleteObsoleteFiles(1000), 0);
  EXPECT_EQ(wal2->stats().files, 1u);
}

TEST_F(WalManagerTest, DeletedFilesStayDeletedAfterACrash) {
  WalOptions options;
  options.file_bytes = 4096;
  auto wal = OpenWal(options);
  Replay(wal.get());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Commit(wal.get(), std::string(200, 'x')).ok());
  ASSERT_GT(wal->DeleteObsoleteFiles(1000), 0);
  const size_t left = CountLogFiles(&env_);
  EXPECT_EQ(left, 1u);
  wal.reset();
  env_.SimulateCrash();
  EXPECT_EQ(CountLogFiles(&env_), left) << "deleted WAL files came back after a power cut";
}

TEST_F(WalManagerTest, CommitAfterCloseIsUnavailable) {
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_TRUE(Commit(wal.get(), "late").IsUnavailable());
}

TEST_F(WalManagerTest, ReplayCountsDamagedRecords) {
  {
    auto wal = OpenWal();
    Replay(wal.get());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(Commit(wal.get(), std::string(100, 'a' + i)).ok());
  }
  std::string c;
  ASSERT_TRUE(env_.GetContents("/data/wal/000001.log", &c).ok());
  c[2 * (11 + 108) + 11 + 50] ^= 0x10;  // inside the third record's text
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", c).ok());
  auto wal = OpenWal();
  auto seen = Replay(wal.get());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(wal->stats().corrupt_records, 1u);
}

TEST_F(WalManagerTest, DamageInOneFileDoesNotStopReplayOfTheNext) {
  WalOptions options;
  options.file_bytes = 1024;
  {
    auto wal = OpenWal(options);
    Replay(wal.get());
    for (int i = 0; i < 30; ++i)
      ASSERT_TRUE(Commit(wal.get(), "r" + std::to_string(i) + std::string(100, '.')).ok());
  }
  auto names = env_.GetChildren("/data/wal");
  ASSERT_GE(names->size(), 3u);
  std::sort(names->begin(), names->end());
  const std::string victim = "/data/wal/" + (*names)[1];
  std::string c;
  ASSERT_TRUE(env_.GetContents(victim, &c).ok());
  c[11 + 30] ^= 1;  // the first record of the second file
  ASSERT_TRUE(env_.SetContents(victim, c).ok());
  auto wal = OpenWal(options);
  auto seen = Replay(wal.get());
  EXPECT_EQ(seen.size(), 29u);
  EXPECT_EQ(seen.back().substr(0, 3), "r29");
  EXPECT_EQ(wal->stats().corrupt_records, 1u);
}

// Replay with the engine's decoder over a WAL holding a version 2 batch, a batch of a version this
// build does not know (a newer server's) and a version 1 batch (an older server's): the two known
// ones replay, the unknown one is skipped and reported as damage naming the version, the file and
// the offset; it is never misread as records.
TEST_F(WalManagerTest, UnknownPayloadVersionIsReportedAndTheOtherVersionsReplay) {
  auto record = [](const std::string& message) {
    Record r;
    r.ts = r.ingest_ts = 1000;
    r.service = "svc";
    r.message = message;
    return r;
  };
  std::string v2, v3, v1;
  EncodeBatch("acme", {record("from version 2")}, &v2);
  EncodeBatch("acme", {record("from version 3")}, &v3);
  v3[8 + 5] = 3;  // the version byte after base_seq and the 5-byte marker
  {
    // Version 1: base_seq tenant count record{count}, i.e. version 2 without the marker, the
    // version byte and the flags.
    std::string v2_bytes;
    EncodeBatch("acme", {record("from version 1")}, &v2_bytes);
    const std::string_view rest = std::string_view(v2_bytes).substr(8 + 5 + 1);
    v1.assign(v2_bytes, 0, 8);
    v1.append(rest.substr(0, 5));   // tenant "acme" (length 4)
    v1.append(rest.substr(5 + 1));  // count and records (after flags 0)
  }
  {
    auto wal = OpenWal();
    Replay(wal.get());
    for (const std::string* payload : {&v2, &v3, &v1}) {
      WalBatch b;
      b.payload = *payload;
      b.count = 1;
      ASSERT_TRUE(wal->Commit(&b).ok());
    }
  }
  auto wal = OpenWal();
  std::vector<Record> replayed;
  std::vector<uint8_t> versions;
  auto r = wal->Replay([&](std::string_view payload, uint64_t* max_seq) {
    BatchHeader header;
    RETURN_IF_ERROR(DecodeBatch(payload, &replayed, &header));
    versions.push_back(header.version);
    *max_seq = header.base_seq + header.count - 1;
    return Status::OK();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].message, "from version 2");
  EXPECT_EQ(replayed[1].message, "from version 1");
  EXPECT_EQ(versions, (std::vector<uint8_t>{2, 1}));
  EXPECT_EQ(replayed[1].seq, 3u);  // the unknown batch's seq is not reused
  EXPECT_EQ(replayed[1].tenant, "acme");
  ASSERT_EQ(wal->damage_found().size(), 1u);
  const WalDamage& d = wal->damage_found()[0];
  EXPECT_EQ(d.kind, "undecodable");
  EXPECT_EQ(d.file, "000001.log");
  EXPECT_EQ(d.offset, 11 + v2.size());  // the second record, after the first's header and payload
  EXPECT_NE(d.detail.find("unknown payload version 3"), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("000001.log at offset " + std::to_string(11 + v2.size())),
            std::string::npos)
      << d.detail;
}

// One record on disk: 11 bytes of header, 8 of seq, 100 of text.
constexpr size_t kRecordBytes = 11 + 8 + 100;

TEST_F(WalManagerTest, TruncatedAcknowledgedDataIsReportedWithFileOffsetBytesAndTimeRange) {
  const std::string full = WriteAndKill(20);
  ASSERT_EQ(full.size(), 20 * kRecordBytes);
  // At a record boundary (nothing in the file itself betrays the cut), inside a header, inside
  // a payload, and the whole file emptied.
  for (size_t cut : {15 * kRecordBytes, 15 * kRecordBytes + 5, 15 * kRecordBytes + 40, size_t{0}}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", full.substr(0, cut)).ok());
    const double before = Metric("sawmill_wal_damage_total{kind=\"truncated\"}");
    auto wal = OpenWal();
    auto seen = Replay(wal.get());
    EXPECT_EQ(seen.size(), cut / kRecordBytes);
    ASSERT_EQ(wal->damage_found().size(), 1u);
    const WalDamage& d = wal->damage_found()[0];
    EXPECT_EQ(d.kind, "truncated");
    EXPECT_EQ(d.file, "000001.log");
    EXPECT_EQ(d.offset, cut / kRecordBytes * kRecordBytes);
    EXPECT_EQ(d.bytes, full.size() - d.offset);
    EXPECT_TRUE(d.acknowledged_loss);
    ASSERT_TRUE(d.range_known);
    EXPECT_EQ(d.min_ts, 1000);
    EXPECT_EQ(d.max_ts, 1019);
    EXPECT_EQ(d.min_ingest_ts, 1005);
    EXPECT_EQ(d.max_ingest_ts, 1024);
    EXPECT_NE(d.detail.find("acknowledged"), std::string::npos) << d.detail;
    EXPECT_EQ(Metric("sawmill_wal_damage_total{kind=\"truncated\"}"), before + 1);
    EXPECT_EQ(wal->stats().damage, 1u);
    ASSERT_TRUE(wal->Close().ok());
    // The file is put back for the next cut (the restart above opened 000002.log).
    env_.RemoveFile("/data/wal/000002.log").IgnoreError();
  }
}

TEST_F(WalManagerTest, TruncationStaysVisibleAfterAnotherRestart) {
  const std::string full = WriteAndKill(10);
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", full.substr(0, 4 * kRecordBytes)).ok());
  {
    auto wal = OpenWal();
    Replay(wal.get());
  }
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_EQ(wal->damage_found().size(), 1u);
  EXPECT_EQ(wal->damage_found()[0].kind, "truncated");
  EXPECT_EQ(wal->damage_found()[0].offset, 4 * kRecordBytes);
}

TEST_F(WalManagerTest, TornTailPastTheSyncedSizeWasNeverAcknowledged) {
  std::string c = WriteAndKill(5);
  // A crash during a write that was never synced: half a record after the synced data.
  c += std::string(
      "\x12\x34\x56\x78\xff\x00\x01\x01\x00\x00\x00"
      "abc",
      14);
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", c).ok());
  const double before = Metric("sawmill_wal_damage_total{kind=\"torn_tail\"}");
  auto wal = OpenWal();
  EXPECT_EQ(Replay(wal.get()).size(), 5u);
  ASSERT_EQ(wal->damage_found().size(), 1u);
  const WalDamage& d = wal->damage_found()[0];
  EXPECT_EQ(d.kind, "torn_tail");
  EXPECT_FALSE(d.acknowledged_loss);
  EXPECT_EQ(d.offset, 5 * kRecordBytes);
  EXPECT_EQ(d.bytes, 14u);
  EXPECT_EQ(Metric("sawmill_wal_damage_total{kind=\"torn_tail\"}"), before + 1);
  // The next start must not mistake the torn bytes for synced data that went missing.
  wal.reset();
  auto again = OpenWal();
  EXPECT_EQ(Replay(again.get()).size(), 5u);
  ASSERT_EQ(again->damage_found().size(), 1u);
  EXPECT_EQ(again->damage_found()[0].kind, "torn_tail");
  EXPECT_FALSE(again->damage_found()[0].acknowledged_loss);
}

TEST_F(WalManagerTest, WithoutSyncedSizesAnUnusableTailMayHaveBeenAcknowledged) {
  const std::string full = WriteAndKill(10);
  ASSERT_TRUE(env_.RemoveFile("/data/wal/SYNCED").ok());
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", full.substr(0, 6 * kRecordBytes + 30)).ok());
  auto wal = OpenWal();
  EXPECT_EQ(Replay(wal.get()).size(), 6u);
  ASSERT_EQ(wal->damage_found().size(), 1u);
  const WalDamage& d = wal->damage_found()[0];
  EXPECT_EQ(d.kind, "torn_tail");
  EXPECT_TRUE(d.acknowledged_loss);
  EXPECT_FALSE(d.range_known);  // may concern any time
  EXPECT_NE(d.detail.find("may have been acknowledged"), std::string::npos) << d.detail;
}

TEST_F(WalManagerTest, IntactFilesAfterACleanCloseOrKillReportNothing) {
  WriteAndKill(10);
  {
    auto wal = OpenWal();
    EXPECT_EQ(Replay(wal.get()).size(), 10u);
    EXPECT_TRUE(wal->damage_found().empty());
    ASSERT_TRUE(Commit(wal.get(), "after", 5).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenWal();
  EXPECT_EQ(Replay(wal.get()).size(), 11u);
  EXPECT_TRUE(wal->damage_found().empty());
}

TEST_F(WalManagerTest, FlippedByteIsReportedAsChecksumDamageWithItsRange) {
  std::string c = WriteAndKill(10);
  c[3 * kRecordBytes + 11 + 50] ^= 0x08;
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", c).ok());
  const double before = Metric("sawmill_wal_damage_total{kind=\"checksum\"}");
  const double bytes_before = Metric("sawmill_wal_damage_bytes_total{kind=\"checksum\"}");
  auto wal = OpenWal();
  EXPECT_EQ(Replay(wal.get()).size(), 9u);
  ASSERT_EQ(wal->damage_found().size(), 1u);
  const WalDamage& d = wal->damage_found()[0];
  EXPECT_EQ(d.kind, "checksum");
  EXPECT_EQ(d.offset, 3 * kRecordBytes);
  EXPECT_EQ(d.bytes, kRecordBytes);
  EXPECT_TRUE(d.range_known);
  EXPECT_EQ(d.min_ts, 1000);
  EXPECT_EQ(d.max_ts, 1009);
  EXPECT_EQ(Metric("sawmill_wal_damage_total{kind=\"checksum\"}"), before + 1);
  EXPECT_EQ(Metric("sawmill_wal_damage_bytes_total{kind=\"checksum\"}"),
            bytes_before + kRecordBytes);
}

TEST_F(WalManagerTest, FullDiskReusesTheLogFileAndReadinessFollowsTheWrites) {
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_TRUE(Commit(wal.get(), "before", 1).ok());
  EXPECT_TRUE(wal->WriteHealth().ok());
  const size_t files = CountLogFiles(&env_);
  env_.SetNoSpace(true);
  for (int i = 0; i < 300; ++i) {
    Status s = Commit(wal.get(), "refused " + std::to_string(i), 2);
    ASSERT_TRUE(s.IsUnavailable()) << s.ToString();
    EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.message();
  }
  EXPECT_EQ(CountLogFiles(&env_), files);  // not one file per refused batch
  Status health = wal->WriteHealth();
  EXPECT_TRUE(health.IsUnavailable());
  EXPECT_NE(health.message().find("not accepting writes: disk full"), std::string::npos)
      << health.message();
  // Still full: the probe a second later fails too.
  clock_.Advance(2 * kNanosPerSecond);
  EXPECT_FALSE(wal->WriteHealth().ok());
  env_.SetNoSpace(false);
  // A successful write clears it at once.
  ASSERT_TRUE(Commit(wal.get(), "after", 3).ok());
  EXPECT_TRUE(wal->WriteHealth().ok());
  EXPECT_EQ(CountLogFiles(&env_), files);
  ASSERT_TRUE(wal->Close().ok());

  auto wal2 = OpenWal();
  EXPECT_EQ(Replay(wal2.get()), (std::vector<std::string>{"before", "after"}));
  EXPECT_TRUE(wal2->damage_found().empty());
}

TEST_F(WalManagerTest, ReadinessRecoversByProbeWhenNobodyWrites) {
  auto wal = OpenWal();
  Replay(wal.get());
  env_.SetNoSpace(true);
  EXPECT_FALSE(Commit(wal.get(), "refused").ok());
  EXPECT_FALSE(wal->WriteHealth().ok());
  env_.SetNoSpace(false);
  EXPECT_FALSE(wal->WriteHealth().ok());  // no probe within a second of the failure
  clock_.Advance(2 * kNanosPerSecond);
  EXPECT_TRUE(wal->WriteHealth().ok());
  EXPECT_FALSE(env_.FileExists("/data/wal/SPACE-PROBE"));
}

// Fails every write to a log file (an I/O error, not a full disk) while "failing" is set.
class FailingLogEnv final : public EnvWrapper {
 public:
  explicit FailingLogEnv(Env* base) : EnvWrapper(base) {}
  std::atomic<bool> failing{false};

  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> f, FailingLogEnv* env) : f_(std::move(f)), env_(env) {}
    Status Append(std::string_view d) override {
      if (env_->failing) return Status::IOError("injected I/O error");
      return f_->Append(d);
    }
    Status Flush() override { return f_->Flush(); }
    Status Sync() override { return f_->Sync(); }
    Status Close() override { return f_->Close(); }
    uint64_t Size() const override { return f_->Size(); }

   private:
    std::unique_ptr<WritableFile> f_;
    FailingLogEnv* env_;
  };
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    ASSIGN_OR_RETURN(auto f, target()->NewWritableFile(p));
    if (!p.ends_with(".log")) return f;
    return std::unique_ptr<WritableFile>(new File(std::move(f), this));
  }
};

TEST_F(WalManagerTest, RepeatedWriteErrorsDoNotLeaveAFilePerFailure) {
  FailingLogEnv env(&env_);
  auto wal = OpenWal({}, &env);
  Replay(wal.get());
  ASSERT_TRUE(Commit(wal.get(), "kept").ok());
  env.failing = true;
  for (int i = 0; i < 50; ++i) {
    Status s = Commit(wal.get(), "lost");
    EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
    EXPECT_NE(s.message().find("not accepting writes"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(wal->WriteHealth().ok());
  env.failing = false;
  // The file with "kept" and at most the one file being tried.
  EXPECT_LE(CountLogFiles(&env_), 2u);
  ASSERT_TRUE(Commit(wal.get(), "kept too").ok());
  ASSERT_TRUE(wal->Close().ok());
  auto wal2 = OpenWal();
  EXPECT_EQ(Replay(wal2.get()), (std::vector<std::string>{"kept", "kept too"}));
}

}  // namespace
}  // namespace sawmill::wal
