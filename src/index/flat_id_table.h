// An open-addressing table from keys to the ids 0, 1, 2, ... their owner gave them, for the
// write path's builders (issue 19, "Write path and memory"): the keys themselves stay with the
// owner (a vector of values indexed by id), the table keeps each id with 32 bits of its key's hash
// (8 bytes a slot, one array, at most half full; more than 2^31 keys are not supported). Against
// `std::unordered_map<std::string_view, uint32_t>` (a heap node per key, a bucket array, the key's
// bytes hashed by std::hash) a flush's exact-value indexes took 40 % fewer samples finding the
// trace and user ids of a segment (docs/performance.md "Session 16: flush CPU and when slow acks
// come").
//
// Not thread-safe. Ids must be added in order (0, 1, 2, ...); keys equal by "same" must have
// equal hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sawmill::index {

class FlatIdTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // The id whose key has "hash" and for which same(id) holds, or kNone. A miss leaves where the
  // key would go for Insert (valid until the next Insert).
  template <typename Same>
  uint32_t Find(uint64_t hash, Same&& same) {
    if (slots_.empty()) Grow(kMinSlots);
    const size_t mask = slots_.size() - 1;
    const uint32_t tag = static_cast<uint32_t>(hash);
    size_t at = tag & mask;
    for (;;) {
      const Slot& s = slots_[at];
      if (s.id_plus_one == 0) break;
      if (s.tag == tag && same(s.id_plus_one - 1)) return s.id_plus_one - 1;
      at = (at + 1) & mask;
    }
    miss_ = at;
    return kNone;
  }

  // Adds "id" (the next id: size() before the call) under "hash", right after a Find of that
  // hash that missed.
  void Insert(uint64_t hash, uint32_t id) {
    slots_[miss_] = Slot{static_cast<uint32_t>(hash), id + 1};
    ++size_;
    if (size_ * 2 > slots_.size()) Grow(slots_.size() * 2);
  }

  size_t size() const { return size_; }
  // Bytes the table holds.
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr size_t kMinSlots = 16;
  struct Slot {
    uint32_t tag = 0;          // the hash's low 32 bits: where the slot's id goes, and a filter
    uint32_t id_plus_one = 0;  // 0: empty
  };

  void Grow(size_t slots) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(slots, Slot{});
    const size_t mask = slots - 1;
    for (const Slot& o : old) {
      if (o.id_plus_one == 0) continue;
      size_t at = o.tag & mask;
      while (slots_[at].id_plus_one != 0) at = (at + 1) & mask;
      slots_[at] = o;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t miss_ = 0;
};

}  // namespace sawmill::index
