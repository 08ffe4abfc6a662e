// Names and CPU priorities of the calling thread (Linux; elsewhere the calls do nothing).
//
// A name shows in /proc/PID/task/TID/comm, `top -H`, `perf` and bench/ack_bench.sh's per-thread
// schedstat lines, so that the CPU a thread ran and waited for can be told apart by what it does.
//
// A nice value is per thread on Linux (setpriority(PRIO_PROCESS, tid, ...)); a thread may raise
// its own (lower its priority) without privileges, but not lower it again. The storage engine's
// background work that no acknowledgement waits for (compaction, the tier mover) runs at a higher
// nice than the flush thread and the request threads, so that on a busy machine the scheduler
// gives the flush (which frees the memtables acknowledgements wait for) the CPU first
// (docs/storage.md "Backpressure").
#pragma once

#include <string_view>

#include "sawmill/status.h"

namespace sawmill {

// Names the calling thread; a name longer than 15 bytes is cut (the kernel's limit).
void NameThisThread(std::string_view name);

// The calling thread's name as the kernel keeps it ("" where unknown).
std::string NameOfThisThread();

// Sets the calling thread's nice value to "nice" (-20..19) if that is not lower than its
// current one; a lower value is left as it is (raising a priority needs privileges). OK when
// done or nothing to do; an IOError naming the errno when the kernel refused.
Status NiceThisThread(int nice);

// The calling thread's nice value (0 where unknown).
int NiceOfThisThread();

// NiceThisThread for a background thread that does "what" (for the log): a refusal is logged as
// a warning and the thread goes on at the priority it has. Only on a thread of its own (never a
// request or pool thread): an unprivileged process cannot lower a nice value again.
void NiceBackgroundThread(int nice, std::string_view what);

}  // namespace sawmill
