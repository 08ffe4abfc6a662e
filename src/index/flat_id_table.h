// An open-addressing table from keys to the ids 0, 1, 2, ... their owner gave them, for the
// write path's builders (issue 19, "Write path and memory"): the keys themselves stay with the
// owner (a vector of values indexed by id), the table keeps each id with 32 bits of its key's hash
// (8 bytes a slot, one array, at most half full; more than 2^31 keys are not supported). Against
// `std::unordered_map<std::string_view, uint32_t>` (a heap node per key, a bucket array, the key's
// bytes hashed by std::hash) a flush's exact-value indexes took 40 % fewer samples finding the
// trace and user ids of a segment (docs/performance.md "Session 16: flush CPU and when slow acks
// come").
//
// The hashes given are the format's (BloomHash: a fixed, public seed), so values crafted to share
// a slot would make every Find walk one long run, a flush quadratic in them. A slot is therefore
// chosen from the hash mixed with a seed drawn once per process (SlotSeed). Only where an id sits
// depends on it: the owner writes its keys in its own order (by id or sorted), never the table's,
// so the bytes written do not (FlatIdTable.TheSlotsDependOnTheSeedTheWrittenBytesDoNot).
//
// Values of one full 64-bit hash get one tag whatever the seed: a Find compares the bytes of each
// of them it meets. To bound that, a Find gives up after kMaxSameTagProbes keys of its tag that
// were not its key and answers kCrowded; the owner then keeps its keys elsewhere from then on (the
// inverted index builder: an ordered map of the values, compared by bytes; inverted_index.h).
//
// Not thread-safe. Ids must be added in order (0, 1, 2, ...); keys equal by "same" must have
// equal hashes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace sawmill::index {

class FlatIdTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // Find's answer when it met more than kMaxSameTagProbes other keys of its key's tag: the key
  // may or may not be in the table, and must not be inserted.
  static constexpr uint32_t kCrowded = UINT32_MAX - 1;
  // Real keys share a 32-bit tag rarely (two in a table of 2^16 keys about every 2^17 Finds);
  // this many is a crafted run.
  static constexpr int kMaxSameTagProbes = 16;

  // The seed tables made from now on mix into their slots: random, drawn once per process.
  // Tests may set another to compare two.
  static std::atomic<uint64_t>& SlotSeed() {
    static std::atomic<uint64_t> seed{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                      std::random_device{}()};
    return seed;
  }

  FlatIdTable() : seed_(SlotSeed().load(std::memory_order_relaxed)) {}

  // The slot "hash" would be looked for first in a table of "slots" slots (a power of two).
  size_t HomeSlot(uint64_t hash, size_t slots) const { return Tag(hash) & (slots - 1); }

  // The id whose key has "hash" and for which same(id) holds, or kNone; kCrowded after
  // kMaxSameTagProbes calls of "same" that said no (same() is called at most
  // kMaxSameTagProbes + 1 times). A miss (kNone) leaves where the key would go for Insert (valid
  // until the next Insert).
  template <typename Same>
  uint32_t Find(uint64_t hash, Same&& same) {
    if (slots_.empty()) Grow(kMinSlots);
    const size_t mask = slots_.size() - 1;
    const uint32_t tag = Tag(hash);
    size_t at = tag & mask;
    int others = 0;
    for (;;) {
      const Slot& s = slots_[at];
      if (s.id_plus_one == 0) break;
      if (s.tag == tag) {
        if (same(s.id_plus_one - 1)) return s.id_plus_one - 1;
        if (++others > kMaxSameTagProbes) return kCrowded;
      }
      at = (at + 1) & mask;
    }
    miss_ = at;
    return kNone;
  }

  // Adds "id" (the next id: size() before the call) under "hash", right after a Find of that
  // hash that missed.
  void Insert(uint64_t hash, uint32_t id) {
    slots_[miss_] = Slot{Tag(hash), id + 1};
    ++size_;
    if (size_ * 2 > slots_.size()) Grow(slots_.size() * 2);
  }

  size_t size() const { return size_; }
  // Bytes the table holds.
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }
  // Empties the table and lets its memory go (an owner that keeps its keys elsewhere now).
  void Release() {
    slots_ = std::vector<Slot>();
    size_ = 0;
    miss_ = 0;
  }

 private:
  static constexpr size_t kMinSlots = 16;
  struct Slot {
    uint32_t tag = 0;          // Tag(hash): where the slot's id goes, and a filter
    uint32_t id_plus_one = 0;  // 0: empty
  };

  // 32 bits of "hash" mixed with the seed (the finaliser of MurmurHash3's 64-bit hash): every
  // bit of the hash and of the seed moves about half of them.
  uint32_t Tag(uint64_t hash) const {
    uint64_t x = hash ^ seed_;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return static_cast<uint32_t>(x);
  }

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

  uint64_t seed_;
  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t miss_ = 0;
};

}  // namespace sawmill::index
