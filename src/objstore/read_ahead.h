// A view of an object store whose readers fetch a whole window of an object at a time: for a
// caller that reads an entire object range by range, such as the read-back of a segment just
// written (every column block, index and bloom in turn: twenty-odd ranges for even a small
// segment). Through a remote store each range is a request, and the requests are made one after
// the other: a flush then took twenty-odd request latencies (seconds under load), while one
// request for the whole object costs one.
//
// Threading: as ObjectStore (readers are thread-safe; a reader serialises its own fetches).
// Errors: those of the store below, unchanged (messages name the store's locations).
#pragma once

#include <cstdint>
#include <memory>

#include "objstore/object_store.h"

namespace sawmill::objstore {

// "store" for everything, except that a reader it opens serves each range from the last window
// it fetched, and fetches the window that holds a range it does not have: "window" bytes (the
// object's size when it is smaller, so that an object of at most "window" bytes costs one
// request after Open), starting at the range, or earlier when the object ends within the
// window. A range longer than "window" is read directly. Memory: one window per open reader.
std::unique_ptr<ObjectStore> ReadAhead(std::shared_ptr<ObjectStore> store, uint64_t window);

}  // namespace sawmill::objstore
