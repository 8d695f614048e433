// Quantize / dequantize / fake-quantize throughput of every block format, next to the
// baselines of the same run: memcpy of the same float tensor and the scalar reference.
// Every case reports bytes_per_second in float-tensor bytes (4 per element).
//
//   bench_quant --benchmark_filter='BM_(memcpy|quantize_mxfp4)/' --benchmark_repetitions=3
//
// Arguments: block (block or vector length; 0 = the format's default), threads, elements
// (16777216 = a 4096 x 4096 tensor out of cache, 65536 = 256 KiB in cache).
#include <mpq/format.hpp>
#include <mpq/kernel.hpp>

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr std::int64_t out_of_cache = 4096 * 4096;
constexpr std::int64_t in_cache = 256 * 1024 / 4;

std::vector<float> make_tensor(std::size_t n) {
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = normal(rng);
    return x;
}

/// Square tensor shape for n elements (4096 x 4096 or 256 x 256).
std::size_t side(std::int64_t n) {
    std::size_t s = 1;
    while (s * s < static_cast<std::size_t>(n)) s *= 2;
    return s;
}

mpq::kernel::parallel_options threads_of(const benchmark::State& state) {
    mpq::kernel::parallel_options p;
    p.threads = static_cast<unsigned>(state.range(1));
    return p;
}

void set_bytes(benchmark::State& state) {
    state.SetBytesProcessed(state.iterations() * state.range(2) * static_cast<std::int64_t>(sizeof(float)));
}

void BM_memcpy(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2));
    const std::vector<float> x = make_tensor(n);
    std::vector<float> y(n);
    for (auto _ : state) {
        std::memcpy(y.data(), x.data(), n * sizeof(float));
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

/// The format object for a block argument (0: the format's default).
template <class Format>
Format make_format(std::int64_t block) {
    if constexpr (mpq::is_mx_format_v<Format>) {
        return Format(block == 0 ? 32 : static_cast<std::size_t>(block));
    } else if constexpr (requires { Format(std::size_t{}); }) {
        return Format(static_cast<std::size_t>(block));
    } else {
        return Format{};
    }
}

template <class Format>
void BM_quantize(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2)), s = side(state.range(2));
    const Format format = make_format<Format>(state.range(0));
    const std::vector<float> x = make_tensor(n);
    mpq::quantized_tensor<Format> q(format, s, s);
    const auto parallel = threads_of(state);
    for (auto _ : state) {
        mpq::kernel::quantize(std::span<const float>(x), q.view(), {}, parallel);
        benchmark::DoNotOptimize(q.codes().data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

/// NVFP4 with a calibrated tensor amax (quantize_options::tensor_amax, here the input's own,
/// found once before the loop): one pass over the input instead of two.
void BM_quantize_nvfp4_calibrated(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2)), s = side(state.range(2));
    const std::vector<float> x = make_tensor(n);
    mpq::quantized_tensor<mpq::nvfp4> q(mpq::nvfp4{}, s, s);
    mpq::quantize_options options;
    options.tensor_amax = mpq::finite_amax(std::span<const float>(x));
    const auto parallel = threads_of(state);
    for (auto _ : state) {
        mpq::kernel::quantize(std::span<const float>(x), q.view(), options, parallel);
        benchmark::DoNotOptimize(q.codes().data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

template <class Format>
void BM_quantize_ref(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2)), s = side(state.range(2));
    const Format format = make_format<Format>(state.range(0));
    const std::vector<float> x = make_tensor(n);
    mpq::quantized_tensor<Format> q(format, s, s);
    for (auto _ : state) {
        mpq::quantize_ref(format, std::span<const float>(x), q.view());
        benchmark::DoNotOptimize(q.codes().data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

template <class Format>
void BM_dequantize(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2)), s = side(state.range(2));
    const Format format = make_format<Format>(state.range(0));
    const std::vector<float> x = make_tensor(n);
    mpq::quantized_tensor<Format> q(format, s, s);
    mpq::kernel::quantize(std::span<const float>(x), q.view());
    std::vector<float> y(n);
    const auto parallel = threads_of(state);
    for (auto _ : state) {
        mpq::kernel::dequantize(q, std::span<float>(y), parallel);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

template <class Format>
void BM_fake_quantize(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(2)), s = side(state.range(2));
    const Format format = make_format<Format>(state.range(0));
    const std::vector<float> x = make_tensor(n);
    std::vector<float> y(n);
    const auto parallel = threads_of(state);
    for (auto _ : state) {
        mpq::kernel::fake_quantize(format, std::span<const float>(x), std::span<float>(y), {}, s,
                                   mpq::block_axis::rows, parallel);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state);
}

void shape(benchmark::internal::Benchmark* b, std::initializer_list<std::int64_t> blocks, bool with_threads) {
    b->ArgNames({"block", "threads", "elements"})->UseRealTime()->MinTime(0.2);
    for (const std::int64_t n : {out_of_cache, in_cache})
        for (const std::int64_t block : blocks)
            for (const std::int64_t t : {1, 2})
                if (t == 1 || with_threads) b->Args({block, t, n});
}

template <class Format>
void register_format(const std::string& name, std::initializer_list<std::int64_t> blocks) {
    shape(benchmark::RegisterBenchmark(("BM_quantize_" + name).c_str(), BM_quantize<Format>), blocks, true);
    shape(benchmark::RegisterBenchmark(("BM_dequantize_" + name).c_str(), BM_dequantize<Format>), blocks, true);
    shape(benchmark::RegisterBenchmark(("BM_fake_quantize_" + name).c_str(), BM_fake_quantize<Format>), blocks, true);
    auto* ref = benchmark::RegisterBenchmark(("BM_quantize_ref_" + name).c_str(), BM_quantize_ref<Format>);
    ref->ArgNames({"block", "threads", "elements"})->UseRealTime()->MinTime(0.2);
    for (const std::int64_t n : {out_of_cache, in_cache}) ref->Args({*blocks.begin(), 1, n});
}

const bool registered = [] {
    benchmark::RegisterBenchmark("BM_memcpy", BM_memcpy)
        ->ArgNames({"block", "threads", "elements"})
        ->UseRealTime()
        ->MinTime(0.2)
        ->Args({0, 1, out_of_cache})
        ->Args({0, 1, in_cache});
    using mpq::mx_dynamic;
    register_format<mx_dynamic<mpq::mx_int8_element>>("mxint8", {32});
    register_format<mx_dynamic<mpq::mx_int4_element>>("mxint4", {32});
    register_format<mx_dynamic<mpq::fp8_e4m3>>("mxfp8_e4m3", {32});
    register_format<mx_dynamic<mpq::fp8_e5m2>>("mxfp8_e5m2", {32});
    register_format<mx_dynamic<mpq::fp6_e3m2>>("mxfp6_e3m2", {32});
    register_format<mx_dynamic<mpq::fp6_e2m3>>("mxfp6_e2m3", {32});
    register_format<mx_dynamic<mpq::fp4_e2m1>>("mxfp4", {32, 16, 64, 256});
    register_format<mpq::nvfp4>("nvfp4", {16});
    shape(benchmark::RegisterBenchmark("BM_quantize_nvfp4_calibrated", BM_quantize_nvfp4_calibrated), {16}, true);
    register_format<mpq::fp4_e2m1_tensor>("fp4_e2m1_tensor", {0});
    register_format<mpq::fp4_e2m1_vector>("fp4_e2m1_vector", {0});
    register_format<mpq::int8_tensor>("int8_tensor", {0});
    register_format<mpq::int8_vector>("int8_vector", {0});
    register_format<mpq::int4_tensor>("int4_tensor", {0});
    register_format<mpq::int4_vector>("int4_vector", {0});
    return true;
}();

} // namespace

BENCHMARK_MAIN();
