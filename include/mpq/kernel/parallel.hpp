// How the kernels spread a large tensor over threads. Work is cut into pieces that write
// disjoint bytes (whole rows, or runs of whole blocks starting on a byte boundary), so the
// result never depends on the thread count or on the order the pieces run in.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace mpq::kernel {

/// Runs task(0) .. task(count - 1), each exactly once, in any order and on any threads, and
/// returns when all have finished. It must propagate an exception thrown by a task.
using executor = std::function<void(std::size_t count, const std::function<void(std::size_t)>& task)>;

/// Parallelism of one kernel call. Default: the calling thread only.
struct parallel_options {
    /// Threads to use when no executor is given (0 or 1: the calling thread only). The
    /// kernels start them per call, so this pays off for tensors of a few MiB and more.
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
    if (workers == 1) {
        chunk(0);
        return;
    }
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(workers);
    threads.reserve(workers - 1);
    for (std::size_t w = 1; w < workers; ++w) {
        threads.emplace_back([&, w] {
            try {
                chunk(w);
            } catch (...) {
                errors[w] = std::current_exception();
            }
        });
    }
    try {
        chunk(0);
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

} // namespace detail

} // namespace mpq::kernel
