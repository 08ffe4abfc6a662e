// An ObjectStore over the S3 API (AWS S3, MinIO, Ceph RGW, OpenStack Swift's s3api): the cold
// tier's store. Contract: object_store.h. Requests are signed with AWS Signature V4 by libcurl
// (CURLOPT_AWS_SIGV4); addressing is path-style, so any S3-compatible endpoint works without DNS:
//
//   object NAME     ENDPOINT/BUCKET/PREFIX/NAME         (PREFIX may be empty)
//   Put             one PUT with Content-MD5 (the store rejects a body that arrived damaged) and
//                   the ETag compared with the MD5 we sent; above multipart_threshold a multipart
//                   upload (every part with its own Content-MD5 and ETag check), aborted when any
//                   step fails, so a failed Put leaves no object and no upload behind
//   NewWriter       streams: the appended bytes fill one part-sized buffer; when more follows a
//                   full part, a multipart upload starts and the part goes up (Content-MD5, ETag
//                   checked, retried as one request) before the buffer is reused; Commit sends
//                   the last part and completes (then HEAD: size and the multipart ETag; a
//                   completed object that fails that check is deleted, logged and counted); an
//                   object of at most one part is one PUT on Commit. A failure or a writer
//                   dropped uncommitted aborts the upload; an abort that fails too leaves an
//                   upload ListIncomplete finds
//   Size / Open     HEAD; a reader then GETs each range with "Range: bytes=a-b" and If-Match on
//                   the ETag it opened, so it never mixes two versions of a name
//   GetRange        one ranged GET (HEAD only for empty or overflowing ranges)
//   List            ListObjectsV2, following continuation tokens, 1000 names a page
//   Delete          HEAD (NotFound when absent, as the contract says), then DELETE
//
// Retries: a request that fails with a connection error, a timeout, HTTP 429 or 5xx (or the S3
// codes SlowDown, RequestTimeout, InternalError) is retried with exponential backoff and jitter
// until retry_budget_ms has passed since the operation started (or, for PutWithin, the caller's
// deadline, whichever comes first); other answers are final. Errors
// name the object's s3:// location, the HTTP status and the S3 error code: NotFound (404),
// PermissionDenied-like failures (403: wrong keys, clock skew) and other 4xx are
// FailedPrecondition (the configuration is wrong; a retry will not help), and exhausted retries
// are IOError (the medium failed; a later retry may succeed).
//
// Differences from the local store, allowed by the contract: a reader of an object deleted after
// it was opened fails with NotFound ("deleted after it was opened") instead of reading on, since
// S3 keeps no handle; whoever deletes cold objects does so only when no query can need them.
//
// Memory: an operation holds at most one response body (bounded by the range asked for, 16 MiB
// for a listing page, 64 KiB for an error) beside the caller's data; Put streams from the
// caller's buffer; a writer holds at most one part (Stats::peak_upload_buffer_bytes). Thread-safe;
// requests of different threads run in parallel on pooled handles (kept-alive connections).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "objstore/object_store.h"

namespace sawmill::objstore {

struct S3Options {
  // "http://host:port" or "https://host" (no path). Required.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  // Keys are PREFIX/NAME; "" puts names at the bucket's root. No leading or trailing '/'.
  std::string prefix;
  std::string access_key;
  std::string secret_key;

  // Objects larger than this go up as multipart uploads of part_size parts (S3 wants parts of at
  // least 5 MiB, except the last).
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;

  int64_t connect_timeout_ms = 5000;
  // A request that moves fewer than 1 KiB/s for this long is cut (and retried).
  int64_t stall_timeout_ms = 30000;
  // The longest one request may take (a part of part_size must fit).
  int64_t request_timeout_ms = 300000;
  // No new attempt starts this long after an operation began.
  int64_t retry_budget_ms = 60000;
  // A PutWithin whose multipart upload failed still aborts it (else S3 keeps and bills its
  // parts), by the later of the caller's deadline and this long after the failure: one small
  // request, not given up for the deadline nor let run a whole retry budget past it.
  int64_t abort_within_ms = 2000;
  int max_attempts = 10;
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 5000;
  // Idle handles (and their connections) kept for reuse.
  size_t max_idle_connections = 8;
  // ListIncomplete lists only multipart uploads initiated at least this long ago (by the
  // store's clock in the listing against ours): younger ones may still be running.
  int64_t incomplete_grace_ms = 3'600'000;
};

// Fills bucket and prefix from "s3://bucket/prefix/path" ("s3://bucket" for no prefix).
// InvalidArgument naming the URL and what is wrong.
Status ParseS3Url(std::string_view url, S3Options* options);

// Fills the fields that are still empty from the standard variables AWS_ENDPOINT_URL,
// AWS_REGION (then AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
void FillS3OptionsFromEnvironment(S3Options* options);

class S3Store final : public ObjectStore {
 public:
  // What the store did since it was created (every request attempt counts once).
  struct Stats {
    uint64_t requests = 0;
    uint64_t retries = 0;
    uint64_t errors = 0;  // operations that returned an error other than NotFound
    uint64_t bytes_uploaded = 0;
    uint64_t bytes_downloaded = 0;
    uint64_t multipart_uploads = 0;
    uint64_t multipart_aborts = 0;
    // The most memory one writer's part buffer held (at most part_size).
    uint64_t peak_upload_buffer_bytes = 0;
    // Completed multipart objects that failed the size/ETag check: deleted, or left (the
    // delete failed too; logged with the name).
    uint64_t bad_objects_deleted = 0;
    uint64_t bad_objects_left = 0;
  };

  // InvalidArgument when a required option is missing or malformed. Makes no request.
  static Result<std::unique_ptr<S3Store>> Create(S3Options options);
  ~S3Store() override;

  Status Put(std::string_view name, std::string_view data) override;
  // Put whose requests stop at the deadline too (the earlier of it and retry_budget_ms): no
  // attempt starts past it, the one running then is cut (CURLOPT_TIMEOUT_MS), and a multipart
  // upload that failed is still aborted, within abort_within_ms past the deadline at most.
  Status PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) override;
  // A streaming writer holding at most one part in memory (the table above).
  Result<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view name) override;
  Result<uint64_t> Size(std::string_view name) override;
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override;
  Result<std::unique_ptr<ObjectReader>> Open(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Status Delete(std::string_view name) override;
  // "s3://BUCKET/PREFIX/NAME".
  std::string Location(std::string_view name) const override;
  // Multipart uploads under PREFIX/"prefix" neither completed nor aborted, initiated at least
  // incomplete_grace_ms ago (a crash, a kill or a lost connection mid-upload leaves them, and S3
  // keeps and bills their parts forever): "NAME?uploadId=ID", every page of the listing.
  Result<std::vector<std::string>> ListIncomplete(std::string_view prefix) override;
  // Aborts one of them (counted in sawmill_cold_store_incomplete_uploads_aborted_total).
  // InvalidArgument for a string ListIncomplete did not return; NotFound when gone already.
  Status DeleteIncomplete(std::string_view incomplete) override;

  // Creates the bucket; OK when it exists already and is ours. For tests and first set-up.
  Status CreateBucket();
  // Checks that the bucket exists and the credentials are accepted (one request): what the
  // server runs at start so a wrong key is reported then, not at the first transition.
  Status CheckAccess();
  // The keys of multipart uploads started under the prefix and neither completed nor aborted
  // (whatever their age).
  Result<std::vector<std::string>> ListUploadsInProgress();

  Stats stats() const;
  // For tests: completing a multipart upload of several parts leaves out the last part, so the
  // store keeps a shorter object than was sent and the check after completing fails for real.
  void DropLastPartOnCompleteForTesting(bool drop) { drop_last_part_for_testing_ = drop; }
  const S3Options& options() const { return options_; }

  struct Request;
  struct Response;
  // A multipart upload's parts so far.
  struct MultipartState {
    std::string md5s;      // the parts' raw MD5s, concatenated: the ETag is their MD5
    std::string complete;  // <Part> elements of CompleteMultipartUpload
    int parts = 0;
    uint64_t bytes = 0;
  };

 private:
  explicit S3Store(S3Options options);

  // Sends "request", retrying as the header says. Returns the final answer whatever its HTTP
  // status; IOError when no attempt got one within the budget.
  Result<Response> Perform(const Request& request);
  // The steps of a Put. "deadline_ms" (steady clock, NowMs in s3_store.cc; 0: none) is the
  // caller's (PutWithin): every request they send carries it (Request::deadline_ms).
  Status PutBy(std::string_view name, std::string_view data, int64_t deadline_ms);
  Status PutSingle(std::string_view name, std::string_view data, int64_t deadline_ms);
  Status PutMultipart(std::string_view name, std::string_view data, int64_t deadline_ms);
  // The steps of a multipart upload. StartUpload returns the upload id. UploadPart sends part
  // "number" (bytes [offset, offset + size) of the object) with its Content-MD5, checks the
  // ETag and adds it to "state". CompleteUpload completes and checks the stored object's size
  // and ETag; an object that fails that check is deleted (DeleteBadObject). None aborts: the
  // caller does on failure. A streaming writer's steps have no deadline (0).
  Result<std::string> StartUpload(std::string_view name, int64_t deadline_ms = 0);
  Status UploadPart(std::string_view name, const std::string& upload_id, int number,
                    uint64_t offset, std::string_view part, MultipartState* state,
                    int64_t deadline_ms = 0);
  Status CompleteUpload(std::string_view name, const std::string& upload_id,
                        const MultipartState& state, int64_t deadline_ms = 0);
  void NotePeakBuffer(uint64_t bytes);
  void CountError();
  Status AbortUpload(const std::string& key, const std::string& upload_id, int64_t deadline_ms = 0);
  // Deletes an object whose upload completed but failed the size/ETag check ("why"): logged and
  // counted, and so is a delete that fails (the object then stays, named in the log).
  void DeleteBadObject(std::string_view name, const Status& why, int64_t deadline_ms);
  // GET of [offset, offset + length) (length > 0, no overflow), with If-Match when "etag" is
  // not empty. Checks the range against the size the answer reports.
  Status GetRangeOnce(std::string_view name, uint64_t offset, uint64_t length,
                      const std::string& etag, std::string* out);
  // HEAD: size and ETag. NotFound when absent.
  Status Head(std::string_view name, uint64_t* size, std::string* etag, int64_t deadline_ms = 0);
  // An error for a final answer that was not a success: the operation, the object, the HTTP
  // status and the S3 code and message.
  Status ErrorFor(std::string_view op, std::string_view name, const Response& response) const;
  std::string Key(std::string_view name) const;

  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  friend class S3ObjectReader;
  friend class S3ObjectWriter;

  const S3Options options_;
  Mutex pool_mu_;
  std::vector<void*> idle_ GUARDED_BY(pool_mu_);

  std::atomic<uint64_t> requests_{0}, retries_{0}, errors_{0}, bytes_uploaded_{0},
      bytes_downloaded_{0}, multipart_uploads_{0}, multipart_aborts_{0}, peak_upload_buffer_{0},
      bad_objects_deleted_{0}, bad_objects_left_{0};
  std::atomic<bool> drop_last_part_for_testing_{false};
};

}  // namespace sawmill::objstore
