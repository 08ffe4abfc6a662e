#include "storage/job_gate.h"

#include <memory>
#include <mutex>

namespace sawmill::storage {
namespace {

std::mutex& GateMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

std::shared_ptr<const std::function<bool(std::string_view)>>& Gate() {
  static auto* gate = new std::shared_ptr<const std::function<bool(std::string_view)>>();
  return *gate;
}

}  // namespace

void SetJobGate(std::function<bool(std::string_view job)> gate) {
  auto next = gate ? std::make_shared<const std::function<bool(std::string_view)>>(std::move(gate))
                   : nullptr;
  std::lock_guard<std::mutex> lock(GateMutex());
  Gate() = std::move(next);
}

bool MayRunJob(std::string_view job) {
  std::shared_ptr<const std::function<bool(std::string_view)>> gate;
  {
    std::lock_guard<std::mutex> lock(GateMutex());
    gate = Gate();
  }
  return gate == nullptr || (*gate)(job);
}

}  // namespace sawmill::storage
