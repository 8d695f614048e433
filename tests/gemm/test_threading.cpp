// The persistent thread pool under the GEMM, and the GEMM's results across thread counts,
// executors, nested and concurrent calls.
#include <mpq/detail/thread_pool.hpp>
#include <mpq/gemm.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace mpq;

std::vector<float> random_values(std::size_t n, std::uint32_t seed) {
    std::mt19937 engine(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(engine);
    return v;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

/// C = A W^T for M x K random A with the given options.
std::vector<float> product(const mixed_matrix& w, std::size_t m, const gemm_options& options, std::uint32_t seed = 5) {
    const std::vector<float> a = random_values(m * w.cols(), seed);
    std::vector<float> c(m * w.rows(), -1.0f);
    gemm(m, a, w.cols(), w, c, w.rows(), options);
    return c;
}

/// A block-wise map with every kind of tile the kernels dispatch on (4-bit integer, 4-bit
/// float, 8-bit, BF16), ragged in both directions.
mixed_matrix mixed_weights(std::size_t n, std::size_t k) {
    const precision_map map =
        precision_map::random_blockwise(n, k, 8, 64, weight_format::mxint4, weight_format::bf16, 0.7, 11);
    return mixed_matrix::quantize(random_values(n * k, 3), map);
}

} // namespace

TEST_CASE("thread pool: every part runs exactly once, for any thread count, call after call", "[gemm][threads]") {
    detail::thread_pool pool;
    for (std::size_t threads : {1, 2, 3, 8}) {
        for (std::size_t parts : {1, 2, 7, 64}) {
            for (int call = 0; call < 50; ++call) {
                std::vector<std::atomic<int>> runs(parts);
                pool.run(threads, parts, [&](std::size_t i) { runs[i].fetch_add(1, std::memory_order_relaxed); });
                for (std::size_t i = 0; i < parts; ++i) REQUIRE(runs[i].load() == 1);
            }
        }
    }
    // Workers are started once and kept: 8 threads need 7 workers, however many calls ran.
    CHECK(pool.worker_count() == 7);
    pool.run(2, 0, [](std::size_t) { FAIL("no part to run"); });
}

TEST_CASE("thread pool: parts run on more than one thread", "[gemm][threads]") {
    detail::thread_pool pool;
    // Each part waits (bounded) until another thread has taken a part too, so with 2 threads
    // the call finishes quickly only if a worker really runs parts beside the caller.
    std::atomic<int> started{0};
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    pool.run(2, 2, [&](std::size_t) {
        started.fetch_add(1);
        for (int wait = 0; wait < 2000 && started.load() < 2; ++wait)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const std::lock_guard lock(ids_mutex);
        ids.insert(std::this_thread::get_id());
    });
    CHECK(ids.size() == 2);
}

TEST_CASE("thread pool: an exception in a part reaches the caller, and the pool stays usable", "[gemm][threads]") {
    detail::thread_pool pool;
    for (std::size_t threads : {2, 3}) {
        for (std::size_t bad : {0, 5, 15}) { // a part the caller, or a worker, may run
            std::atomic<int> ran{0};
            try {
                pool.run(threads, 16, [&](std::size_t i) {
                    ran.fetch_add(1);
                    if (i == bad) throw std::runtime_error("part " + std::to_string(i));
                });
                FAIL("no exception");
            } catch (const std::runtime_error& e) {
                CHECK(std::string(e.what()) == "part " + std::to_string(bad));
            }
            CHECK(ran.load() >= 1);
            CHECK(ran.load() <= 16);
        }
        std::atomic<int> ran{0};
        pool.run(threads, 16, [&](std::size_t) { ran.fetch_add(1); });
        CHECK(ran.load() == 16);
    }
}

TEST_CASE("thread pool: a call from inside a part runs inline, without deadlock", "[gemm][threads]") {
    detail::thread_pool pool;
    std::vector<std::atomic<int>> runs(8 * 8);
    pool.run(2, 8, [&](std::size_t outer) {
        pool.run(2, 8, [&](std::size_t inner) { runs[outer * 8 + inner].fetch_add(1); });
    });
    for (auto& r : runs) REQUIRE(r.load() == 1);
}

TEST_CASE("thread pool: pools are created and destroyed cleanly, idle or used", "[gemm][threads]") {
    for (int i = 0; i < 20; ++i) {
        detail::thread_pool pool;
        if (i % 2 == 0) {
            std::atomic<int> ran{0};
            pool.run(3, 6, [&](std::size_t) { ran.fetch_add(1); });
            REQUIRE(ran.load() == 6);
        }
    }
}

TEST_CASE("gemm: threads 1, 2, 3, 8 give bit-identical C on every path", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(100, 200);
    const mixed_matrix uniform = mixed_matrix::quantize(random_values(100 * 200, 4), 100, 200, weight_format::mxint4);
    // M = 1 (GEMV), 5 and 20 (small-M path, split over N or over M), 150 (packed panels).
    for (const mixed_matrix* weights : {&w, &uniform}) {
        for (std::size_t m : {1, 5, 20, 150}) {
            for (activation_format act : {activation_format::f32, activation_format::mxint8}) {
                gemm_options options;
                options.activations = act;
                const std::vector<float> one = product(*weights, m, options);
                for (std::size_t threads : {2, 3, 8}) {
                    INFO("M " << m << " " << to_string(act) << " threads " << threads);
                    options.threads = threads;
                    CHECK(same_bits(product(*weights, m, options), one));
                }
            }
        }
    }
}

TEST_CASE("gemm: many small multi-threaded calls in a row", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(64, 256);
    gemm_options options;
    const std::vector<float> expected = product(w, 1, options, 9);
    options.threads = 2;
    const std::vector<float> x = random_values(256, 9);
    std::vector<float> y(64);
    for (int call = 0; call < 500; ++call) {
        matvec(w, x, y, options);
        REQUIRE(same_bits(y, expected));
    }
}

TEST_CASE("gemm: concurrent multi-threaded calls from two threads", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(96, 256);
    const std::vector<float> expected1 = product(w, 3, {}, 21), expected2 = product(w, 1, {}, 22);
    std::atomic<int> mismatches{0};
    auto caller = [&](std::size_t m, std::uint32_t seed, const std::vector<float>& expected) {
        gemm_options options;
        options.threads = 2;
        for (int call = 0; call < 100; ++call)
            if (!same_bits(product(w, m, options, seed), expected)) mismatches.fetch_add(1);
    };
    std::thread first(caller, 3, 21, std::cref(expected1));
    std::thread second(caller, 1, 22, std::cref(expected2));
    first.join();
    second.join();
    CHECK(mismatches.load() == 0);
}

TEST_CASE("gemm: a call from inside a pool worker gives the same result", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(80, 128);
    gemm_options options;
    options.threads = 2;
    const std::vector<float> expected = product(w, 2, {}, 31);
    std::vector<std::vector<float>> results(4);
    detail::thread_pool* pool = detail::shared_thread_pool();
    REQUIRE(pool != nullptr);
    pool->run(2, 4, [&](std::size_t i) { results[i] = product(w, 2, options, 31); });
    for (const auto& r : results) CHECK(same_bits(r, expected));
}

TEST_CASE("gemm: a caller's executor runs the parts, with the same result", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(100, 200);
    for (std::size_t m : {1, 20, 150}) {
        const std::vector<float> expected = product(w, m, {});
        std::atomic<int> calls{0};
        std::atomic<std::size_t> parts_run{0};
        gemm_options options;
        options.threads = 3;
        // A deliberately odd executor: runs the parts in reverse order on a new thread.
        options.executor = [&](std::size_t count, const std::function<void(std::size_t)>& task) {
            calls.fetch_add(1);
            std::exception_ptr error;
            std::thread runner([&] {
                try {
                    for (std::size_t i = count; i-- > 0;) {
                        task(i);
                        parts_run.fetch_add(1);
                    }
                } catch (...) {
                    error = std::current_exception();
                }
            });
            runner.join();
            if (error) std::rethrow_exception(error);
        };
        INFO("M " << m);
        CHECK(same_bits(product(w, m, options), expected));
        CHECK(calls.load() == 1);
        CHECK(parts_run.load() >= 2);
        // One thread: the call runs where it is made; the executor is not used.
        options.threads = 1;
        CHECK(same_bits(product(w, m, options), expected));
        CHECK(calls.load() == 1);
    }
}

TEST_CASE("gemm: an exception thrown by the executor reaches the caller", "[gemm][threads]") {
    const mixed_matrix w = mixed_weights(64, 64);
    gemm_options options;
    options.threads = 2;
    options.executor = [](std::size_t, const std::function<void(std::size_t)>&) {
        throw std::runtime_error("executor refused");
    };
    CHECK_THROWS_WITH(product(w, 1, options), "executor refused");
}
