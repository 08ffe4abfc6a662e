// Disk pressure: watermarks on the data volume (docs/storage.md "Disk pressure"). Every
// "interval" the watch reads the volume's usage through the engine's Env (so tests fake a
// filling disk with FaultInjectionEnv::SetDiskCapacity) and acts by level:
//   1 (>= warm, 80%):  hot segments move to warm early (re-encoded for size), oldest first,
//                      until the volume is below the warm watermark (Engine::MoveTiersOldestFirst)
//   2 (>= cold, 90%):  first, warm segments move to cold early, oldest first, until below the
//                      cold watermark, when a cold store is configured (move_to_cold); otherwise
//                      the oldest unheld data of tenants past max_bytes is deleted
//                      (Retention::DeleteOverMaxBytes). With a cold store whose moves fail
//                      (down, refusing) while the volume stays past the cold watermark, the
//                      same deletion of the segments on this volume (local_only). Held data and
//                      data a compliance rule keeps are never deleted to make room: counted and
//                      logged instead. Then level 1's action.
// A move that keeps failing is counted at every check (sawmill_disk_pressure_actions_total
// {action="*_failed"}) and logged when it starts failing, then at most once a minute with the
// count of failures since, and once when it works again (RepeatedFailureLog).
//   3 (>= shed, 95%):  ingest of the lowest levels is refused with ResourceExhausted (HTTP 429,
//                      Retry-After): DEBUG and TRACE; above halfway from the shed watermark to
//                      full (97.5%), INFO and lines without a level as well. WARN and above are
//                      never refused for disk pressure; the WAL's own 503 (disk really full) is
//                      the only refusal they can get.
// Two threads, every interval: one measures the volume and publishes the level, at the process's
// priority (ingest refusal must not lag behind a niced re-encoding, nor wait for a round of moves
// to end); the other acts on the level (moves, deletions) at "nice".
// Threading: thread-safe. Admit is called concurrently on request threads and only reads atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "common/repeated_failure_log.h"
#include "sawmill/record.h"
#include "sawmill/status.h"
#include "storage/engine.h"

namespace sawmill::storage {

class Retention;

struct DiskWatchOptions {
  Engine* engine = nullptr;        // must outlive the watch
  Retention* retention = nullptr;  // for level 2 without a cold store; may be null
  Clock* clock = nullptr;          // nullptr: Clock::Real()
  // Used fractions of the volume (0 < warm <= cold <= shed < 1).
  double warm = 0.80, cold = 0.90, shed = 0.95;
  int64_t interval_ns = 5'000'000'000;  // 0: only CheckNow
  // Level 2: true when a cold store is configured off this volume (an S3 store): warm segments
  // move to cold, oldest first, until the volume is below the cold watermark. False: tenants
  // past max_bytes lose their oldest unheld data instead.
  bool move_to_cold = false;
  // The nice value of the watch's acting thread (its moves re-encode segments, CPU that a flush
  // under memory pressure would otherwise get; storage::EngineOptions::background_nice). 0: the
  // process's own. The measuring thread (the level, ingest refusal) keeps the process's own.
  int nice = 0;
};

// "80%,90%,95%" (or "0.8,0.9,0.95"). Errors: InvalidArgument naming the problem.
Status ParseWatermarks(std::string_view text, double* warm, double* cold, double* shed);

class DiskWatch {
 public:
  // Errors: InvalidArgument for watermarks out of order or range.
  static Result<std::unique_ptr<DiskWatch>> Start(DiskWatchOptions options);
  ~DiskWatch();
  DiskWatch(const DiskWatch&) = delete;
  DiskWatch& operator=(const DiskWatch&) = delete;
  void Stop();

  // Reads the usage, sets the level, and acts on it. Errors: the Env's, or an action's.
  Status CheckNow();
  // Reads the usage and sets the level (logged when it changes), nothing else: what the
  // measuring thread does. Errors: the Env's.
  Result<int> Measure();
  // 0 to 3; the level of the last check.
  int level() const { return level_.load(); }
  double used_fraction() const { return used_.load(); }

  // The ingest admit hook: OK, or ResourceExhausted when every record of the batch is of a level
  // shed now (a batch holding any line that is not shed is stored whole: nothing acknowledged is
  // ever dropped, and WARN+ is never refused). Refused lines are counted by level.
  Status Admit(std::string_view tenant, const std::vector<Record>& records);
  // True when a line of "level" is refused now.
  bool Sheds(Level level) const;

 private:
  explicit DiskWatch(DiskWatchOptions options);

  const DiskWatchOptions options_;
  Clock* const clock_;
  std::atomic<int> level_{0};
  std::atomic<double> used_{0};
  std::atomic<bool> shed_info_{false};         // above halfway from the shed watermark to full
  Mutex check_mu_;                             // one check (with its actions) at a time
  Mutex publish_mu_;                           // one measure at a time (taken after check_mu_)
  int announced_ GUARDED_BY(publish_mu_) = 0;  // the level last logged
  // Moves toward "to" until the volume is below "watermark"; counts the action.
  Status MoveEarly(std::string_view to, double watermark, const std::string& why)
      REQUIRES(check_mu_);
  // Retention::DeleteOverMaxBytes, counted as the action delete_max_bytes(_failed).
  Status DeleteOverMaxBytes(const std::string& why, bool local_only) REQUIRES(check_mu_);
  bool BelowWatermark(double watermark);
  // Sets the level, the used fraction and their gauges from "used"; returns the level.
  int Publish(double used) REQUIRES(publish_mu_);
  RepeatedFailureLog warm_failures_, cold_failures_;
  // Level 2 deletes past max_bytes because moves to the cold store fail (logged on change).
  bool falling_back_ GUARDED_BY(check_mu_) = false;
  bool failing_ = false;          // the last periodic check failed (its thread only)
  bool measure_failing_ = false;  // the last periodic measure failed (its thread only)
  // Last: stopped before the members above go.
  PeriodicWorker measure_;  // Measure, at the process's priority
  PeriodicWorker act_;      // CheckNow, at options_.nice
};

}  // namespace sawmill::storage
