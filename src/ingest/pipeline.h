// CONTRACT: the one ingest pipeline every front door goes through — native /api/v1/ingest,
// Elasticsearch _bulk/_doc, Loki push, OTLP/HTTP and syslog TCP/UDP:
//
//   1. decode     the door's decoder turns bytes into Records (ingest/{normalize,
//                 elasticsearch_bulk,loki_push,otlp_logs,syslog_parser}.h) under the
//                 ShipperContext that Begin() made: one clock, one max_line, one set of defaults;
//   2. normalise  inside the decoder, per record: the field-mapping table (field_map.h), then
//                 FinishShipperRecord / NormalizeLine (defaults, level sniffing, truncation,
//                 UTF-8 repair);
//   3. admit      Submit() runs the admit hooks in order (the caller's identity and tenant,
//                 quotas, masking: later issues add them); the first error refuses the batch;
//   4. WAL append Submit() hands the batch to the IngestSink (durable when it returns OK);
//   5. after-acknowledgement listeners, in registration order (the tail hub, ingest metrics;
//                 later the alert evaluator and the audit log).
//
// Nothing here knows HTTP: the server maps requests to Begin/Submit calls and a Status to an HTTP
// status (src/http). Configure (set_*, Add*) before the first Begin; after that the pipeline is
// read-only and every method is thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/timezone.h"
#include "ingest/ingest_sink.h"
#include "ingest/shipper_record.h"
#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::ingest {

// What a door does with a `level` default that is not a level (docs/ingest.md "Levels").
enum class BadLevel : uint8_t {
  kReject,       // InvalidArgument, nothing stored (native: its client reads the error)
  kKeepAsField,  // the lines are stored; the text becomes the field `level` of records without a
                 // level, counted in sawmill_ingest_warnings_total{reason="unknown_level"}
                 // (shippers: Promtail, Filebeat and the OTLP exporters drop a batch on a 4xx)
};

// One call of a front door, as the client wrote it.
struct IngestCall {
  std::string tenant = "default";
  std::string_view protocol;  // "native", "elasticsearch", "loki", "otlp", "syslog"
  // Defaults for records that carry none (?service=, ?host=, ?level=; syslog: the sender).
  std::string service;
  std::string host;
  std::string level;
  // ?tz=: the zone of timestamps written without one (docs/ingest.md "Time zones"); empty: the
  // pipeline's by service, by tenant, else its default.
  std::string timezone;
  size_t max_records = 0;  // 0: the pipeline's
  BadLevel bad_level = BadLevel::kKeepAsField;
};

// Who is storing what, for admit hooks and listeners. Valid during the call only.
struct BatchInfo {
  const std::string& tenant;
  std::string_view protocol;
};

// May change the records (masking) or refuse the batch with a Status (quota: ResourceExhausted;
// identity: PermissionDenied...). Called on the request's thread, concurrently.
using AdmitHook = std::function<Status(const BatchInfo& batch, std::vector<Record>* records)>;
// Sees every acknowledged batch, after the WAL append returned OK; must not block for long and
// cannot fail the batch (it is durable already). Called concurrently.
using AckListener = std::function<void(const BatchInfo& batch, const std::vector<Record>& records)>;

struct PipelineOptions {
  size_t max_line_bytes = 256 * 1024;  // messages and field values past it are truncated
  size_t max_records = 1000000;        // records per call (bounded memory)
  // The zone of timestamps written without one when the call names none (IngestCall::timezone):
  // the call's service's, else its tenant's, else "zone" (null: UTC). From TimeZone::Find.
  const TimeZone* zone = nullptr;
  std::map<std::string, const TimeZone*, std::less<>> zone_by_service;
  std::map<std::string, const TimeZone*, std::less<>> zone_by_tenant;
};

class Pipeline {
 public:
  // "*sink" must outlive the pipeline.
  explicit Pipeline(IngestSink* sink, PipelineOptions options = {}, Clock* clock = Clock::Real());

  void set_options(const PipelineOptions& options) { options_ = options; }
  const PipelineOptions& options() const { return options_; }
  // "*clock" must outlive the pipeline. Ingest time (and ts when a record has none) comes from it.
  void set_clock(Clock* clock) { clock_ = clock; }
  Clock* clock() const { return clock_; }
  void AddAdmitHook(AdmitHook hook) { admit_.push_back(std::move(hook)); }
  void AddListener(AckListener listener) { listeners_.push_back(std::move(listener)); }

  // The context the door decodes under: tenant, the clock's now, max_line, max_records and the
  // defaults (with the zone of timestamps written without one). Errors: InvalidArgument for a
  // bad level when call.bad_level is kReject, and for a call.timezone that is not a zone
  // ("tz: time zone 'Europe/Berln': no such zone in /usr/share/zoneinfo ..."), at every door.
  Result<ShipperContext> Begin(const IngestCall& call) const;

  // Stages 3 to 5 for a decoded batch (Begin's "context"). "key" (may be null) makes the append
  // idempotent. An empty batch without a key is OK and touches nothing.
  // Errors: an admit hook's, or the sink's (see IngestSink).
  Status Submit(const ShipperContext& context, std::string_view protocol,
                std::vector<Record>* records, const BatchKey* key = nullptr) const;

 private:
  IngestSink* sink_;
  PipelineOptions options_;
  Clock* clock_;
  std::vector<AdmitHook> admit_;
  std::vector<AckListener> listeners_;
};

}  // namespace sawmill::ingest
