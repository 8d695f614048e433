// How a gemm call spreads its parts over threads: the process-wide persistent pool
// (mpq/detail/thread_pool.hpp), or a caller-supplied executor. Parts are whole column strips
// or row groups whose results do not depend on which thread runs them, so the result never
// depends on the thread count or the executor.
#pragma once

#include <mpq/detail/thread_pool.hpp>
#include <mpq/kernel/parallel.hpp>

#include <cstddef>
#include <functional>

namespace mpq::detail {

/// Runs fn(i) for i in [0, parts) on up to `threads` threads of the shared pool (the caller's
/// included); part i always runs whole on one thread. A call from inside a part, or while
/// another thread is using the pool, runs its parts on the calling thread. Exceptions from a
/// part propagate to the caller.
template <class Fn>
void run_parallel(std::size_t threads, std::size_t parts, Fn&& fn) {
    thread_pool* pool = threads > 1 && parts > 1 ? shared_thread_pool() : nullptr;
    if (pool == nullptr) {
        for (std::size_t i = 0; i < parts; ++i) fn(i);
        return;
    }
    pool->run(threads, parts, fn);
}

/// The parallelism of one gemm call: a thread count (the split is made for it) and, when
/// given, the caller's executor that runs the parts instead of the shared pool.
struct gemm_parallelism {
    std::size_t threads = 1;
    const kernel::executor* executor = nullptr;

    template <class Fn>
    void run(std::size_t parts, Fn&& fn) const {
        if (parts == 0) return;
        if (executor != nullptr && *executor && parts > 1) {
            (*executor)(parts, std::function<void(std::size_t)>(std::ref(fn)));
            return;
        }
        run_parallel(threads, parts, fn);
    }
};

} // namespace mpq::detail
