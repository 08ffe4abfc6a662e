// The append pacer: backpressure that slows writers smoothly when memtables fill faster than
// flushes empty them, instead of letting them run into the hard limit and stall there for
// seconds (docs/storage.md "Backpressure"; issue 19).
//
// Below the cap (memtable_cap_bytes) an Append is never delayed. Between the cap and the hard
// limit (1.5 x the cap), Appends are admitted one after another, in arrival order, at a byte
// rate that follows the measured flush rate ("drain"). Each Append takes a ticket: the bytes
// queued before it. The queue is paid off continuously at the rate of the moment, and an Append
// goes once everything before it is paid. Because the rate is applied as time passes, not fixed
// when the ticket is taken, a moment of low rate (memtables near the limit, a slow flush) delays
// only the bytes paid during that moment, not every batch admitted then.
//
// The rate is the drain times a factor of how full the memtables are: twice the drain at the
// cap, then gently falling through the middle of the band (so that the saw-tooth of flushes
// freeing tens of MiB at once moves it by a few tens of percent, not by several times), down to
// an eighth near the hard limit, where HTTP ingest answers 429 and Append waits for a flush.
// A batch is charged what it will add to the memtables (its WAL bytes times the ratio measured
// on the batches applied so far), the unit the drain is measured in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
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

  // An Append's place in the queue.
  struct Ticket {
    bool paced = false;     // false: below the cap, it goes at once
    double start = 0;       // the bytes queued before it (in the pacer's running count)
    int64_t latest_ns = 0;  // its deadline: it goes then whatever the queue
  };

  // Takes a place for an Append of "bytes" arriving at "now_ns" with "held" memtable bytes. Below
  // the cap nothing waits and the queue is forgotten: a writer that left its place early (the
  // memtables fell under the cap) leaves no claim on the time after it.
  Ticket Enqueue(int64_t now_ns, uint64_t held, uint64_t bytes, int64_t latest_ns = INT64_MAX);

  // When "ticket" may go, as known at "now_ns" with "held" memtable bytes (<= now_ns: now; the
  // queue before it is paid, the memtables are under the cap, or its deadline has come). Later
  // is an estimate at the present rate: ask again then, or when a flush ends. Never after the
  // ticket's deadline; a ticket that goes at its deadline lets the queue after it move up, so a
  // queue never reaches further than one deadline and one batch ahead.
  int64_t ReadyAt(const Ticket& ticket, int64_t now_ns, uint64_t held);

  // Enqueue and the first ReadyAt together: the time before which the Append may not proceed
  // at the present rate (tests and simulations).
  int64_t Admit(int64_t now_ns, uint64_t held, uint64_t bytes, int64_t latest_ns = INT64_MAX);

  // A flush of "bytes" of memtables begins at "now_ns"; returns its token for FlushEnded.
  // While it runs it bounds the rate (it cannot be faster than bytes / time so far), so a flush
  // that takes long slows writers before it ends.
  int FlushStarted(uint64_t bytes, int64_t now_ns);
  // The flush of "token" has written the rows of "done" of its bytes by "now_ns" (reported as it
  // goes, once per block, the last block too). Until a flush is measured, the drain is what the
  // running flushes wrote so far per second, less kFlushTailShare for the tail still to come,
  // instead of kInitialFlushRate (issue 19, session 17: the first paced acks waited for a
  // guessed 4 MiB/s, about 1 s each, while the first flush ran at several times that).
  void FlushProgress(int token, uint64_t done, int64_t now_ns);
  // What the running flushes reported written (FlushProgress) and their bytes, summed.
  std::pair<uint64_t, uint64_t> running_progress() const;
  // The flush of "token" ended at "now_ns"; "ok": it wrote its memtable, and its rate (wall
  // time, so a loaded machine counts) is measured.
  void FlushEnded(int token, bool ok, int64_t now_ns);

  // The drain the pacer assumes at "now_ns", in memtable bytes per second. Once kDrainFlushes
  // flushes ended in the last kDrainWindowNs: what flushes freed in that window (or since the
  // first of them began), each flush's bytes spread evenly over its run and a running flush's
  // counted at one flush's measured rate up to its bytes, so that the drain takes no step when
  // flushes end (two often end together) and falls when a flush stalls; never more than the
  // latest measured flush's rate times flush_threads (a slowdown is seen within one flush, not
  // after the window's 30 s). Before that: the
  // measured rate of one flush times flush_threads; before any is measured, the running
  // flushes' progress per second (FlushProgress, once one has written kProgressBytes for at
  // least kProgressNs) times 1 - kFlushTailShare, else kInitialFlushRate, times flush_threads;
  // all bounded by every running
  // flush's bytes / time so far times flush_threads.
  double drain_bytes_per_s(int64_t now_ns) const;
  // The rate it admits at "held" bytes: the drain times Factor(held); 0 below the cap (no
  // pacing).
  double AdmitRate(uint64_t held, int64_t now_ns) const;
  // How much of the drain is admitted at "held" bytes: 2 at the cap, 1.2 at 15 % into the band,
  // 0.85 at 85 % into it, 1/8 at the hard limit (linear between).
  double Factor(uint64_t held) const;

  // A batch of "wal_bytes" added "memtable_bytes" to the memtables: the ratio Enqueue charges
  // WAL bytes at (smoothed; 1 until a batch is applied).
  void NoteApplied(uint64_t wal_bytes, uint64_t memtable_bytes);
  double memtable_bytes_per_wal_byte() const { return ratio_; }

  // Until the first flush is measured: a rate one flush thread of a loaded 2-core machine
  // reaches (docs/performance.md measured 2-3 MB/s at load 15-19; idle it is about ten times
  // that). Too low only delays more than needed until the first flush ends.
  static constexpr double kInitialFlushRate = 4.0 * 1024 * 1024;
  // A running flush's progress tells its rate once it has written this much for this long (a
  // block of rows, about 2 MiB of the corpus; before its first block a flush reads its chunks'
  // keys and sorts them, which the time counts but no progress shows).
  static constexpr uint64_t kProgressBytes = 1u << 20;
  static constexpr int64_t kProgressNs = 50'000'000;
  // What a flush's progress leaves out: the share of its run after its last block (the indexes
  // and footer, the sync, the read-back, the catalog), which frees nothing until it ends. The
  // rate of the rows written so far is counted at 1 - this. Measured on the 1 M corpus's
  // flushes, one flush thread: 11-16 % of the run for flushes of 8-29 MB at load 11 (session
  // 18); with the read-back decoding every column (session 19) 16.9-17.4 % of the 16 flushes'
  // summed time at load 10-12, where the old read-back gave 13.8-15.3 % (docs/performance.md
  // "Session 19: mends"). A constant, not the tail's own progress: docs/storage.md
  // "Backpressure" says why.
  static constexpr double kFlushTailShare = 0.17;
  // The drain is measured over the last 30 s once 4 flushes ended in them: per-flush rates
  // times flush_threads overstate it when fewer flushes run at once than there are threads
  // (measured 10-30 % too high at 3 M lines), which held the memtables near the hard limit;
  // counting each flush's bytes when it ends made the drain jump by 50 % (5.2-12.4 MiB/s).
  static constexpr int64_t kDrainWindowNs = 30'000'000'000;
  static constexpr size_t kDrainFlushes = 4;

 private:
  // Pays the queue off from the last call to "now_ns" at the rate for "held".
  void Advance(int64_t now_ns, uint64_t held);

  const uint64_t cap_;
  const uint64_t hard_;
  const int flush_threads_;
  double per_flush_rate_ = kInitialFlushRate;  // bytes/s of one flush, smoothed
  bool measured_ = false;                      // per_flush_rate_ is measured
  double last_flush_rate_ = 0;                 // bytes/s of the latest measured flush (0: none)
  double ratio_ = 1.0;                         // memtable bytes per WAL byte, smoothed
  bool ratio_measured_ = false;
  // The queue as two running counts of bytes: queued_ (every ticket's bytes, in arrival order)
  // and paid_ (<= queued_): a ticket goes once paid_ reaches its start.
  double queued_ = 0;
  double paid_ = 0;
  int64_t last_ns_ = 0;  // paid_ is paid up to here
  bool started_ = false;
  struct Running {
    int token;
    uint64_t bytes;
    int64_t start_ns;
    uint64_t done = 0;  // FlushProgress: bytes written by done_ns
    int64_t done_ns = 0;
  };
  std::vector<Running> running_;
  int next_token_ = 0;
  struct Ended {
    int64_t start_ns, end_ns;
    uint64_t bytes;
  };
  std::vector<Ended> ended_;  // the flushes that ended well in the window, oldest first
};

}  // namespace sawmill::storage
