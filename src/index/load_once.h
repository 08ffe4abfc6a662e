// LoadOnce: the one rule for a part of a segment that a reader reads on first use and keeps (an
// index kind's view, segment/segment_reader.cc KindView; an inverted index part,
// inverted_index_kind.cc; a field's bloom filters, bloom_kind.cc). What a read gives is kept for
// the reader's life and answered to every later question: the part, or the damage met reading
// it (DataLoss: the bytes are wrong and stay wrong; asked again, the reader would read and check
// the part for every block's question, and report it each time). A failed read (IOError,
// Unavailable, any other code: a disk's or the network's error, a timeout) is not kept: the
// next question reads again (docs/storage.md "Corruption").
#pragma once

#include <utility>

#include "sawmill/status.h"

namespace sawmill::index {

// The state of one such part. Not thread-safe: its owner guards it, and the part it stands
// for, with its own mutex, and reads outside that mutex if it likes (two racing loads: the
// first outcome kept wins).
class LoadOnce {
 public:
  // Whether an outcome is kept: the part read, or its damage.
  bool settled() const { return settled_; }
  // The damage kept; OK when the part read or nothing is kept yet.
  const Status& damage() const { return damage_; }
  // Keeps "st", the outcome of a load, when it is kept (OK or DataLoss) and nothing is kept
  // yet. Returns what the question that loaded answers: "st" when it is a failed read (not
  // kept), else the outcome kept (this one, or a racing load's).
  Status Settle(Status st) {
    if (!st.ok() && !st.IsDataLoss()) return st;
    if (!settled_) {
      settled_ = true;
      damage_ = std::move(st);
    }
    return damage_;
  }

 private:
  bool settled_ = false;
  Status damage_;
};

}  // namespace sawmill::index
