// The append pacer: backpressure that slows writers smoothly when memtables fill faster than
// flushes empty them, instead of letting them run into the hard limit and stall there for
// seconds (docs/storage.md "Backpressure"; issue 19).
//
// Below the cap (memtable_cap_bytes) an Append is never delayed. Between the cap and the hard
// limit (1.5 x the cap), Appends are admitted one after another, in arrival order, at a byte
// rate that follows the measured flush rate ("drain"): twice the drain at the cap, the drain at
// 1.25 x the cap, an eighth of it near the hard limit. Each Append waits for its slot on a
// virtual clock: slot = max(now, next), next = slot + bytes / rate. Under a sustained overload
// every writer therefore waits about the same time (its share of the drain), the memtables
// settle near 1.25 x the cap, and the hard limit (where Append waits for a flush to end, and
// HTTP ingest answers 429) is kept for a flush that stops altogether.
#pragma once

#include <cstdint>
#include <vector>

namespace sawmill::storage {

// CONTRACT
// Threading: not synchronised; the engine calls it under its state mutex.
// Errors: none.
// Time: every "now_ns" is one monotonic clock (the engine passes steady_clock, not its Clock,
//   because the waits are real waits even when a test drives the engine's clock by hand).
class AppendPacer {
 public:
  // "cap": memtable_cap_bytes; "hard": the hard limit (> cap); "flush_threads": how many
  // flushes run at once under pressure (the drain is one flush's rate times this).
  AppendPacer(uint64_t cap, uint64_t hard, int flush_threads);

  // The time before which an Append of "bytes" arriving at "now_ns" with "held" memtable bytes
  // may not proceed (<= now_ns: at once). Takes the slot: call once per Append. The slot is
  // never after "latest_ns" (the Append's deadline): an Append is held at most that long, and
  // the next slot follows the one given, so a queue never reaches further than one deadline
  // ahead. Below the cap nothing waits and the queue is forgotten: a writer that left its slot
  // early (the memtables fell under the cap) leaves no claim on the time after it.
  int64_t Admit(int64_t now_ns, uint64_t held, uint64_t bytes, int64_t latest_ns = INT64_MAX);

  // A flush of "bytes" of memtables begins at "now_ns"; returns its token for FlushEnded.
  // While it runs it bounds the rate (it cannot be faster than bytes / time so far), so a flush
  // that takes long slows writers before it ends.
  int FlushStarted(uint64_t bytes, int64_t now_ns);
  // The flush of "token" ended at "now_ns"; "ok": it wrote its memtable, and its rate (wall
  // time, so a loaded machine counts) is measured.
  void FlushEnded(int token, bool ok, int64_t now_ns);

  // The drain the pacer assumes at "now_ns", in memtable bytes per second: the measured rate of
  // one flush (or, as long as none has been measured, kInitialFlushRate), bounded by every
  // running flush's bytes / time so far, times flush_threads.
  double drain_bytes_per_s(int64_t now_ns) const;
  // The rate it admits at "held" bytes; 0 below the cap (no pacing).
  double AdmitRate(uint64_t held, int64_t now_ns) const;

  // Until the first flush is measured: a rate one flush thread of a loaded 2-core machine
  // reaches (docs/performance.md measured 2-3 MB/s at load 15-19; idle it is about ten times
  // that). Too low only delays more than needed until the first flush ends.
  static constexpr double kInitialFlushRate = 4.0 * 1024 * 1024;

 private:
  const uint64_t cap_;
  const uint64_t hard_;
  const int flush_threads_;
  double per_flush_rate_ = kInitialFlushRate;  // bytes/s of one flush, smoothed
  bool measured_ = false;                      // per_flush_rate_ is measured
  int64_t next_ns_ = 0;                        // the virtual clock: the next free slot
  struct Running {
    int token;
    uint64_t bytes;
    int64_t start_ns;
  };
  std::vector<Running> running_;
  int next_token_ = 0;
};

}  // namespace sawmill::storage
