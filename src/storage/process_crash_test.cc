// Whole-process crash test on the real file system: a child process appends through the
// storage engine (background flushes and compactions running) and reports each acknowledged
// batch on a pipe; the parent kills it with SIGKILL at an arbitrary moment, reopens the data
// directory and checks that every acknowledged line is there exactly once. This covers the
// real PosixEnv and SQLite paths that the FaultInjectionEnv tests model.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "storage/engine.h"

namespace sawmill::storage {
namespace {

std::string Line(int round, int n) {
  return "round " + std::to_string(round) + " line " + std::to_string(n) + " GET /api/v1/orders/" +
         std::to_string(n * 7919 % 100003) + " status=200";
}

EngineOptions Options(const std::string& dir) {
  EngineOptions o;
  o.data_dir = dir;
  o.partitions = 4;
  o.segment_target_bytes = 64 << 10;  // flushes all the time
  o.wal_file_bytes = 256 << 10;       // and WAL rotations and deletions
  o.compaction_min_inputs = 2;
  o.compaction_small_bytes = 1 << 20;
  return o;
}

// Runs in the child: appends batches of 20 lines forever, writing each acknowledged batch
// number to "fd". Never returns.
[[noreturn]] void Writer(const std::string& dir, int round, int fd) {
  auto engine = Engine::Open(Options(dir));
  if (!engine.ok()) _exit(2);
  for (int batch = 0;; ++batch) {
    std::vector<Record> records(20);
    for (int i = 0; i < 20; ++i) {
      records[i].service = "svc" + std::to_string(i % 5);
      records[i].host = "host" + std::to_string(i % 3);
      records[i].message = Line(round, batch * 20 + i);
    }
    if ((*engine)->Append("acme", &records).ok()) {
      if (write(fd, &batch, sizeof(batch)) != sizeof(batch)) _exit(3);
    }
  }
}

TEST(StorageProcessCrash, KilledProcessLosesNoAcknowledgedLine) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("sawmill_process_crash_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::map<int, int> acked_batches;  // round -> batches [0, n) acknowledged
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(dir.string(), round, fds[1]);
    }
    close(fds[1]);
    // Kill after a different number of acknowledged batches each round.
    const int kill_after = 30 + 40 * round;
    int batch = -1, last = -1;
    while (last + 1 < kill_after && read(fds[0], &batch, sizeof(batch)) == sizeof(batch)) {
      last = batch;
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    // Acknowledgements written before the kill count too.
    while (read(fds[0], &batch, sizeof(batch)) == sizeof(batch)) last = batch;
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited with " << WEXITSTATUS(status);
    acked_batches[round] = last + 1;
    ASSERT_GT(last, 0);

    auto engine = Engine::Open(Options(dir.string()));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto snap = (*engine)->GetSnapshot("acme");
    std::map<std::string, int> seen;
    for (const auto& seg : snap->segments) {
      auto reader = seg.open();
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
        std::vector<Record> rows;
        segment::ReadStats stats;
        ASSERT_TRUE((*reader)->ReadBlock(b, segment::kColMessage, &rows, &stats).ok());
        for (const Record& r : rows) ++seen[r.message];
      }
    }
    for (const auto& m : snap->memtables) {
      for (const auto& chunk : m.chunks) {
        for (const Record& r : *chunk) ++seen[r.message];
      }
    }
    for (const auto& [line, count] : seen) ASSERT_EQ(count, 1) << line << " twice";
    for (const auto& [r, batches] : acked_batches) {
      for (int n = 0; n < batches * 20; ++n) {
        ASSERT_EQ(seen.count(Line(r, n)), 1u) << "acknowledged " << Line(r, n) << " lost";
      }
    }
    snap.reset();
    engine->reset();  // a clean close (flush) before the next round's writer
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::storage
