// Mixed-precision GEMM benchmarks: C[M x N] = A[M x K] W^T.
//
// Arguments of every case: M, N, K, threads. items_per_second is 2 M N K per iteration
// (FLOP/s); bytes_per_second is the weight bytes read per iteration (packed codes and scales
// for mpq, 4 N K for float32 W). Small-M cases (M <= 8) cycle through enough copies of W
// (>= 128 MiB in all) that the weights come from DRAM, not the 32 MiB L3; BM_read_stream
// streams the same number of bytes as the 4-bit MX weights from a buffer of the same size.
//
// Cases: BM_gemm_<weights>_<activations> (weights mxint4, mxfp4, nvfp4, mxint8, bf16, fp32,
// mixed90 = block-wise MXINT4 / BF16 at Qr 0.9 in tiles of 16 rows x 128; activations f32 or
// mxint8), BM_sgemm_openblas, BM_sgemm_mpq (mpq's FP32 path), BM_dequant_sgemm (dequantize
// MXINT4 W to float, then cblas_sgemm), BM_read_stream (split over the threads by the same
// pool as gemm), BM_fork_join_pool / BM_fork_join_spawn (the cost of one parallel call).
#include <mpq/format/mx.hpp>
#include <mpq/format/operations.hpp>
#include <mpq/gemm.hpp>

#include <benchmark/benchmark.h>

#ifdef MPQ_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace mpq;

constexpr std::size_t dram_bytes = std::size_t{128} << 20; // 4 x the L3

std::vector<float> random_values(std::size_t n, std::uint32_t seed) {
    std::mt19937 engine(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(engine);
    return v;
}

const std::vector<float>& float_weights(std::size_t n, std::size_t k) {
    static std::map<std::pair<std::size_t, std::size_t>, std::vector<float>> cache;
    auto& w = cache[{n, k}];
    if (w.empty()) w = random_values(n * k, 1);
    return w;
}

precision_map map_for(const std::string& weights, std::size_t n, std::size_t k) {
    if (weights == "mixed90")
        return precision_map::random_blockwise(n, k, 16, 128, weight_format::mxint4, weight_format::bf16, 0.9, 42);
    if (weights == "mixed90k512") // the same at K-blocks of 512
        return precision_map::random_blockwise(n, k, 16, 512, weight_format::mxint4, weight_format::bf16, 0.9, 42);
    if (weights == "tiled100") // MXINT4 everywhere, but in the mixed90 tiling: the cost of tiling
        return precision_map::random_blockwise(n, k, 16, 128, weight_format::mxint4, weight_format::bf16, 1.0, 42);
    if (weights == "mixed90fp4")
        return precision_map::random_blockwise(n, k, 16, 128, weight_format::mxfp4, weight_format::bf16, 0.9, 42);
    return precision_map::uniform(n, k, parse_weight_format(weights));
}

/// Copies of one packed W: one for large M, enough for >= dram_bytes for small M.
const std::vector<mixed_matrix>& weight_copies(const std::string& weights, std::size_t n, std::size_t k,
                                               bool from_dram) {
    static std::map<std::tuple<std::string, std::size_t, std::size_t, bool>, std::vector<mixed_matrix>> cache;
    auto& copies = cache[{weights, n, k, from_dram}];
    if (copies.empty()) {
        copies.push_back(mixed_matrix::quantize(float_weights(n, k), map_for(weights, n, k)));
        const std::size_t count = from_dram ? (dram_bytes + copies[0].storage_bytes() - 1) / copies[0].storage_bytes() : 1;
        for (std::size_t i = 1; i < count; ++i) copies.push_back(copies[0]);
    }
    return copies;
}

struct shape {
    std::size_t m, n, k, threads;
    explicit shape(const benchmark::State& state)
        : m(static_cast<std::size_t>(state.range(0))), n(static_cast<std::size_t>(state.range(1))),
          k(static_cast<std::size_t>(state.range(2))), threads(static_cast<std::size_t>(state.range(3))) {}
    double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

void report(benchmark::State& state, const shape& s, double weight_bytes) {
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(s.flops()));
    state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<double>(state.iterations()) * weight_bytes));
}

void bm_gemm(benchmark::State& state, std::string weights, activation_format activations) {
    const shape s(state);
    const auto& copies = weight_copies(weights, s.n, s.k, s.m <= 8);
    const std::vector<float> a = random_values(s.m * s.k, 2);
    std::vector<float> c(s.m * s.n);
    gemm_options options;
    options.activations = activations;
    options.threads = s.threads;
    std::size_t next = 0;
    for (auto _ : state) {
        gemm(s.m, a, s.k, copies[next], c, s.n, options);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
        next = (next + 1) % copies.size();
    }
    state.counters["bits_per_weight"] = copies[0].map().bits_per_weight();
    report(state, s, static_cast<double>(copies[0].storage_bytes()));
}

#ifdef MPQ_BENCH_HAVE_OPENBLAS
void bm_sgemm_openblas(benchmark::State& state) {
    const shape s(state);
    const std::vector<float>& w = float_weights(s.n, s.k); // 64+ MiB: beyond the L3 already
    const std::vector<float> a = random_values(s.m * s.k, 2);
    std::vector<float> c(s.m * s.n);
    openblas_set_num_threads(static_cast<int>(s.threads));
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                    static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), w.data(), static_cast<int>(s.k),
                    0.0f, c.data(), static_cast<int>(s.n));
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    report(state, s, 4.0 * static_cast<double>(s.n * s.k));
}

void bm_dequant_sgemm(benchmark::State& state) {
    const shape s(state);
    const auto q = detail::quantize_whole(mxint4{}, float_weights(s.n, s.k), s.n, s.k, block_axis::rows, {});
    std::vector<float> w(s.n * s.k);
    const std::vector<float> a = random_values(s.m * s.k, 2);
    std::vector<float> c(s.m * s.n);
    openblas_set_num_threads(static_cast<int>(s.threads));
    for (auto _ : state) {
        dequantize(q, w); // mpq's fastest dequantize (the SIMD kernels)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                    static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), w.data(), static_cast<int>(s.k),
                    0.0f, c.data(), static_cast<int>(s.n));
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    report(state, s, static_cast<double>(q.codes().size() + q.scales().size()));
}
#endif

/// Sums the 8-byte words of [p, p + bytes) (bytes a multiple of 64), 64 bytes per step.
std::uint64_t read_range(const std::uint8_t* p, std::size_t bytes) {
#if defined(__AVX2__)
    __m256i acc = _mm256_setzero_si256();
    __m256i acc2 = _mm256_setzero_si256();
    for (std::size_t i = 0; i + 64 <= bytes; i += 64) {
        acc = _mm256_add_epi64(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        acc2 = _mm256_add_epi64(acc2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    }
    acc = _mm256_add_epi64(acc, acc2);
    alignas(32) std::uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, p + i, 8);
        sum += word;
    }
    return sum;
#endif
}

/// Streams the bytes of one MXINT4 W (N x K) per iteration, cycling through a >= 128 MiB
/// buffer: the read bandwidth the GEMV is measured against.
void bm_read_stream(benchmark::State& state) {
    const shape s(state);
    const std::size_t bytes = s.n * s.k / 2 + s.n * s.k / 32;
    const std::size_t copies = (dram_bytes + bytes - 1) / bytes;
    std::vector<std::uint8_t> buffer(copies * bytes, 1);
    std::size_t next = 0;
    std::vector<std::uint64_t> sums(s.threads);
    for (auto _ : state) {
        const std::uint8_t* base = buffer.data() + next * bytes;
        detail::run_parallel(s.threads, s.threads, [&](std::size_t t) {
            const std::size_t b0 = bytes * t / s.threads / 64 * 64, b1 = bytes * (t + 1) / s.threads / 64 * 64;
            sums[t] += read_range(base + b0, b1 - b0);
        });
        benchmark::DoNotOptimize(sums.data());
        next = (next + 1) % copies;
    }
    report(state, s, static_cast<double>(bytes));
}

/// Cost of one fork-join with trivial parts on `threads` threads (argument): through the
/// shared persistent pool gemm uses, and, as the baseline, by starting std::threads per call
/// (what gemm did before the pool).
void bm_fork_join_pool(benchmark::State& state) {
    const auto threads = static_cast<std::size_t>(state.range(0));
    std::vector<std::size_t> touched(threads * 16); // one cache line per part
    for (auto _ : state) {
        detail::run_parallel(threads, threads, [&](std::size_t t) { touched[t * 16] += 1; });
        benchmark::ClobberMemory();
    }
}

void bm_fork_join_spawn(benchmark::State& state) {
    const auto threads = static_cast<std::size_t>(state.range(0));
    std::vector<std::size_t> touched(threads * 16);
    for (auto _ : state) {
        std::vector<std::thread> workers;
        for (std::size_t t = 1; t < threads; ++t) workers.emplace_back([&touched, t] { touched[t * 16] += 1; });
        touched[0] += 1;
        for (auto& worker : workers) worker.join();
        benchmark::ClobberMemory();
    }
}

void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"M", "N", "K", "threads"});
    for (std::int64_t nk : {4096, 11008})
        for (std::int64_t m : {1, 8, 64, 512})
            for (std::int64_t t : {1, 2}) b->Args({m, nk, 4096, t});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
}

const bool registered = [] {
    // Tuning knob: the M at which float products switch from the dot path to the panel path.
    if (const char* rows = std::getenv("MPQ_PANEL_MIN_ROWS")) detail::panel_min_rows = std::strtoul(rows, nullptr, 10);
    for (const char* w : {"mxint4", "mxfp4", "nvfp4", "mxint8", "bf16", "mixed90", "mixed90k512", "mixed90fp4", "tiled100"})
        for (activation_format act : {activation_format::f32, activation_format::mxint8})
            benchmark::RegisterBenchmark(("BM_gemm_" + std::string(w) + "_" + std::string(to_string(act))).c_str(),
                                         [w = std::string(w), act](benchmark::State& st) { bm_gemm(st, w, act); })
                ->Apply(shapes);
    benchmark::RegisterBenchmark("BM_sgemm_mpq", [](benchmark::State& st) { bm_gemm(st, "fp32", activation_format::f32); })
        ->Apply(shapes);
#ifdef MPQ_BENCH_HAVE_OPENBLAS
    benchmark::RegisterBenchmark("BM_sgemm_openblas", bm_sgemm_openblas)->Apply(shapes);
    benchmark::RegisterBenchmark("BM_dequant_sgemm", bm_dequant_sgemm)->Apply(shapes);
#endif
    benchmark::RegisterBenchmark("BM_read_stream", bm_read_stream)->Apply(shapes);
    benchmark::RegisterBenchmark("BM_fork_join_pool", bm_fork_join_pool)->ArgName("threads")->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("BM_fork_join_spawn", bm_fork_join_spawn)->ArgName("threads")->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
    return true;
}();

} // namespace

BENCHMARK_MAIN();
