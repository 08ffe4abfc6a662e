#include "storage/append_pacer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sawmill::storage {

AppendPacer::AppendPacer(uint64_t cap, uint64_t hard, int flush_threads)
    : cap_(cap), hard_(std::max(hard, cap + 1)), flush_threads_(std::max(1, flush_threads)) {}

double AppendPacer::drain_bytes_per_s(int64_t now_ns) const {
  if (ended_.size() >= kDrainFlushes) {
    // What the flushes freed in the window, each flush's bytes spread evenly over its run, and a
    // running flush's counted at one flush's measured rate up to its bytes: no step when a flush
    // (or two together) ends, and a flush that stalls stops counting once it should have ended.
    const int64_t from = now_ns - kDrainWindowNs;
    int64_t covered = now_ns;  // the earliest time the flushes below cover
    double freed = 0;
    for (const Ended& e : ended_) {
      covered = std::min(covered, e.start_ns);
      const int64_t a = std::max(e.start_ns, from), b = std::min(e.end_ns, now_ns);
      if (b <= a) continue;
      freed += static_cast<double>(e.bytes) * static_cast<double>(b - a) /
               static_cast<double>(std::max<int64_t>(e.end_ns - e.start_ns, 1));
    }
    auto progress = [this](const Running& r, int64_t at) {
      return std::min(
          static_cast<double>(r.bytes),
          per_flush_rate_ * static_cast<double>(std::max<int64_t>(at - r.start_ns, 0)) / 1e9);
    };
    for (const Running& r : running_) {
      covered = std::min(covered, r.start_ns);
      freed += progress(r, now_ns) - progress(r, std::max(from, r.start_ns));
    }
    const int64_t span =
        std::min(kDrainWindowNs, std::max<int64_t>(now_ns - covered, 1'000'000'000));
    // Never more than the latest flush's own rate times the threads: when flushes slow down
    // (the machine's other work, a larger partition) the window's average lags for up to 30 s,
    // admitting more than is freed until the memtables reach the hard limit, where acks stall
    // for seconds; the latest flush tells within one flush. A rate that rises needs no such
    // care: the memtables fall under the cap, where nothing is paced.
    double latest = last_flush_rate_ > 0 ? last_flush_rate_ * flush_threads_
                                         : std::numeric_limits<double>::infinity();
    // And a running flush that has taken longer than that rate allows bounds it as it runs.
    for (const Running& r : running_) {
      const double elapsed_s =
          static_cast<double>(std::max<int64_t>(now_ns - r.start_ns, 10'000'000)) / 1e9;
      latest = std::min(latest, static_cast<double>(r.bytes) / elapsed_s * flush_threads_);
    }
    return std::min(freed / (static_cast<double>(span) / 1e9), latest);
  }
  double per_flush = per_flush_rate_;
  if (!measured_) {
    // No flush measured yet: what the running ones wrote so far, per second of their run, when
    // they have written enough to tell (the first paced Appends come as the first flush starts).
    double done = 0, seconds = 0;
    for (const Running& r : running_) {
      if (r.done < kProgressBytes || r.done_ns - r.start_ns < kProgressNs) continue;
      done += static_cast<double>(r.done);
      seconds += static_cast<double>(r.done_ns - r.start_ns) / 1e9;
    }
    // The rows are not the whole flush: its tail (indexes, footer, sync, read-back, catalog)
    // comes after the last block and frees nothing until it ends.
    if (seconds > 0) per_flush = done / seconds * (1.0 - kFlushTailShare);
  }
  double drain = per_flush * flush_threads_;
  for (const Running& r : running_) {
    // Until 10 ms have passed a running flush says nothing.
    const double elapsed_s =
        static_cast<double>(std::max<int64_t>(now_ns - r.start_ns, 10'000'000)) / 1e9;
    drain = std::min(drain, static_cast<double>(r.bytes) / elapsed_s * flush_threads_);
  }
  return drain;
}

double AppendPacer::Factor(uint64_t held) const {
  if (held >= hard_) return 0.125;
  const double x =
      held <= cap_ ? 0.0 : static_cast<double>(held - cap_) / static_cast<double>(hard_ - cap_);
  // Steep at both ends, gentle in the middle: a flush freeing a fifth of the band at once moves
  // the rate by about 10 %, where the straight line from 2 to 1/8 (before) moved it by 75 %.
  struct Point {
    double x, factor;
  };
  static constexpr Point kCurve[] = {{0.0, 2.0}, {0.15, 1.2}, {0.85, 0.85}, {1.0, 0.125}};
  for (size_t i = 1; i < std::size(kCurve); ++i) {
    if (x <= kCurve[i].x) {
      const Point& a = kCurve[i - 1];
      const Point& b = kCurve[i];
      return a.factor + (b.factor - a.factor) * (x - a.x) / (b.x - a.x);
    }
  }
  return 0.125;
}

double AppendPacer::AdmitRate(uint64_t held, int64_t now_ns) const {
  if (held < cap_) return 0;
  return drain_bytes_per_s(now_ns) * Factor(held);
}

void AppendPacer::Advance(int64_t now_ns, uint64_t held) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  }
  if (held < cap_) {
    // Nothing is paced: whatever was queued is forgotten.
    paid_ = queued_;
  } else if (now_ns > last_ns_) {
    // At least a byte a second: a flush that reports nothing freed still moves the queue (the
    // deadline bounds every wait anyway).
    const double rate = std::max(AdmitRate(held, now_ns), 1.0);
    paid_ = std::min(queued_, paid_ + rate * static_cast<double>(now_ns - last_ns_) / 1e9);
  }
  last_ns_ = std::max(last_ns_, now_ns);
}

AppendPacer::Ticket AppendPacer::Enqueue(int64_t now_ns, uint64_t held, uint64_t bytes,
                                         int64_t latest_ns) {
  Advance(now_ns, held);
  Ticket ticket;
  ticket.latest_ns = latest_ns;
  if (held < cap_) return ticket;
  ticket.paced = true;
  ticket.start = queued_;
  queued_ += static_cast<double>(bytes) * ratio_;
  return ticket;
}

int64_t AppendPacer::ReadyAt(const Ticket& ticket, int64_t now_ns, uint64_t held) {
  if (!ticket.paced) return now_ns;
  Advance(now_ns, held);
  if (held < cap_ || paid_ >= ticket.start) return now_ns;
  if (now_ns >= ticket.latest_ns) {
    // Goes at its deadline: the queue after it moves up to it.
    paid_ = ticket.start;
    return now_ns;
  }
  const double rate = std::max(AdmitRate(held, now_ns), 1.0);
  // At most an hour ahead: the arithmetic cannot overflow (the deadline bounds it anyway).
  const double wait_s = std::min((ticket.start - paid_) / rate, 3600.0);
  return std::min(now_ns + static_cast<int64_t>(wait_s * 1e9), ticket.latest_ns);
}

int64_t AppendPacer::Admit(int64_t now_ns, uint64_t held, uint64_t bytes, int64_t latest_ns) {
  const Ticket ticket = Enqueue(now_ns, held, bytes, latest_ns);
  return ReadyAt(ticket, now_ns, held);
}

void AppendPacer::NoteApplied(uint64_t wal_bytes, uint64_t memtable_bytes) {
  if (wal_bytes < 4096) return;  // a tiny batch is mostly fixed costs
  const double ratio = static_cast<double>(memtable_bytes) / static_cast<double>(wal_bytes);
  ratio_ = ratio_measured_ ? 0.9 * ratio_ + 0.1 * ratio : ratio;
  ratio_ = std::clamp(ratio_, 0.1, 10.0);
  ratio_measured_ = true;
}

int AppendPacer::FlushStarted(uint64_t bytes, int64_t now_ns) {
  const int token = next_token_++;
  running_.push_back(Running{token, bytes, now_ns});
  return token;
}

void AppendPacer::FlushProgress(int token, uint64_t done, int64_t now_ns) {
  for (Running& r : running_) {
    if (r.token != token) continue;
    r.done = std::min(done, r.bytes);
    r.done_ns = now_ns;
  }
}

std::pair<uint64_t, uint64_t> AppendPacer::running_progress() const {
  std::pair<uint64_t, uint64_t> sum{0, 0};
  for (const Running& r : running_) {
    sum.first += r.done;
    sum.second += r.bytes;
  }
  return sum;
}

void AppendPacer::FlushEnded(int token, bool ok, int64_t now_ns) {
  auto it = std::find_if(running_.begin(), running_.end(),
                         [token](const Running& r) { return r.token == token; });
  if (it == running_.end()) return;
  const Running r = *it;
  running_.erase(it);
  if (ok && now_ns > r.start_ns) {
    ended_.push_back(Ended{r.start_ns, now_ns, r.bytes});
    // Those that ended before the window are of no more use.
    while (!ended_.empty() && now_ns - ended_.front().end_ns > kDrainWindowNs) {
      ended_.erase(ended_.begin());
    }
    if (ended_.size() > 64) ended_.erase(ended_.begin());
  }
  // Small flushes (a partition due by age) are mostly fixed costs and would understate the rate.
  const uint64_t small = std::min<uint64_t>(1u << 20, cap_ / 64);
  if (!ok || r.bytes < small || now_ns <= r.start_ns) return;
  const double rate =
      static_cast<double>(r.bytes) / (static_cast<double>(now_ns - r.start_ns) / 1e9);
  per_flush_rate_ = measured_ ? 0.7 * per_flush_rate_ + 0.3 * rate : rate;
  last_flush_rate_ = rate;
  measured_ = true;
}

}  // namespace sawmill::storage
