#include "storage/disk_watch.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "catalog/catalog.h"
#include "common/metrics.h"
#include "common/thread_priority.h"
#include "storage/retention.h"

namespace sawmill::storage {
namespace {

struct DiskMetrics {
  prometheus::Gauge* used_ratio;
  prometheus::Gauge* level;
  prometheus::Family<prometheus::Counter>* shed_lines;
  prometheus::Family<prometheus::Counter>* shed_batches;
  prometheus::Family<prometheus::Counter>* actions;

  static DiskMetrics& Get() {
    static DiskMetrics m = [] {
      auto& reg = MetricsRegistry();
      DiskMetrics d;
      d.used_ratio = UnlabelledGauge("sawmill_disk_used_ratio",
                                     "Used fraction of the data directory's volume (last check)");
      d.level = UnlabelledGauge(
          "sawmill_disk_watermark_level",
          "Disk watermark passed: 0 none, 1 warm (80%), 2 cold (90%), 3 shed (95%)");
      d.shed_lines = &prometheus::BuildCounter()
                          .Name("sawmill_ingest_shed_lines_total")
                          .Help("Lines refused (429) under disk pressure, by level")
                          .Register(reg);
      d.shed_batches = &prometheus::BuildCounter()
                            .Name("sawmill_ingest_shed_batches_total")
                            .Help("Batches refused (429) under disk pressure, by tenant")
                            .Register(reg);
      d.actions = &prometheus::BuildCounter()
                       .Name("sawmill_disk_pressure_actions_total")
                       .Help(
                           "What disk pressure did, by action: hot_to_warm and warm_to_cold "
                           "(segments moved early), delete_max_bytes (rounds), *_failed")
                       .Register(reg);
      for (Level l : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kUnknown}) {
        d.shed_lines->Add({{"level", std::string(LevelName(l))}});
      }
      return d;
    }();
    return m;
  }
};

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", f * 100);
  return buf;
}

}  // namespace

Status ParseWatermarks(std::string_view text, double* warm, double* cold, double* shed) {
  double v[3];
  size_t n = 0;
  std::string_view rest = text;
  while (!rest.empty() || n == 0) {
    const size_t comma = rest.find(',');
    std::string part(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    const bool percent = !part.empty() && part.back() == '%';
    if (percent) part.pop_back();
    char* end = nullptr;
    double x = part.empty() ? NAN : std::strtod(part.c_str(), &end);
    if (part.empty() || end != part.c_str() + part.size() || !std::isfinite(x) || n == 3) {
      return Status::InvalidArgument(
          "disk_watermarks: expected three used fractions such as "
          "80%,90%,95%, got '" +
          std::string(text) + "'");
    }
    v[n++] = percent || x > 1 ? x / 100 : x;
    if (comma == std::string_view::npos) break;
  }
  if (n != 3 || !(v[0] > 0 && v[0] <= v[1] && v[1] <= v[2] && v[2] < 1)) {
    return Status::InvalidArgument(
        "disk_watermarks: three fractions, rising, above 0% and below "
        "100% (warm <= cold <= shed), got '" +
        std::string(text) + "'");
  }
  *warm = v[0];
  *cold = v[1];
  *shed = v[2];
  return Status::OK();
}

DiskWatch::DiskWatch(DiskWatchOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      warm_failures_("disk pressure: moving segments to warm early", clock_),
      cold_failures_("disk pressure: moving segments to cold early", clock_) {}

Result<std::unique_ptr<DiskWatch>> DiskWatch::Start(DiskWatchOptions options) {
  if (options.engine == nullptr) return Status::InvalidArgument("disk watch: no engine");
  if (!(options.warm > 0 && options.warm <= options.cold && options.cold <= options.shed &&
        options.shed < 1)) {
    return Status::InvalidArgument("disk watermarks must rise: 0 < warm <= cold <= shed < 1");
  }
  DiskMetrics::Get();
  std::unique_ptr<DiskWatch> w(new DiskWatch(std::move(options)));
  Status first = w->CheckNow();
  if (!first.ok()) {
    spdlog::warn("disk watch: {} (checked again every interval)", first.ToString());
  }
  if (w->options_.interval_ns > 0) {
    // The level (what ingest refusal reads) is measured on a thread of its own at the
    // process's priority, every interval whatever the moves are doing: at a full disk the
    // refusal must neither wait behind a niced re-encoding nor for a round of moves to end.
    w->measure_.Start(w->options_.interval_ns, [p = w.get()] {
      NameThisThread("sawmill-disk");
      Result<int> level = p->Measure();
      if (!level.ok() && !p->measure_failing_) {
        spdlog::warn("disk watch: {}", level.status().ToString());
      }
      p->measure_failing_ = !level.ok();
    });
    // The actions (re-encoding moves, deletions) at background_nice.
    w->act_.Start(w->options_.interval_ns, [p = w.get()] {
      NameThisThread("sawmill-disk-mv");
      NiceBackgroundThread(p->options_.nice, "the disk watch's moves");
      Status s = p->CheckNow();
      if (!s.ok() && !p->failing_) spdlog::warn("disk watch: {}", s.ToString());
      p->failing_ = !s.ok();
    });
  }
  return w;
}

DiskWatch::~DiskWatch() { Stop(); }

void DiskWatch::Stop() {
  act_.Stop();
  measure_.Stop();
}

Result<int> DiskWatch::Measure() {
  MutexLock l(&publish_mu_);
  ASSIGN_OR_RETURN(DiskUsage usage, options_.engine->DataDiskUsage());
  const double used = usage.used_fraction();
  const int level = Publish(used);
  if (level != announced_) {
    const char* what[] = {"below every watermark",
                          "above the warm watermark: hot data moves to warm early",
                          "above the cold watermark: warm data moves to cold early, or tenants "
                          "past max_bytes lose their oldest unheld data",
                          "above the shed watermark: DEBUG and TRACE ingest is refused (429), INFO "
                          "too past halfway to full; WARN and above are kept"};
    spdlog::log(level > announced_ ? spdlog::level::warn : spdlog::level::info,
                "disk pressure: the data volume is {} used ({} of {} bytes free): {}",
                Percent(used), usage.free_bytes, usage.total_bytes, what[level]);
    announced_ = level;
  }
  return level;
}

Status DiskWatch::CheckNow() {
  MutexLock l(&check_mu_);
  ASSIGN_OR_RETURN(const int level, Measure());
  const double used = used_.load();
  if (level < 2 && falling_back_) {
    spdlog::info(
        "disk pressure: below the cold watermark: no longer deleting data past max_bytes in "
        "place of moves to the cold store");
    falling_back_ = false;
  }
  if (level == 0) return Status::OK();
  const std::string why = "the data volume is " + Percent(used) + " used";
  Status result;
  auto keep = [&result](Status s) {
    if (!s.ok() && result.ok()) result = std::move(s);
  };
  if (level >= 2) {
    if (options_.move_to_cold) {
      Status moved = MoveEarly(catalog::kTierCold, options_.cold, why);
      keep(moved);
      // The cold store takes nothing (down, refusing, full) and the volume is still past the
      // cold watermark: fall back to what a server without a cold store does, on the data
      // that is on this volume.
      const bool fall_back =
          !moved.ok() && options_.retention != nullptr && !BelowWatermark(options_.cold);
      if (fall_back && !falling_back_) {
        spdlog::warn(
            "disk pressure: {} and moving segments to the cold store fails: tenants past "
            "max_bytes lose their oldest unheld data on this volume instead",
            why);
      } else if (!fall_back && falling_back_) {
        spdlog::info(
            "disk pressure: no longer deleting data past max_bytes in place of moves "
            "to the cold store");
      }
      falling_back_ = fall_back;
      if (fall_back) {
        keep(DeleteOverMaxBytes(why + " and moving segments to the cold store fails",
                                /*local_only=*/true));
      }
    } else if (options_.retention != nullptr) {
      keep(DeleteOverMaxBytes(why, /*local_only=*/false));
    }
  }
  keep(MoveEarly(catalog::kTierWarm, options_.warm, why));
  // The level after the actions, so ingest is not refused longer than the disk is full (the
  // measuring thread also does, every interval).
  Measure().status().IgnoreError();
  return result;
}

int DiskWatch::Publish(double used) {
  const int level = used >= options_.shed   ? 3
                    : used >= options_.cold ? 2
                    : used >= options_.warm ? 1
                                            : 0;
  used_.store(used);
  level_.store(level);
  shed_info_.store(level == 3 && used >= options_.shed + (1 - options_.shed) / 2);
  auto& m = DiskMetrics::Get();
  m.used_ratio->Set(used);
  m.level->Set(level);
  return level;
}

bool DiskWatch::BelowWatermark(double watermark) {
  Result<DiskUsage> usage = options_.engine->DataDiskUsage();
  return usage.ok() && usage->used_fraction() < watermark;
}

Status DiskWatch::DeleteOverMaxBytes(const std::string& why, bool local_only) {
  Result<uint64_t> deleted = options_.retention->DeleteOverMaxBytes(why, local_only);
  DiskMetrics::Get()
      .actions->Add({{"action", deleted.ok() ? "delete_max_bytes" : "delete_max_bytes_failed"}})
      .Increment();
  if (deleted.ok()) return Status::OK();
  return deleted.status().WithContext("deleting data of tenants past max_bytes");
}

Status DiskWatch::MoveEarly(std::string_view to, double watermark, const std::string& why) {
  auto& m = DiskMetrics::Get();
  auto below = [this, watermark] { return BelowWatermark(watermark); };
  if (below()) return Status::OK();
  const std::string action = to == catalog::kTierWarm ? "hot_to_warm" : "warm_to_cold";
  Result<TierMoveReport> moved = options_.engine->MoveTiersOldestFirst(to, below);
  Status s = moved.ok() ? (moved->error.empty() ? Status::OK() : Status::IOError(moved->error))
                        : moved.status();
  const uint64_t n = moved.ok() ? moved->to_warm + moved->to_cold : 0;
  if (n > 0) m.actions->Add({{"action", action}}).Increment(static_cast<double>(n));
  if (n > 0) {
    spdlog::info("disk pressure: {}: moved {} segments ({} bytes) to {} early", why, n,
                 moved.ok() ? moved->bytes_read : 0, to);
  }
  // Every failure is counted; a move that keeps failing (a cold store that is down) is logged
  // when it starts failing, then at most once a minute with the count, and when it works again.
  RepeatedFailureLog& failures = to == catalog::kTierWarm ? warm_failures_ : cold_failures_;
  if (!s.ok()) {
    m.actions->Add({{"action", action + "_failed"}}).Increment();
    failures.Failure(s.WithContext(why));
    return s.WithContext("moving segments to " + std::string(to) + " early");
  }
  failures.Success();
  return s;
}

bool DiskWatch::Sheds(Level level) const {
  if (level_.load() < 3) return false;
  switch (level) {
    case Level::kTrace:
    case Level::kDebug: return true;
    case Level::kInfo:
    case Level::kUnknown: return shed_info_.load();
    default: return false;  // WARN, ERROR, FATAL: never
  }
}

Status DiskWatch::Admit(std::string_view tenant, const std::vector<Record>& records) {
  if (level_.load() < 3 || records.empty()) return Status::OK();
  for (const Record& r : records) {
    if (!Sheds(r.level)) return Status::OK();  // stored whole
  }
  auto& m = DiskMetrics::Get();
  uint64_t by_level[kLevelCount] = {};
  for (const Record& r : records) ++by_level[static_cast<int>(r.level)];
  for (int l = 0; l < kLevelCount; ++l) {
    if (by_level[l] == 0) continue;
    m.shed_lines->Add({{"level", std::string(LevelName(static_cast<Level>(l)))}})
        .Increment(static_cast<double>(by_level[l]));
  }
  m.shed_batches->Add({{"tenant", std::string(tenant)}}).Increment();
  return Status::ResourceExhausted(
      "disk pressure: the data volume is " + Percent(used_.load()) +
      " used, past the shed "
      "watermark (" +
      Percent(options_.shed) + "); " + std::to_string(records.size()) +
      " lines below WARN refused, nothing stored; retry later (WARN and above are still "
      "accepted)");
}

}  // namespace sawmill::storage
