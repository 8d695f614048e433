// A persistent fork-join pool: worker threads are started once (lazily, on the first call that
// needs them) and reused, so a parallel call costs a wake-up of a few microseconds instead of
// starting threads. A decode step makes dozens of GEMV calls of a fraction of a millisecond
// each, where starting std::threads per call (tens of microseconds) ate most of the gain.
//
// One call uses the pool at a time. The caller publishes the call (function, part count,
// participant count) and bumps a 32-bit generation word whose low 8 bits carry the number of
// participating workers, so a worker reads "which call" and "am I in it" in one atomic load.
// Parts are handed out by an atomic counter; the caller takes parts too, then waits until every
// participating worker has checked out, so no worker touches the call's state after it returns.
// Idle workers spin briefly (back-to-back calls find them awake), then sleep in
// std::atomic::wait (a futex on Linux).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace mpq::detail {

/// A hint to the core that the thread is spinning (lets the sibling hyper-thread run).
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

class thread_pool {
public:
    /// The most threads one call uses: the caller and 255 workers (the worker count travels in
    /// 8 bits of the generation word).
    static constexpr std::size_t max_threads = 256;

    thread_pool() = default;
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Stops and joins the workers. Must not run while a call is in progress.
    ~thread_pool() {
        stopping_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(generation_step, std::memory_order_release);
        generation_.notify_all();
        for (auto& worker : workers_) worker.join();
    }

    /// Runs part(0) .. part(parts - 1), each exactly once, on the calling thread and up to
    /// threads - 1 pool workers (started on first need, then kept), and returns when all have
    /// finished. Which thread runs a part is unspecified, so callers must make parts
    /// independent of it. If a part throws, the parts not yet started are skipped and the
    /// first exception is rethrown here once every started part has finished.
    /// If the pool is already running a call (a call made from inside a part, or from another
    /// thread at the same time), every part runs on the calling thread instead: never a
    /// deadlock, and the same parts. threads is capped at max_threads; if the system refuses to
    /// start a worker, the call proceeds with the workers it has.
    template <class Part>
    void run(std::size_t threads, std::size_t parts, Part&& part) {
        threads = std::min({threads, parts, max_threads});
        bool idle = false;
        if (threads <= 1 || !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
            for (std::size_t i = 0; i < parts; ++i) part(i);
            return;
        }
        const release_on_exit release{busy_};
        const std::size_t workers = start_workers(threads - 1);
        if (workers == 0) {
            for (std::size_t i = 0; i < parts; ++i) part(i);
            return;
        }
        using part_type = std::remove_reference_t<Part>;
        invoke_ = [](void* context, std::size_t i) { (*static_cast<part_type*>(context))(i); };
        context_ = const_cast<void*>(static_cast<const void*>(std::addressof(part)));
        parts_ = parts;
        next_.store(0, std::memory_order_relaxed);
        checked_out_.store(0, std::memory_order_relaxed);
        error_ = nullptr;
        failed_.store(false, std::memory_order_relaxed);
        // Publish: the new generation carries the participant count in its low bits.
        const std::uint32_t old = generation_.load(std::memory_order_relaxed);
        // seq_cst on both sides (here, and a worker's sleepers_ increment then re-load) so a
        // worker about to sleep either sees the new generation or is counted and notified.
        generation_.store(((old & ~participant_mask) + generation_step) | static_cast<std::uint32_t>(workers),
                          std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) != 0) generation_.notify_all();
        take_parts();
        // Wait for every participant to check out (each has run its parts, or found none left).
        const auto expected = static_cast<std::uint32_t>(workers);
        for (int spin = 0; checked_out_.load(std::memory_order_acquire) != expected; ++spin) {
            if (spin < caller_spins) {
                spin_pause();
                continue;
            }
            const std::uint32_t seen = checked_out_.load(std::memory_order_acquire);
            if (seen != expected) checked_out_.wait(seen, std::memory_order_acquire);
        }
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    /// Workers started so far.
    std::size_t worker_count() const {
        const std::lock_guard lock(start_mutex_);
        return workers_.size();
    }

private:
    static constexpr std::uint32_t participant_mask = 0xff;
    static constexpr std::uint32_t generation_step = 0x100;
    /// Pauses a worker spins after a call before it sleeps (tens of microseconds), and the
    /// caller before it sleeps waiting for workers to finish.
    static constexpr int worker_spins = 4000;
    static constexpr int caller_spins = 4000;

    struct release_on_exit {
        std::atomic<bool>& flag;
        ~release_on_exit() { flag.store(false, std::memory_order_release); }
    };

    /// Starts workers until there are `wanted` (or the system refuses); returns how many exist.
    std::size_t start_workers(std::size_t wanted) {
        const std::lock_guard lock(start_mutex_);
        while (workers_.size() < wanted) {
            try {
                // The generation before this call is published: the worker takes part in it.
                workers_.emplace_back([this, index = workers_.size(),
                                       seen = generation_.load(std::memory_order_relaxed)] { worker_loop(index, seen); });
            } catch (const std::system_error&) {
                break;
            }
        }
        return std::min(wanted, workers_.size());
    }

    /// Runs parts from the shared counter until none are left.
    void take_parts() {
        for (;;) {
            const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
            if (i >= parts_) return;
            try {
                invoke_(context_, i);
            } catch (...) {
                bool first = false;
                if (failed_.compare_exchange_strong(first, true, std::memory_order_acq_rel)) {
                    error_ = std::current_exception();
                    next_.store(parts_, std::memory_order_relaxed); // skip the parts not started
                }
            }
        }
    }

    void worker_loop(std::size_t index, std::uint32_t seen) {
        // Only a worker that took part in the last call spins (calls come back to back); the
        // others, when a call uses fewer threads than the pool has, go straight back to sleep.
        bool took_part = true;
        for (;;) {
            std::uint32_t now = generation_.load(std::memory_order_acquire);
            for (int spin = 0; took_part && now == seen && spin < worker_spins; ++spin) {
                spin_pause();
                now = generation_.load(std::memory_order_acquire);
            }
            if (now == seen) {
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                now = generation_.load(std::memory_order_seq_cst);
                if (now == seen) {
                    generation_.wait(seen, std::memory_order_acquire);
                    now = generation_.load(std::memory_order_acquire);
                }
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
                if (now == seen) continue; // spurious wake-up
            }
            seen = now;
            if (stopping_.load(std::memory_order_relaxed)) return;
            // A worker cannot miss a call it takes part in: the caller waits for its check-out
            // before it can publish the next one.
            took_part = index < (now & participant_mask);
            if (!took_part) continue;
            take_parts();
            checked_out_.fetch_add(1, std::memory_order_acq_rel);
            checked_out_.notify_one();
        }
    }

    std::atomic<std::uint32_t> generation_{0};
    std::atomic<std::uint32_t> sleepers_{0};
    std::atomic<std::uint32_t> checked_out_{0};
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> busy_{false};
    std::atomic<bool> failed_{false};
    std::atomic<bool> stopping_{false};
    void (*invoke_)(void*, std::size_t) = nullptr;
    void* context_ = nullptr;
    std::size_t parts_ = 0;
    std::exception_ptr error_;
    mutable std::mutex start_mutex_;
    std::vector<std::thread> workers_;
};

/// Set once the shared pool has been destroyed at program exit (constant-initialized and
/// trivially destructible, so it stays readable by later static destructors).
inline constinit std::atomic<bool> shared_thread_pool_gone{false};

/// The process-wide pool the library's parallel calls share, or nullptr during program exit
/// after it has been destroyed (callers then run their parts on the calling thread).
inline thread_pool* shared_thread_pool() {
    if (shared_thread_pool_gone.load(std::memory_order_acquire)) return nullptr;
    struct owner {
        thread_pool pool;
        ~owner() { shared_thread_pool_gone.store(true, std::memory_order_release); }
    };
    static owner instance;
    return &instance.pool;
}

} // namespace mpq::detail
