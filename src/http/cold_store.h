// The cold tier's object store as `sawmill server` configures it (server_config.h "Cold tier
// store"; docs/operations.md "Cold store on S3").
#pragma once

#include <memory>

#include "http/server_config.h"
#include "objstore/object_store.h"

namespace sawmill::http {

// nullptr when config.cold_store is empty (the engine then keeps cold segments in a directory of
// the data directory). For "s3://BUCKET/PREFIX": an S3Store whose endpoint, region and keys come
// from the config, else from the AWS_* variables, after one request that proves the bucket is
// there and the keys are accepted, so a wrong key stops the server at start with a clear error
// instead of failing the first transition. Reads go through a ColdCache of cold_cache_bytes in
// DATA/cold-cache/ (unless 0). Errors: InvalidArgument (a missing or bad setting),
// FailedPrecondition (refused keys, no such bucket), IOError (the store cannot be reached).
Result<std::shared_ptr<objstore::ObjectStore>> OpenColdStore(const ServerConfig& config);

}  // namespace sawmill::http
