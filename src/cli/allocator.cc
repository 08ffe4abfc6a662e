// Settings of jemalloc, the sawmill binary's allocator (linked only when CMake found it; see
// docs/operations.md "Memory"). jemalloc reads this symbol at start-up; MALLOC_CONF in the
// environment still overrides it.
//
// background_thread: a jemalloc thread purges unused pages on time instead of waiting for the
// next allocation in the same arena, so memory goes back to the kernel after a burst even when
// the server is idle. dirty_decay_ms / muzzy_decay_ms: unused pages are given back after about
// a second (default 10 s): the probe measured the same peak and a lower after-burst RSS.
// percpu_arena: one arena per CPU instead of four per CPU, each thread allocating from the arena
// of the CPU it runs on: the pages one arena freed are reused by the next request on that CPU
// instead of sitting dirty in another (peak RSS after ingesting 1,000,000 corpus lines 182 ->
// 142 MiB, same CPU; docs/performance.md "Where the peak RSS comes from").
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000,percpu_arena:percpu";
}
