// Fuzz target: a Loki push body in protobuf (POST /loki/api/v1/push, application/x-protobuf:
// a raw snappy block of a logproto.PushRequest) through DecodeLokiPushProtobuf, and Prometheus
// label strings through ParsePrometheusLabels.
// Input: byte 0 is the mode; the rest is
//   mode 0: the body as sent (a snappy block);
//   mode 1: the uncompressed PushRequest, which this target snappy-compresses first, so that
//           mutations reach the protobuf and the label parser rather than the snappy framing;
//   mode 2: a label string for ParsePrometheusLabels.
#include <snappy.h>

#include "ingest/loki_push.h"
#include "shipper_fuzz.h"

using namespace sawmill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  std::string_view rest = fuzz::AsView(data + 1, size - 1);
  if (mode == 2) {
    auto labels = ingest::ParsePrometheusLabels(rest);
    if (labels.ok()) {
      for (const auto& [k, v] : labels.value()) FUZZ_CHECK(!k.empty());
    }
    return 0;
  }
  std::string compressed;
  if (mode == 1) {
    snappy::Compress(rest.data(), rest.size(), &compressed);
    rest = compressed;
  }
  const ingest::ShipperContext context = fuzz::ShipperFuzzContext();
  constexpr size_t kMaxDecoded = 1 << 20;
  auto records = ingest::DecodeLokiPushProtobuf(rest, context, kMaxDecoded);
  if (!fuzz::Decoded(records)) return 0;
  fuzz::CheckRecords(records.value(), context);
  return 0;
}
