// Tokens per second of the stories260K forward pass, float32 against the quantized paths,
// all in one run so the baseline shares the machine's state.
//
// BM_decode/<path>: greedy generation of 256 tokens from BOS, one token per forward pass
// (matrix-vector products); items_per_second is tokens/s.
// BM_prefill/<path>: one forward pass over 256 sampled tokens at once (matrix-matrix
// products, as the evaluation harness runs); items_per_second is tokens/s.
// Paths: f32 (float32_linear, the baseline), gemm_fp32 (the GEMM on FP32 tiles), mxint4 and
// mxint4_a4 (uniform MXINT4 weights; with MXINT4 activations), mixed90 (block-wise MXINT4 /
// BF16 at Qr 0.9 in tiles of 16 rows × 32 columns, random, seed 1), emulated_mxint4 (fake
// quantization + float32). The classifier stays float32 in every path.
#include "llama/eval.hpp"
#include "llama/fake_quant.hpp"
#include "llama/gemm_linear.hpp"

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

namespace {

using namespace mpq::llama;

const checkpoint& stories() {
    static const checkpoint ck = load_checkpoint(MPQ_SOURCE_DIR "/examples/data/stories260K.bin");
    return ck;
}

linear_factory mixed90_factory() {
    return [](const linear_site& site, std::span<const float> w) -> std::unique_ptr<linear_layer> {
        if (site.role == linear_role::classifier) return make_float32_linear(site, w);
        const auto map = mpq::precision_map::random_blockwise(site.rows, site.cols, 16, 32, mpq::weight_format::mxint4,
                                                              mpq::weight_format::bf16, 0.9, 1);
        return std::make_unique<gemm_linear>(w, map);
    };
}

const transformer& model(const std::string& path) {
    static std::map<std::string, std::unique_ptr<transformer>> cache;
    auto& m = cache[path];
    if (!m) {
        linear_factory f = make_float32_linear;
        if (path == "gemm_fp32") f = gemm_uniform_factory(mpq::weight_format::fp32, mpq::activation_format::f32, true);
        if (path == "mxint4") f = gemm_uniform_factory(mpq::weight_format::mxint4);
        if (path == "mxint4_a4") f = gemm_uniform_factory(mpq::weight_format::mxint4, mpq::activation_format::mxint4);
        if (path == "mixed90") f = mixed90_factory();
        if (path == "emulated_mxint4") f = uniform_factory(mpq::make_format("mxint4"), std::nullopt);
        m = std::make_unique<transformer>(stories(), f);
    }
    return *m;
}

const char* const paths[] = {"f32", "gemm_fp32", "mxint4", "mxint4_a4", "mixed90", "emulated_mxint4"};

void BM_decode(benchmark::State& state) {
    const transformer& m = model(paths[state.range(0)]);
    inference_state s(m.cfg());
    std::size_t tokens = 0;
    for (auto _ : state) {
        sampler greedy(0.0f);
        tokens += generate(m, s, greedy, 256, /*stop_at_bos=*/false).size();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(tokens));
    state.SetLabel(paths[state.range(0)]);
}

void BM_prefill(benchmark::State& state) {
    const transformer& m = model(paths[state.range(0)]);
    evaluation_options o;
    o.sequences = 1;
    o.length = 256;
    o.threads = 1;
    static const auto sequence = sample_sequences(model("f32"), o).front();
    inference_state s(m.cfg(), 256);
    for (auto _ : state) {
        s.reset();
        benchmark::DoNotOptimize(forward(m, s, std::span<const int>(sequence).first(256)).data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 256);
    state.SetLabel(paths[state.range(0)]);
}

} // namespace

BENCHMARK(BM_decode)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_prefill)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
