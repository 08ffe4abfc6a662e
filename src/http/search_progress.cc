#include "http/search_progress.h"

namespace sawmill::http {

void SearchProgressRegistry::Registration::Release() {
  if (registry_ == nullptr) return;
  MutexLock l(&registry_->mu_);
  registry_->running_.erase(key_);
  registry_ = nullptr;
}

Result<SearchProgressRegistry::Registration> SearchProgressRegistry::Register(
    const std::string& tenant, const std::string& id,
    std::shared_ptr<query::SearchProgress> progress) {
  bool good = !id.empty() && id.size() <= 64;
  for (char c : id) {
    good = good && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_');
  }
  if (!good) {
    return Status::InvalidArgument("progress_id: expected 1 to 64 of A-Z a-z 0-9 - _, got '" +
                                   id.substr(0, 80) + "'");
  }
  auto key = std::make_pair(tenant, id);
  MutexLock l(&mu_);
  if (running_.size() >= kMaxRunning) {
    return Status::ResourceExhausted("progress_id: " + std::to_string(kMaxRunning) +
                                     " searches with progress are running; retry without it");
  }
  if (!running_.emplace(key, std::move(progress)).second) {
    return Status::AlreadyExists("progress_id: a search with id '" + id + "' is running");
  }
  return Registration(this, std::move(key));
}

std::shared_ptr<query::SearchProgress> SearchProgressRegistry::Find(const std::string& tenant,
                                                                    const std::string& id) {
  MutexLock l(&mu_);
  auto it = running_.find({tenant, id});
  return it == running_.end() ? nullptr : it->second;
}

HttpResponse HandleSearchProgress(SearchProgressRegistry* registry, const HttpRequest& request) {
  if (!request.HasQuery("id")) {
    return HttpResponse::Error(
        Status::InvalidArgument("id: required (the progress_id the search was sent with)"));
  }
  auto progress = registry->Find(request.tenant, request.Query("id"));
  if (progress == nullptr) return HttpResponse::Json(200, "{\"running\":false}");
  std::string body = "{\"running\":true";
  auto num = [&](const char* name, uint64_t value) {
    body += ",\"";
    body += name;
    body += "\":" + std::to_string(value);
  };
  num("cold_segments", progress->cold_segments.load());
  num("cold_segments_read", progress->cold_segments_read.load());
  num("cold_bytes", progress->cold_bytes.load());
  num("cold_bytes_fetched", progress->cold_reads.bytes_fetched.load());
  num("cold_bytes_cached", progress->cold_reads.bytes_from_cache.load());
  body += '}';
  return HttpResponse::Json(200, std::move(body));
}

}  // namespace sawmill::http
