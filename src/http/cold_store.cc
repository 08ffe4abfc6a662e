#include "http/cold_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/env.h"
#include "objstore/cold_cache.h"

namespace sawmill::http {

Result<objstore::S3Options> ServerS3Options(const ServerConfig& config, const std::string& url,
                                            const std::string& setting) {
  objstore::S3Options options;
  RETURN_IF_ERROR(objstore::ParseS3Url(url, &options).WithContext(setting));
  options.endpoint = config.cold_store_endpoint;
  if (!config.cold_store_region.empty()) options.region = config.cold_store_region;
  options.access_key = config.cold_store_access_key;
  options.secret_key = config.cold_store_secret_key;
  objstore::FillS3OptionsFromEnvironment(&options);
  options.part_size = config.cold_store_part_bytes;
  options.multipart_threshold = config.cold_store_part_bytes;
  options.retry_budget_ms = static_cast<int64_t>(config.cold_store_retry_ms);
  options.incomplete_grace_ms =
      static_cast<int64_t>(std::min<uint64_t>(config.cold_store_upload_grace_ms, INT64_MAX / 2));
  return options;
}

Result<std::shared_ptr<objstore::ObjectStore>> WithColdCache(
    const ServerConfig& config, std::shared_ptr<objstore::ObjectStore> store) {
  if (config.cold_cache_bytes == 0) return store;
  ASSIGN_OR_RETURN(
      auto cache, objstore::ColdCache::Open(Env::Default(), JoinPath(config.data_dir, "cold-cache"),
                                            config.cold_cache_bytes));
  spdlog::info("cold cache: {} ({} MiB)", cache->dir(), config.cold_cache_bytes >> 20);
  return std::shared_ptr<objstore::ObjectStore>(
      std::make_shared<objstore::CachingObjectStore>(std::move(store), std::move(cache)));
}

Result<std::shared_ptr<objstore::ObjectStore>> OpenColdStore(const ServerConfig& config) {
  if (config.cold_store.empty()) return std::shared_ptr<objstore::ObjectStore>();
  ASSIGN_OR_RETURN(objstore::S3Options options,
                   ServerS3Options(config, config.cold_store, "cold_store"));
  ASSIGN_OR_RETURN(auto store, objstore::S3Store::Create(std::move(options)));
  RETURN_IF_ERROR(store->CheckAccess());
  spdlog::info("cold store: {} at {} (region {})",
               store->Location("").substr(0, store->Location("").size() - 1),
               store->options().endpoint, store->options().region);
  return WithColdCache(config, std::move(store));
}

}  // namespace sawmill::http
