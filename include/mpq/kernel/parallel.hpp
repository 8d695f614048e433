// How the kernels spread a large tensor over threads. Work is cut into pieces that write
// disjoint bytes (whole rows, or runs of whole blocks starting on a byte boundary), so the
// result never depends on the thread count or on the order the pieces run in.
#pragma once

#include <mpq/detail/thread_pool.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>

namespace mpq::kernel {

/// Runs task(0) .. task(count - 1), each exactly once, in any order and on any threads, and
/// returns when all have finished. It must propagate an exception thrown by a task.
using executor = std::function<void(std::size_t count, const std::function<void(std::size_t)>& task)>;

/// Parallelism of one kernel call. Default: the calling thread only.
struct parallel_options {
    /// Threads to use when no executor is given (0 or 1: the calling thread only), taken from
    /// the library's persistent pool (mpq/detail/thread_pool.hpp), the calling thread
    /// included. A call made while another thread uses the pool runs on its own thread.
    unsigned threads = 1;
    /// A caller-supplied executor (a thread pool); takes precedence over `threads`.
    executor run;
};

namespace detail {

/// Runs piece(0) .. piece(count - 1) under `parallel`, in contiguous chunks per worker.
template <class Piece>
void run_pieces(std::size_t count, const parallel_options& parallel, Piece piece) {
    if (count == 0) return;
    const std::size_t workers = parallel.run ? std::min<std::size_t>(count, 64)
                                             : std::min<std::size_t>(count, std::max(1U, parallel.threads));
    auto chunk = [&](std::size_t w) {
        const std::size_t begin = count * w / workers, end = count * (w + 1) / workers;
        for (std::size_t i = begin; i < end; ++i) piece(i);
    };
    if (parallel.run) {
        parallel.run(workers, chunk);
        return;
    }
    // The process-wide persistent pool (nullptr only during program exit, after its teardown).
    if (mpq::detail::thread_pool* pool = workers > 1 ? mpq::detail::shared_thread_pool() : nullptr) {
        pool->run(workers, workers, chunk);
        return;
    }
    for (std::size_t w = 0; w < workers; ++w) chunk(w);
}

} // namespace detail

} // namespace mpq::kernel
