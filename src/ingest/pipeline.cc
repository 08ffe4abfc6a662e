#include "ingest/pipeline.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "common/metrics.h"

namespace sawmill::ingest {

namespace {

constexpr int64_t kWarningLogIntervalNs = 10 * kNanosPerSecond;

// sawmill_ingest_warnings_total{reason="unknown_level"}: records stored with a `level` default
// that is not a level (kept as a field instead).
prometheus::Counter& UnknownLevelWarnings() {
  static prometheus::Counter* counter =
      &prometheus::BuildCounter()
           .Name("sawmill_ingest_warnings_total")
           .Help(
               "Records stored with a problem the client should fix, by reason: unknown_level "
               "(a level default that is not a level; kept as the field `level`)")
           .Register(MetricsRegistry())
           .Add({{"reason", "unknown_level"}});
  return *counter;
}

}  // namespace

Status IngestSink::IngestIdempotent(const std::string&, std::string_view, std::vector<Record>*,
                                    const BatchKey&) {
  return Status::FailedPrecondition("this sink keeps no idempotency keys");
}

Pipeline::Pipeline(IngestSink* sink, PipelineOptions options, Clock* clock)
    : sink_(sink), options_(options), clock_(clock) {
  UnknownLevelWarnings();  // listed in /metrics from the start
}

Result<ShipperContext> Pipeline::Begin(const IngestCall& call) const {
  ShipperContext context;
  context.tenant = call.tenant.empty() ? "default" : call.tenant;
  context.now_ns = clock_->NowNanos();
  context.options.max_line_bytes = options_.max_line_bytes;
  context.max_records = call.max_records > 0 ? call.max_records : options_.max_records;
  context.defaults.service = call.service;
  context.defaults.host = call.host;
  if (!call.level.empty()) {
    context.defaults.level = ParseLevel(call.level);
    if (!context.defaults.level.has_value()) {
      if (call.bad_level == BadLevel::kReject) {
        return Status::InvalidArgument("level: '" + call.level +
                                       "' is not a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)");
      }
      context.unknown_level = call.level;
    }
  }
  if (!call.timezone.empty()) {
    Result<const TimeZone*> zone = TimeZone::Find(call.timezone);
    if (!zone.ok()) return zone.status().WithContext("tz");
    context.defaults.zone = *zone;
  } else if (auto by_service = options_.zone_by_service.find(call.service);
             !call.service.empty() && by_service != options_.zone_by_service.end()) {
    context.defaults.zone = by_service->second;
  } else if (auto by_tenant = options_.zone_by_tenant.find(context.tenant);
             by_tenant != options_.zone_by_tenant.end()) {
    context.defaults.zone = by_tenant->second;
  } else {
    context.defaults.zone = options_.zone;
  }
  return context;
}

Status Pipeline::Submit(const ShipperContext& context, std::string_view protocol,
                        std::vector<Record>* records, const BatchKey* key) const {
  if (records->empty() && key == nullptr) return Status::OK();
  const BatchInfo batch{context.tenant, protocol};
  for (const AdmitHook& hook : admit_) RETURN_IF_ERROR(hook(batch, records));
  RETURN_IF_ERROR(key != nullptr ? sink_->IngestIdempotent(context.tenant, protocol, records, *key)
                                 : sink_->Ingest(context.tenant, protocol, records));
  if (!context.unknown_level.empty()) {
    uint64_t kept = 0;
    for (const Record& record : *records) {
      const std::string* level = record.FindField("level");
      kept +=
          record.level == Level::kUnknown && level != nullptr && *level == context.unknown_level;
    }
    if (kept > 0) {
      UnknownLevelWarnings().Increment(static_cast<double>(kept));
      static std::atomic<int64_t> last_log_ns{0};
      const int64_t now = clock_->MonotonicNanos();
      int64_t last = last_log_ns.load(std::memory_order_relaxed);
      if (now - last >= kWarningLogIntervalNs &&
          last_log_ns.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        spdlog::warn(
            "{} ingest (tenant {}): level default '{}' is not a level (TRACE, DEBUG, INFO, WARN, "
            "ERROR, FATAL); {} records were stored with it as the field `level` (fix the "
            "shipper's URL; counted in sawmill_ingest_warnings_total)",
            protocol, context.tenant, context.unknown_level, kept);
      }
    }
  }
  for (const AckListener& listener : listeners_) listener(batch, *records);
  return Status::OK();
}

}  // namespace sawmill::ingest
