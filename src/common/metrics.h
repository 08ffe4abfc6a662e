// The process-wide Prometheus registry. Components register their metric families on it with
// prometheus-cpp builders; GET /metrics serialises it.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

namespace sawmill {

// Never null; lives for the whole process.
prometheus::Registry& MetricsRegistry();
std::shared_ptr<prometheus::Registry> MetricsRegistryPtr();

// A counter or gauge without labels, registered once on the process registry under "name".
prometheus::Counter* UnlabelledCounter(const char* name, const char* help);
prometheus::Gauge* UnlabelledGauge(const char* name, const char* help);

// Serialises the registry in the Prometheus text exposition format.
std::string SerializeMetrics();

}  // namespace sawmill
