// CONTRACT between object stores (where immutable files such as segments live) and their users
// (src/segment reads segments from one; src/storage deletes and lists through one). The local
// directory store is the default; the cold tier and scale-out add an S3 store behind the same
// interface. Every implementation must pass object_store_test.cc.
//
// An object is an immutable byte string under a name. Names are relative, '/'-separated paths
// ("segments/hot/acme/3/17.seg"): not empty, no leading or trailing '/', no empty, "." or ".."
// component, no NUL, and not ending in ".tmp" (reserved for puts in progress). A bad name is
// InvalidArgument, naming it.
//
// Threading: every method of ObjectStore and ObjectReader may be called from many threads at
// once. A reader must not outlive the store that opened it.
//
// Readers and replacement: users never Put different bytes under a name that readers may still
// have open (segment names carry ids that are never reused), so a reader's bytes never change.
// The local store's readers also keep reading an object deleted after they were opened (the file
// stays open), so a query holding a segment is not disturbed when compaction deletes it.
//
// Errors: NotFound when the object does not exist; InvalidArgument for a bad name or a range
// outside the object; IOError for a failure of the medium (a retry may succeed);
// Unavailable when the device is full. Messages say which object and, for ranges, which bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill::objstore {

// One object opened for ranged reads: the bytes it was opened on, whatever happens to the name
// afterwards. Thread-safe.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  // The object's size in bytes.
  virtual uint64_t size() const = 0;
  // Replaces "*out" with exactly the bytes [offset, offset + length). A range that does not lie
  // inside the object is InvalidArgument ("range [a, b) is past the end of NAME (N bytes)");
  // nothing is read then. IOError from the medium.
  virtual Status ReadRange(uint64_t offset, uint64_t length, std::string* out) const = 0;
};

// One object being written in pieces (a segment of hundreds of MiB is never held in memory
// whole): Append as often as needed, then Commit. Until Commit returns OK nothing is visible
// under the name (List, Open and Size do not see it; an older object of that name stays whole);
// Commit publishes it atomically and durably, as Put does. Destroying a writer that was not
// committed (or whose Commit failed) abandons it: what was written is removed, best effort (a
// crash can leave it behind; ListIncomplete finds it). Not thread-safe: one writer, one thread.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  // Errors: IOError, Unavailable (device full). After an error only destruction is useful.
  virtual Status Append(std::string_view data) = 0;
  // Makes the object visible and durable. Errors as Append; the object is then not visible.
  virtual Status Commit() = 0;
  // Bytes appended so far.
  virtual uint64_t bytes() const = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores "data" under "name", replacing any object of that name. Atomic: readers see the old
  // object (or none) until the new one is complete, never a part of it; on an error the old
  // object is unchanged. Durable when it returns OK (a crash afterwards keeps the new object).
  virtual Status Put(std::string_view name, std::string_view data) = 0;
  // Put by a deadline "budget_ns" from the call (a caller with a deadline of its own: the WAL
  // writer's): a store that retries (S3) starts no attempt past it and cuts the attempt running
  // then, answering the last error. The default is Put (a store that does not retry ends with
  // its one try), and so is what a wrapper that does not forward it does.
  virtual Status PutWithin(std::string_view name, std::string_view data, int64_t budget_ns) {
    (void)budget_ns;
    return Put(name, data);
  }

  // Starts writing "name" in pieces (ObjectWriter above). Errors: InvalidArgument for a bad
  // name, IOError. The default keeps the pieces in memory and Puts them on Commit; a store
  // that can stream (a temporary file, a multipart upload) overrides it.
  virtual Result<std::unique_ptr<ObjectWriter>> NewWriter(std::string_view name);

  // Writes that were started and never committed nor abandoned cleanly (a crash in the middle
  // of a Put or a writer), whose names start with "prefix": for the local store their temporary
  // files ("segments/hot/t/0/5.seg.123-4.tmp"), for a remote store its incomplete uploads.
  // Never listed by List. Whoever owns the prefix removes them with DeleteIncomplete once no
  // write of its own can still be running (for segments: reconciliation at start-up). The
  // default: none.
  virtual Result<std::vector<std::string>> ListIncomplete(std::string_view prefix) {
    (void)prefix;
    return std::vector<std::string>{};
  }
  // Removes one write ListIncomplete returned. NotFound when it is gone already.
  virtual Status DeleteIncomplete(std::string_view incomplete) {
    return Status::NotFound("no incomplete write " + std::string(incomplete));
  }

  // The size of "name" in bytes. NotFound when absent.
  virtual Result<uint64_t> Size(std::string_view name) = 0;

  // Replaces "*out" with the bytes [offset, offset + length) of "name". Errors as
  // ObjectReader::ReadRange, and NotFound. One request: a caller reading several ranges of one
  // object should Open it instead.
  virtual Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                          std::string* out) = 0;

  // Opens "name" for many ranged reads (a segment: the footer, then the blocks a query needs).
  // NotFound when absent. The default reads each range with GetRange; a store with cheaper
  // handles (a file descriptor) overrides it.
  virtual Result<std::unique_ptr<ObjectReader>> Open(std::string_view name);

  // The names of every complete object whose name starts with "prefix" (plain string prefix,
  // "" lists everything), sorted. Puts in progress are never listed.
  virtual Result<std::vector<std::string>> List(std::string_view prefix) = 0;

  // Deletes "name". Durable when it returns OK. NotFound when absent (callers that only want it
  // gone may ignore that). Readers opened before keep reading the old bytes.
  virtual Status Delete(std::string_view name) = 0;

  // Where "name" lives, for messages and operators: a file path for the local store, a URL for
  // a remote one. Never fails; does not check that the object exists.
  virtual std::string Location(std::string_view name) const = 0;
};

// Copies object "from" of "source" to "to" of "target" (which may be the same store) through a
// writer, 1 MiB at a time, and returns the bytes copied. The copy is durable when it returns.
// "stop" (when set) is asked before each piece: true abandons the copy there (the writer is
// dropped uncommitted, so nothing is visible under "to"; a server stopping does not wait for the
// upload of a whole segment: storage.md "Stopping"). Errors: as Open, ReadRange, NewWriter and
// Commit; Unavailable naming "to" and the bytes copied when "stop" said so.
Result<uint64_t> CopyObject(ObjectStore* source, std::string_view from, ObjectStore* target,
                            std::string_view to, const std::function<bool()>& stop = nullptr);

// InvalidArgument naming "name" and what is wrong with it, or OK (the rules above).
Status ValidateObjectName(std::string_view name);

// For implementations: InvalidArgument "range [a, b) is past the end of WHERE (N bytes)" unless
// [offset, offset + length) lies inside an object of "size" bytes.
Status CheckRange(std::string_view where, uint64_t size, uint64_t offset, uint64_t length);

}  // namespace sawmill::objstore
