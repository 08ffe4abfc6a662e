// Settings of jemalloc, the sawmill binary's allocator (linked only when CMake found it; see
// docs/operations.md "Memory"). jemalloc reads this symbol at start-up; MALLOC_CONF in the
// environment still overrides it.
//
// background_thread: a jemalloc thread purges unused pages on time instead of waiting for the
// next allocation in the same arena, so memory goes back to the kernel after a burst even when
// the server is idle. dirty_decay_ms / muzzy_decay_ms: unused pages are given back after about
// a second (default 10 s): the probe measured the same peak and a lower after-burst RSS.
// narenas:1: one arena for every thread. Pages freed by one thread (a request's body and
// records, a packed chunk's raw rows, a flush's block buffers) are reused by the next
// allocation of any thread instead of sitting dirty in the arena of another CPU or thread until
// the decay returns them. Four arenas per CPU (jemalloc's default) and then one per CPU
// (percpu_arena, session 10) each left more of that memory dirty: peak RSS after ingesting
// 1,000,000 corpus lines 182 (four per CPU) -> 142 (one per CPU) -> about 8 MiB less again
// with one arena, 10,000,000 lines about 15 MiB less, the same CPU (docs/performance.md "Where
// the peak RSS comes from").
// Thread caches stay on (jemalloc's default). tcache:false (no per-thread caches, so a freed
// small object goes back to its slab at once) gave 5 MiB less at 1,000,000 lines and about
// 7 MiB at 10,000,000 for 3-5 % more ingest CPU, but 11-16 % more server CPU for a search that
// builds records (`service=users level=ERROR`, newest 100, on 10,000,000 lines: 15.5-16.25 ->
// 14.0 ms a search with bench/search_cpu.py): taken off at the merge, session 12
// (docs/performance.md "Peak RSS at 10,000,000 lines").
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000,narenas:1";
}
