#include "storage/append_pacer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace sawmill::storage {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr int64_t kSecond = 1'000'000'000;

// A pacer whose measured flush rate is "rate" bytes/s per flush thread.
AppendPacer Measured(uint64_t cap, double rate, int threads) {
  AppendPacer pacer(cap, cap + cap / 2, threads);
  // A 64 MiB flush taking 64 MiB / rate.
  const int token = pacer.FlushStarted(64 * kMiB, 0);
  pacer.FlushEnded(token, true, static_cast<int64_t>(64.0 * kMiB / rate * 1e9));
  return pacer;
}

TEST(AppendPacer, BelowTheCapNothingWaits) {
  AppendPacer pacer(100 * kMiB, 150 * kMiB, 2);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(pacer.Admit(i * 1000, 99 * kMiB, 4 * kMiB), i * 1000);
  }
  EXPECT_EQ(pacer.AdmitRate(99 * kMiB, 0), 0);
}

TEST(AppendPacer, TheDrainIsTheMeasuredFlushRateTimesTheFlushThreads) {
  AppendPacer pacer = Measured(100 * kMiB, 10.0 * kMiB, 2);
  const int64_t t = 100 * kSecond;
  EXPECT_NEAR(pacer.drain_bytes_per_s(t), 20.0 * kMiB, 0.01 * kMiB);
  // A small flush (a partition due by age) or a failed one says nothing about the rate.
  int token = pacer.FlushStarted(4096, t);
  pacer.FlushEnded(token, true, t + kSecond);
  token = pacer.FlushStarted(64 * kMiB, t);
  pacer.FlushEnded(token, false, t + 100 * kSecond);
  EXPECT_NEAR(pacer.drain_bytes_per_s(t), 20.0 * kMiB, 0.01 * kMiB);
  // Later flushes move the average.
  token = pacer.FlushStarted(64 * kMiB, t);
  pacer.FlushEnded(token, true, t + 32 * kSecond);  // 2 MiB/s
  EXPECT_NEAR(pacer.drain_bytes_per_s(t), 2 * (0.7 * 10 + 0.3 * 2) * kMiB, 0.01 * kMiB);
}

TEST(AppendPacer, ARunningFlushThatTakesLongSlowsWritersBeforeItEnds) {
  AppendPacer pacer(100 * kMiB, 150 * kMiB, 2);
  // Nothing measured yet: the initial guess.
  EXPECT_NEAR(pacer.drain_bytes_per_s(0), 2 * AppendPacer::kInitialFlushRate, 1);
  // A 16 MiB flush still running after 8 s cannot be faster than 2 MiB/s.
  const int token = pacer.FlushStarted(16 * kMiB, 0);
  EXPECT_NEAR(pacer.drain_bytes_per_s(8 * kSecond), 2 * 2.0 * kMiB, 1);
  EXPECT_NEAR(pacer.drain_bytes_per_s(16 * kSecond), 2 * 1.0 * kMiB, 1);
  // Ended at 20 s: measured, 0.8 MiB/s, no longer a bound.
  pacer.FlushEnded(token, true, 20 * kSecond);
  EXPECT_NEAR(pacer.drain_bytes_per_s(100 * kSecond), 2 * 0.8 * kMiB, 1);
}

TEST(AppendPacer, TheAdmittedRateFallsFromTwiceTheDrainAtTheCapToAnEighthAtTheLimit) {
  AppendPacer pacer = Measured(100 * kMiB, 10.0 * kMiB, 1);
  const int64_t t = 100 * kSecond;
  const double drain = pacer.drain_bytes_per_s(t);
  EXPECT_NEAR(pacer.AdmitRate(100 * kMiB, t), 2 * drain, 1);
  EXPECT_NEAR(pacer.AdmitRate(125 * kMiB, t), drain, 1);
  EXPECT_NEAR(pacer.AdmitRate(149 * kMiB, t), drain / 8, 1);
  EXPECT_NEAR(pacer.AdmitRate(400 * kMiB, t), drain / 8, 1);
  // Monotonic: fuller never admits faster.
  double last = 3 * drain;
  for (uint64_t held = 100 * kMiB; held < 160 * kMiB; held += kMiB) {
    EXPECT_LE(pacer.AdmitRate(held, t), last);
    last = pacer.AdmitRate(held, t);
  }
}

TEST(AppendPacer, WritersArrivingTogetherGetSlotsInArrivalOrderSpacedByTheirBytes) {
  AppendPacer pacer = Measured(100 * kMiB, 8.0 * kMiB, 1);
  // At 1.25 x the cap the admitted rate is the drain, 8 MiB/s: 4 MiB each = 0.5 s apart.
  const int64_t now = 10 * kSecond;
  std::vector<int64_t> slots;
  for (int i = 0; i < 5; ++i) slots.push_back(pacer.Admit(now, 125 * kMiB, 4 * kMiB));
  EXPECT_EQ(slots[0], now);
  for (int i = 1; i < 5; ++i) EXPECT_NEAR(slots[i] - slots[i - 1], kSecond / 2, 1000);
  // A writer arriving after the queue has drained is not charged for the past.
  EXPECT_EQ(pacer.Admit(now + 100 * kSecond, 125 * kMiB, 4 * kMiB), now + 100 * kSecond);
}

TEST(AppendPacer, ASlotIsNeverAfterTheAppendsDeadline) {
  // A drain of 4 MiB/s near the limit admits an eighth of it: 4 MiB batches 8 s apart.
  AppendPacer pacer = Measured(100 * kMiB, 4.0 * kMiB, 1);
  const int64_t now = 10 * kSecond, deadline = now + 2 * kSecond;
  for (int i = 0; i < 20; ++i) {
    const int64_t slot = pacer.Admit(now, 149 * kMiB, 4 * kMiB, deadline);
    EXPECT_LE(slot, deadline) << "batch " << i;
  }
  // The queue reaches no further than one deadline and one span ahead: a writer arriving later
  // with a later deadline waits for the slot after the last one given, not after 20 spans.
  const int64_t later = pacer.Admit(now + kSecond, 149 * kMiB, 4 * kMiB, now + 100 * kSecond);
  EXPECT_NEAR(later, deadline + 8 * kSecond, 1000);
  // A deadline already past: at once.
  EXPECT_EQ(pacer.Admit(now + 200 * kSecond, 149 * kMiB, 4 * kMiB, now), now + 200 * kSecond);
}

TEST(AppendPacer, UnderTheCapTheQueueIsForgotten) {
  AppendPacer pacer = Measured(100 * kMiB, 8.0 * kMiB, 1);
  const int64_t now = 10 * kSecond;
  // Slots taken up to ~4 s ahead; then flushes bring the memtables under the cap (the waiting
  // writers leave their slots early).
  for (int i = 0; i < 8; ++i) pacer.Admit(now, 125 * kMiB, 4 * kMiB);
  EXPECT_EQ(pacer.Admit(now + kSecond, 90 * kMiB, 4 * kMiB), now + kSecond);
  // Over the cap again a moment later: the first writer goes at once, not after the old queue.
  EXPECT_EQ(pacer.Admit(now + 2 * kSecond, 110 * kMiB, 4 * kMiB), now + 2 * kSecond);
}

TEST(AppendPacer, AFlushThatFreesNothingCannotOverflowTheSlots) {
  AppendPacer pacer(100 * kMiB, 150 * kMiB, 2);
  pacer.FlushStarted(0, 0);  // a running flush of 0 bytes: a drain of 0
  const int64_t now = 100 * kSecond;
  const int64_t first = pacer.Admit(now, 140 * kMiB, 4 * kMiB, now + 30 * kSecond);
  const int64_t second = pacer.Admit(now, 140 * kMiB, 4 * kMiB, now + 30 * kSecond);
  EXPECT_EQ(first, now);
  EXPECT_GT(second, now);
  EXPECT_LE(second, now + 30 * kSecond);
}

// A sustained overload, simulated in 1 ms steps: two senders post 4 MiB batches back to back
// (each batch takes 20 ms to handle once admitted), and two flush threads each free a
// partition's 24 MiB at once, every 24 MiB / 6 MiB/s = 4 s, while the memtables are over the
// cap. With pacing every batch waits about the same (its share of the drain) and the
// memtables stay under the hard limit; without it (the pacer off), batches run into the hard
// limit and the unlucky ones wait for a whole flush.
struct Outcome {
  double p50_s = 0, p99_s = 0, max_s = 0;
  uint64_t peak_held = 0;
};

Outcome Simulate(bool paced) {
  const uint64_t cap = 256 * kMiB, hard = cap + cap / 2, batch = 4 * kMiB;
  const int64_t ms = 1'000'000;
  AppendPacer pacer(cap, hard, 2);
  uint64_t held = cap;  // already full when the run starts
  struct Sender {
    int64_t sent = 0, slot = -1, done = -1;
  } senders[2];
  struct Flush {
    int64_t ends = -1;
    uint64_t bytes = 0;
    int token = -1;
  } flushes[2];
  std::vector<double> latencies;
  Outcome out;
  for (int64_t t = 0; t < 600 * kSecond; t += ms) {
    for (Flush& f : flushes) {
      if (f.ends >= 0 && t >= f.ends) {
        held -= f.bytes;
        pacer.FlushEnded(f.token, true, t);
        f.ends = -1;
      }
      if (f.ends < 0 && held > cap) {
        f.bytes = 24 * kMiB;
        f.token = pacer.FlushStarted(f.bytes, t);
        f.ends = t + static_cast<int64_t>(24.0 / 6.0 * kSecond);
      }
    }
    for (Sender& s : senders) {
      if (s.slot < 0) {  // arrives
        s.slot = paced ? pacer.Admit(t, held, batch) : t;
        continue;
      }
      if (s.done < 0) {
        // Admitted at its slot, or early once flushes bring the memtables under the cap; the
        // hard limit holds it until there is room (as Append's stall does).
        if ((t >= s.slot || held < cap) && held + batch <= hard) s.done = t + 20 * ms;
        continue;
      }
      if (t >= s.done) {
        held += batch;
        out.peak_held = std::max(out.peak_held, held);
        if (t > 60 * kSecond) latencies.push_back(static_cast<double>(t - s.sent) / 1e9);
        s = Sender{t, -1, -1};
      }
    }
  }
  std::sort(latencies.begin(), latencies.end());
  out.p50_s = latencies[latencies.size() / 2];
  out.p99_s = latencies[latencies.size() * 99 / 100];
  out.max_s = latencies.back();
  return out;
}

TEST(AppendPacer, UnderASustainedOverloadEveryBatchWaitsAboutTheSameAndMemoryStaysBounded) {
  const Outcome paced = Simulate(true);
  const Outcome unpaced = Simulate(false);
  // Two senders share a drain of 12 MiB/s: 8 MiB per round, about 0.67 s per batch.
  EXPECT_GT(paced.p50_s, 0.4);
  EXPECT_LT(paced.p99_s, 1.5 * paced.p50_s) << "p50 " << paced.p50_s << " p99 " << paced.p99_s;
  EXPECT_LT(paced.peak_held, 384 * kMiB);
  // Unpaced, the same throughput comes in bursts: most batches pass at once, some wait for
  // a flush to end.
  EXPECT_GT(unpaced.p99_s, 2 * paced.p99_s)
      << "unpaced p99 " << unpaced.p99_s << " paced p99 " << paced.p99_s;
}

}  // namespace
}  // namespace sawmill::storage
