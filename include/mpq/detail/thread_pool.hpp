// A persistent fork-join pool: worker threads are started once (lazily, on the first call that
// needs them) and reused, so a parallel call costs a wake-up of a few microseconds instead of
// starting threads. A decode step makes dozens of GEMV calls of a fraction of a millisecond
// each, where starting std::threads per call (tens of microseconds) ate most of the gain.
//
// One call uses the pool at a time. The caller publishes the call (function, part count,
// participant count) and bumps a 32-bit generation word whose low 8 bits carry the number of
// participating workers, so a worker reads "which call" and "am I in it" in one atomic load.
// Parts are handed out by an atomic counter; the caller takes parts too. A worker must join
// the call (one compare-and-swap on a word holding the call's generation, a "closed" bit and
// the count of joined workers) before it touches the call's state; once the caller has run out
// of parts it closes the call and waits only for the workers that joined. So a worker that is
// slow to wake (the core busy with another process) never holds the call up: the caller does
// its parts instead. Idle workers spin briefly (back-to-back calls find them awake), then
// sleep in std::atomic::wait (a futex on Linux).
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

#include <mpq/detail/x86_intrinsics.hpp>

namespace mpq::detail {

/// A hint to the core that the thread is spinning (lets the sibling hyper-thread run).
inline void spin_pause() {
#if MPQ_HAVE_X86_INTRINSICS
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
        error_ = nullptr;
        failed_.store(false, std::memory_order_relaxed);
        // Publish: the new generation carries the participant count in its low bits.
        const std::uint32_t old = generation_.load(std::memory_order_relaxed);
        const std::uint32_t generation =
            ((old & ~participant_mask) + generation_step) | static_cast<std::uint32_t>(workers);
        join_.store(std::uint64_t{generation} << 32, std::memory_order_release); // open, nobody joined
        // seq_cst on both sides (here, and a worker's sleepers_ increment then re-load) so a
        // worker about to sleep either sees the new generation or is counted and notified.
        generation_.store(generation, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) != 0) generation_.notify_all();
        take_parts();
        // Every part is taken: close the call to late workers, wait for those that joined.
        std::uint64_t state = join_.fetch_or(closed_bit, std::memory_order_acq_rel) | closed_bit;
        for (int spin = 0; (state & joined_mask) != 0; ++spin) {
            if (spin < caller_spins) spin_pause();
            else join_.wait(state, std::memory_order_acquire);
            state = join_.load(std::memory_order_acquire);
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
    /// join_: the call's generation word in the high 32 bits, closed_bit, joined workers below.
    static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 31;
    static constexpr std::uint64_t joined_mask = closed_bit - 1;
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

    /// Joins call `generation` if it is still open; false if it is closed or already replaced.
    bool join(std::uint32_t generation) {
        std::uint64_t state = join_.load(std::memory_order_acquire);
        while ((state >> 32) == generation && (state & closed_bit) == 0)
            if (join_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                return true;
        return false;
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
            took_part = index < (now & participant_mask);
            if (!took_part || !join(now)) continue;
            take_parts();
            const std::uint64_t left = join_.fetch_sub(1, std::memory_order_acq_rel) - 1;
            if ((left & closed_bit) != 0 && (left & joined_mask) == 0) join_.notify_all();
        }
    }

    std::atomic<std::uint32_t> generation_{0};
    std::atomic<std::uint32_t> sleepers_{0};
    std::atomic<std::uint64_t> join_{0};
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
