// The cold tier's object store as `sawmill server` configures it (server_config.h "Cold tier
// store"; docs/operations.md "Cold store on S3").
#pragma once

#include <memory>

#include "http/server_config.h"
#include "objstore/object_store.h"
#include "objstore/s3_store.h"

namespace sawmill::http {

// nullptr when config.cold_store is empty (the engine then keeps cold segments in a directory of
// the data directory). For "s3://BUCKET/PREFIX": an S3Store whose endpoint, region and keys come
// from the config, else from the AWS_* variables, after one request that proves the bucket is
// there and the keys are accepted, so a wrong key stops the server at start with a clear error
// instead of failing the first transition. Reads go through a ColdCache of cold_cache_bytes in
// DATA/cold-cache/ (unless 0). Errors: InvalidArgument (a missing or bad setting),
// FailedPrecondition (refused keys, no such bucket), IOError (the store cannot be reached).
Result<std::shared_ptr<objstore::ObjectStore>> OpenColdStore(const ServerConfig& config);

// The settings of an S3 store at "url" ("s3://BUCKET/PREFIX", from the setting named "setting"):
// endpoint, region and keys from the config, else from the AWS_* variables; part size, retry
// budget and upload grace from the cold_store_* settings. Used by OpenColdStore and by a cluster
// node's shared store (cluster_mode.h). Errors: InvalidArgument (a bad URL, naming "setting").
Result<objstore::S3Options> ServerS3Options(const ServerConfig& config, const std::string& url,
                                            const std::string& setting);

// "store" read through a ColdCache of cold_cache_bytes in DATA/cold-cache/ ("store" itself when
// cold_cache_bytes is 0). Errors: those of opening the cache directory (IOError).
Result<std::shared_ptr<objstore::ObjectStore>> WithColdCache(
    const ServerConfig& config, std::shared_ptr<objstore::ObjectStore> store);

}  // namespace sawmill::http
