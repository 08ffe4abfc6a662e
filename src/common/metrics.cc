#include "common/metrics.h"

#include <prometheus/text_serializer.h>

namespace sawmill {

std::shared_ptr<prometheus::Registry> MetricsRegistryPtr() {
  static auto registry = std::make_shared<prometheus::Registry>();
  return registry;
}

prometheus::Registry& MetricsRegistry() { return *MetricsRegistryPtr(); }

prometheus::Counter* UnlabelledCounter(const char* name, const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(MetricsRegistry()).Add({});
}

prometheus::Gauge* UnlabelledGauge(const char* name, const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(MetricsRegistry()).Add({});
}

std::string SerializeMetrics() {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(MetricsRegistry().Collect());
}

}  // namespace sawmill
