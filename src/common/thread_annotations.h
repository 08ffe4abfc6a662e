// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
// With clang and -Wthread-safety (the `make lint` build, build-lint/), the compiler checks that
// every read or write of a GUARDED_BY member happens with its mutex held, that a REQUIRES function
// is only called with the mutex held and an EXCLUDES one only without it. With GCC (the normal
// build) the macros expand to nothing. The annotated mutex and locks are in common/mutex.h: the
// standard library's std::mutex and std::lock_guard carry no annotations in libstdc++.
//
// Usage:
//   Mutex mu_;
//   uint64_t count_ GUARDED_BY(mu_) = 0;
//   void BumpLocked() REQUIRES(mu_);
//   void Bump() EXCLUDES(mu_) { MutexLock l(&mu_); BumpLocked(); }
#pragma once

#if defined(__clang__)
#define SAWMILL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SAWMILL_THREAD_ANNOTATION(x)
#endif

// A class that is a lock (a mutex); "x" names the kind in diagnostics.
#define CAPABILITY(x) SAWMILL_THREAD_ANNOTATION(capability(x))
// An RAII class that holds a capability from construction to destruction.
#define SCOPED_CAPABILITY SAWMILL_THREAD_ANNOTATION(scoped_lockable)

// A member that may be read or written only while "x" is held.
#define GUARDED_BY(x) SAWMILL_THREAD_ANNOTATION(guarded_by(x))
// A pointer (or smart pointer) member whose pointee may be used only while "x" is held.
#define PT_GUARDED_BY(x) SAWMILL_THREAD_ANNOTATION(pt_guarded_by(x))

// Lock ordering: this mutex is always taken after / before the named ones.
#define ACQUIRED_AFTER(...) SAWMILL_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) SAWMILL_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))

// The caller must hold the capabilities (exclusively / shared) when calling the function.
#define REQUIRES(...) SAWMILL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SAWMILL_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))

// The function takes / gives back the capabilities (no argument: the object itself).
#define ACQUIRE(...) SAWMILL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SAWMILL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SAWMILL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// The caller must not hold the capabilities (the function takes them itself).
#define EXCLUDES(...) SAWMILL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function checks at run time that the capability is held; the analysis assumes it is after.
#define ASSERT_CAPABILITY(x) SAWMILL_THREAD_ANNOTATION(assert_capability(x))

// The function returns a reference to the capability "x".
#define RETURN_CAPABILITY(x) SAWMILL_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function. Say in a comment why it is safe.
#define NO_THREAD_SAFETY_ANALYSIS SAWMILL_THREAD_ANNOTATION(no_thread_safety_analysis)
