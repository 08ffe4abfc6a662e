// Idempotency-Keys in the storage engine (AppendIdempotent / FindIdempotencyKey): kept with the
// batch in the WAL, rebuilt by replay after a crash, written to the catalog before the WAL files
// go, bounded by the window and the key count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/fault_env.h"
#include "common/metrics.h"
#include "storage/engine_test_fixture.h"
#include "storage/lines_test_util.h"
#include "storage/storage_engine.h"
#include "wal/log_writer.h"
#include "wal/record_batch.h"

namespace sawmill::storage {
namespace {

std::vector<Record> Lines(const std::string& prefix, int count) {
  return NumberedLines(0, count, {},
                       [&](int, Record* r) { r->message = prefix + " " + r->message; });
}

IdempotencyKey Key(const std::string& key, uint64_t body_hash = 42,
                   const std::string& answer = "3,0,0,0") {
  IdempotencyKey k;
  k.key = key;
  k.body_hash = body_hash;
  k.answer = answer;
  return k;
}

// The value of one sample of the metrics text, 0 when it is not there.
double Metric(const std::string& sample) {
  const std::string text = SerializeMetrics();
  size_t at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + sample.size() + 2));
}

class IdempotencyTest : public EngineTest {
 protected:
  // Kills the process at this point: nothing more reaches the disk (the catalog included: the
  // engine's destructor must not get to write keys a dead process would not), unsynced data is
  // lost.
  void CrashAndReopen() {
    catalog()->SetCommitHook([] { return Status::IOError("simulated crash"); });
    EngineTest::CrashAndReopen();
  }
  // Messages stored for "acme", with how often each is there.
  std::map<std::string, int> Stored() {
    Contents c = Read(*engine_->GetSnapshot("acme"));
    EXPECT_EQ(c.errors, 0);
    return c.lines;
  }
  size_t StoredCount() {
    size_t n = 0;
    for (const auto& [line, count] : Stored()) n += static_cast<size_t>(count);
    return n;
  }
  // Kills the process after the OS wrote out everything it was given (kill -9: the page cache
  // survives, file deletions included), but before any further catalog commit.
  void KillAndReopen() {
    catalog()->SetCommitHook([] { return Status::IOError("killed"); });
    engine_.reset();
    OpenEngine();
  }
  // The WAL's log files (DIR/wal also holds the SYNCED sizes file).
  std::vector<std::string> WalLogs() {
    std::vector<std::string> logs;
    auto names = env_->GetChildren("/data/wal");
    EXPECT_TRUE(names.ok());
    if (!names.ok()) return logs;
    for (const std::string& name : *names) {
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) logs.push_back(name);
    }
    return logs;
  }
  // What a front door does with a batch: store it unless its key is known.
  Status Send(const std::string& key, std::vector<Record> batch, uint64_t body_hash = 42) {
    if (auto known = engine_->FindIdempotencyKey("acme", key)) {
      return known->body_hash == body_hash ? Status::OK()
                                           : Status::FailedPrecondition("key reused");
    }
    return engine_->AppendIdempotent("acme", &batch, Key(key, body_hash));
  }
};

TEST_F(IdempotencyTest, KeyIsRememberedWithItsBatchAndASecondAppendStoresNothing) {
  OpenEngine();
  auto batch = Lines("a", 3);
  ASSERT_TRUE(engine_->AppendIdempotent("acme", &batch, Key("k1", 7, "3,1,0,0")).ok());
  auto found = engine_->FindIdempotencyKey("acme", "k1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->key, "k1");
  EXPECT_EQ(found->body_hash, 7u);
  EXPECT_EQ(found->answer, "3,1,0,0");
  EXPECT_EQ(found->first_seq, batch[0].seq);
  EXPECT_EQ(found->count, 3u);
  EXPECT_EQ(found->created_ns, clock_.NowNanos());
  EXPECT_FALSE(engine_->FindIdempotencyKey("other", "k1").has_value());
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k2").has_value());

  auto again = Lines("a", 3);
  Status s = engine_->AppendIdempotent("acme", &again, Key("k1", 7));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(StoredCount(), 3u);
  // Another tenant has its own keys.
  auto theirs = Lines("b", 1);
  EXPECT_TRUE(engine_->AppendIdempotent("other", &theirs, Key("k1")).ok());
}

TEST_F(IdempotencyTest, RetryAfterACrashIsANoOp) {
  OpenEngine();
  ASSERT_TRUE(Send("batch-1", Lines("a", 5)).ok());
  // The process dies right after the acknowledgement: only the WAL has the batch and its key.
  CrashAndReopen();
  EXPECT_EQ(StoredCount(), 5u);
  auto found = engine_->FindIdempotencyKey("acme", "batch-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->count, 5u);
  EXPECT_EQ(found->answer, "3,0,0,0");
  ASSERT_TRUE(Send("batch-1", Lines("a", 5)).ok());
  EXPECT_EQ(StoredCount(), 5u);
  for (const auto& [line, count] : Stored()) EXPECT_EQ(count, 1) << line;
  // And the same key with another body is refused, still after the crash.
  EXPECT_EQ(Send("batch-1", Lines("x", 1), 99).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredCount(), 5u);
}

TEST_F(IdempotencyTest, KeySurvivesFlushWalDeletionAndReopen) {
  options_.wal_file_bytes = 1;  // a new WAL file after every commit, so that flushes delete them
  OpenEngine();
  ASSERT_TRUE(Send("batch-1", Lines("a", 30)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  // Everything is in segments and the WAL files that held the batch are gone: only the open
  // (empty) file is left, so the key can only come from the catalog now.
  const auto wal_files = WalLogs();
  ASSERT_EQ(wal_files.size(), 1u);
  EXPECT_EQ(env_->GetFileSize("/data/wal/" + wal_files[0]).value_or(1), 0u);
  CrashAndReopen();
  auto found = engine_->FindIdempotencyKey("acme", "batch-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->count, 30u);
  ASSERT_TRUE(Send("batch-1", Lines("a", 30)).ok());
  EXPECT_EQ(StoredCount(), 30u);
  // A clean restart (flush at close) keeps it as well.
  ASSERT_TRUE(engine_->Close().ok());
  engine_.reset();
  OpenEngine();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "batch-1").has_value());
  EXPECT_EQ(StoredCount(), 30u);
}

// Without background threads a big memtable is flushed, and WAL files deleted, inside Append:
// the key must already wait for the catalog then, or its only copy goes with the WAL file.
TEST_F(IdempotencyTest, KeyOfABatchFlushedBeforeAppendReturnsSurvives) {
  options_.wal_file_bytes = 1;
  options_.segment_target_bytes = 1;
  OpenEngine();
  ASSERT_TRUE(Send("flushed-at-once", Lines("a", 6)).ok());
  EXPECT_TRUE(engine_->GetSnapshot("acme")->memtables.empty());
  EXPECT_EQ(WalLogs().size(), 1u);
  KillAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "flushed-at-once").has_value());
  ASSERT_TRUE(Send("flushed-at-once", Lines("a", 6)).ok());
  EXPECT_EQ(StoredCount(), 6u);
}

TEST_F(IdempotencyTest, KeysOfPartlyFlushedBatchesComeBackFromBothPlaces) {
  OpenEngine();
  ASSERT_TRUE(Send("flushed", Lines("a", 10)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(Send("in-wal", Lines("b", 10)).ok());
  CrashAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "flushed").has_value());
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "in-wal").has_value());
  ASSERT_TRUE(Send("flushed", Lines("a", 10)).ok());
  ASSERT_TRUE(Send("in-wal", Lines("b", 10)).ok());
  EXPECT_EQ(StoredCount(), 20u);
  // The replayed key goes to the catalog when its batch is flushed.
  ASSERT_TRUE(engine_->Flush().ok());
  CrashAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "in-wal").has_value());
  EXPECT_EQ(StoredCount(), 20u);
}

TEST_F(IdempotencyTest, EmptyBatchKeepsItsKeyAcrossCrashAndFlush) {
  OpenEngine();
  std::vector<Record> none;
  ASSERT_TRUE(engine_->AppendIdempotent("acme", &none, Key("empty", 5, "0,4,0,0")).ok());
  CrashAndReopen();
  auto found = engine_->FindIdempotencyKey("acme", "empty");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->count, 0u);
  EXPECT_EQ(found->answer, "0,4,0,0");
  ASSERT_TRUE(engine_->Flush().ok());
  CrashAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "empty").has_value());
  EXPECT_EQ(StoredCount(), 0u);
}

TEST_F(IdempotencyTest, KeysExpireAfterTheWindowInMemoryAndInTheCatalog) {
  options_.idempotency_window_ns = 3600 * kNanosPerSecond;
  OpenEngine();
  const double expired_before =
      Metric("sawmill_idempotency_keys_evicted_total{reason=\"expired\"}");
  ASSERT_TRUE(Send("old", Lines("a", 2)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  clock_.Advance(59 * 60 * kNanosPerSecond);
  ASSERT_TRUE(Send("new", Lines("b", 2)).ok());
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "old").has_value());
  CrashAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "old").has_value());
  clock_.Advance(2 * 60 * kNanosPerSecond);
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "old").has_value());
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "new").has_value());
  // Past the window the key is free again: the batch is new.
  ASSERT_TRUE(Send("old", Lines("c", 1)).ok());
  EXPECT_EQ(StoredCount(), 5u);
  EXPECT_GE(Metric("sawmill_idempotency_keys_evicted_total{reason=\"expired\"}"),
            expired_before + 1);
  // A restart does not bring back keys past the window (from the catalog or from the WAL).
  ASSERT_TRUE(engine_->Flush().ok());
  clock_.Advance(2 * 3600 * kNanosPerSecond);
  CrashAndReopen();
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "new").has_value());
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "old").has_value());
}

// The WAL (not rotated here) still holds every key at the restart; the catalog holds the newest
// three. The limit applies to the oldest of both together.
TEST_F(IdempotencyTest, PastTheKeyLimitTheOldestAreForgottenAndCounted) {
  options_.idempotency_max_keys = 3;
  OpenEngine();
  const std::string sample = "sawmill_idempotency_keys_evicted_total{reason=\"capacity\"}";
  const double before = Metric(sample);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(kNanosPerSecond);
    ASSERT_TRUE(Send("k" + std::to_string(i), Lines("l" + std::to_string(i), 1)).ok());
  }
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k0").has_value());
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k1").has_value());
  for (int i = 2; i < 5; ++i) {
    EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "k" + std::to_string(i)).has_value()) << i;
  }
  EXPECT_EQ(Metric(sample), before + 2);
  EXPECT_EQ(Metric("sawmill_idempotency_keys"), 3);
  // The catalog keeps the same newest three.
  ASSERT_TRUE(engine_->Flush().ok());
  CrashAndReopen();
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k0").has_value());
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k1").has_value());
  for (int i = 2; i < 5; ++i) {
    EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "k" + std::to_string(i)).has_value()) << i;
  }
  // Also with only the catalog (WAL files rotated and deleted).
  options_.wal_file_bytes = 1;
  ASSERT_TRUE(engine_->Close().ok());
  engine_.reset();
  OpenEngine();
  clock_.Advance(kNanosPerSecond);
  ASSERT_TRUE(Send("k5", Lines("l5", 1)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  const auto wal_files = WalLogs();
  ASSERT_EQ(wal_files.size(), 1u);
  EXPECT_EQ(env_->GetFileSize("/data/wal/" + wal_files[0]).value_or(1), 0u);
  CrashAndReopen();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(engine_->FindIdempotencyKey("acme", "k" + std::to_string(i)).has_value(), i >= 3)
        << i;
  }
  EXPECT_EQ(StoredCount(), 6u);
}

// The flusher's contract: when the catalog refuses the keys after a flush registered the
// batch's segment, no WAL file goes (it holds the only copy of the key); the next flush round
// that can write the keys deletes them.
TEST_F(IdempotencyTest, WalFilesStayWhileTheCatalogRefusesTheKeys) {
  options_.wal_file_bytes = 1;  // a new WAL file after every commit, so that flushes delete them
  OpenEngine();
  ASSERT_TRUE(Send("batch-1", Lines("a", 10)).ok());
  // Every catalog write is refused once the batch has left the memtables for registered
  // segments: the flush succeeds, the keys' write after it does not.
  catalog()->SetCommitHook([this] {
    return engine_->GetSnapshot("acme")->memtables.empty()
               ? Status::IOError("catalog refused the write")
               : Status::OK();
  });
  ASSERT_TRUE(engine_->Flush().ok());  // the key write's failure is logged, not returned
  EXPECT_TRUE(engine_->GetSnapshot("acme")->memtables.empty());
  EXPECT_GT(engine_->stats().segments, 0u);
  EXPECT_EQ(WalLogs().size(), 2u);  // the batch's file and the open one
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(WalLogs().size(), 2u);  // retried with every round, still refused
  // The process dies while the catalog still refuses: the key comes back from the WAL.
  KillAndReopen();
  ASSERT_TRUE(engine_->FindIdempotencyKey("acme", "batch-1").has_value());
  ASSERT_TRUE(Send("batch-1", Lines("a", 10)).ok());
  EXPECT_EQ(StoredCount(), 10u);
  for (const auto& [line, count] : Stored()) EXPECT_EQ(count, 1) << line;
  // Once the catalog takes the key (at the reopen's WAL trim), the WAL files go, and the key
  // survives without them.
  EXPECT_EQ(WalLogs().size(), 1u);
  KillAndReopen();
  EXPECT_TRUE(engine_->FindIdempotencyKey("acme", "batch-1").has_value());
  EXPECT_EQ(StoredCount(), 10u);
}

TEST_F(IdempotencyTest, FailedAppendDoesNotKeepTheKey) {
  OpenEngine();
  env_->SetNoSpace(true);
  EXPECT_TRUE(Send("k", Lines("a", 2)).IsUnavailable());
  env_->SetNoSpace(false);
  EXPECT_FALSE(engine_->FindIdempotencyKey("acme", "k").has_value());
  ASSERT_TRUE(Send("k", Lines("a", 2)).ok());
  EXPECT_EQ(StoredCount(), 2u);
}

// A WAL written by a server from before keys were kept (payload version 1) still replays.
TEST_F(IdempotencyTest, Version1WalFromAnOlderServerReplays) {
  ASSERT_TRUE(env_->CreateDirs("/data/wal").ok());
  {
    auto file = env_->NewWritableFile("/data/wal/000001.log");
    ASSERT_TRUE(file.ok());
    wal::LogWriter writer(file->get(), 1);
    // EncodeBatch's version 1 layout: base_seq tenant count record{count}.
    std::string payload;
    auto records = Lines("old", 2);
    std::string v2;
    wal::EncodeBatch("acme", records, &v2);
    // Build version 1 from the version 2 bytes: drop the marker, version and flags.
    payload.append(v2, 0, 8);  // base_seq
    std::string_view rest = std::string_view(v2).substr(8 + 5 + 1);
    payload.append(rest.substr(0, 5));   // tenant "acme" (length 4)
    payload.append(rest.substr(5 + 1));  // count and records (after flags 0)
    wal::SetBatchBaseSeq(payload.data(), 1);
    std::vector<Record> check;
    wal::BatchHeader header;
    ASSERT_TRUE(wal::DecodeBatch(payload, &check, &header).ok());
    ASSERT_EQ(header.version, 1);
    ASSERT_TRUE(writer.AddRecord(payload).ok());
    ASSERT_TRUE(writer.Sync().ok());
  }
  OpenEngine();
  EXPECT_EQ(StoredCount(), 2u);
  EXPECT_EQ(Stored().count("old line 1"), 1u);
  auto batch = Lines("new", 1);
  ASSERT_TRUE(engine_->Append("acme", &batch).ok());
  EXPECT_EQ(batch[0].seq, 3u);
}

}  // namespace
}  // namespace sawmill::storage
