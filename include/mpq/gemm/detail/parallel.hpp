// Fork-join over a fixed number of parts on std::threads (the caller's thread included).
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace mpq::detail {

/// Runs fn(i) for i in [0, parts) on up to `threads` threads; part i always runs whole on one
/// thread, so results never depend on the thread count when the parts do not.
template <class Fn>
void run_parallel(std::size_t threads, std::size_t parts, Fn fn) {
    threads = std::min(threads, parts);
    if (threads <= 1) {
        for (std::size_t i = 0; i < parts; ++i) fn(i);
        return;
    }
    std::vector<std::thread> workers;
    workers.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t)
        workers.emplace_back([&fn, t, threads, parts] {
            for (std::size_t i = t; i < parts; i += threads) fn(i);
        });
    for (std::size_t i = 0; i < parts; i += threads) fn(i);
    for (auto& worker : workers) worker.join();
}

} // namespace mpq::detail
