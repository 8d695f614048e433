// A mixed-precision weight matrix and the matmuls that use it.
//
// Builds a 512 x 1024 weight matrix three ways (uniform MXINT4, a block-wise MXINT4 / BF16
// map at Qr = 0.9, and a hand-made map), then runs y = W x (GEMV), a small batch, and a
// larger GEMM with MXINT8-quantized activations, comparing each with the double reference,
// and the same GEMM run on a caller-supplied executor (thread pool).
#include <mpq/gemm.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <random>
#include <vector>

namespace {

std::vector<float> random_values(std::size_t n, unsigned seed) {
    std::mt19937 engine(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(engine);
    return v;
}

/// Largest |got - want| relative to the largest |want|.
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
    double err = 0.0, size = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        err = std::max(err, std::fabs(static_cast<double>(got[i]) - want[i]));
        size = std::max(size, std::fabs(static_cast<double>(want[i])));
    }
    return err / size;
}

void describe(const char* name, const mpq::mixed_matrix& w) {
    fmt::print("{:<28} Qr {:.3f}  {:.3f} bits/weight  {} KiB packed\n", name, w.map().qr(),
               w.map().bits_per_weight(), w.storage_bytes() / 1024);
}

} // namespace

int main() {
    const std::size_t n = 512, k = 1024; // W is N x K: one row per output feature
    const std::vector<float> weights = random_values(n * k, 1);

    // 1. One format for the whole matrix (the matmul-wise case).
    const auto uniform = mpq::mixed_matrix::quantize(weights, n, k, mpq::weight_format::mxint4);
    describe("uniform MXINT4", uniform);

    // 2. Block-wise: tiles of 16 rows x 128 columns, 90 % of them MXINT4, the rest BF16.
    const auto map = mpq::precision_map::random_blockwise(n, k, 16, 128, mpq::weight_format::mxint4,
                                                          mpq::weight_format::bf16, 0.9, /*seed*/ 7);
    const auto mixed = mpq::mixed_matrix::quantize(weights, map);
    describe("block-wise MXINT4/BF16 0.9", mixed);

    // 3. A map set by hand: NVFP4 everywhere except the first K-block of every row group.
    mpq::precision_map custom(n, k, 64, 256, mpq::weight_format::nvfp4);
    for (std::size_t g = 0; g < custom.row_groups(); ++g) custom.set(g, 0, mpq::weight_format::fp16);
    describe("NVFP4 + FP16 first block", mpq::mixed_matrix::quantize(weights, custom));

    // GEMV: y = W x, the decode step of a layer.
    const std::vector<float> x = random_values(k, 2);
    std::vector<float> y(n), y_ref(n);
    mpq::matvec(mixed, x, y);
    mpq::gemm_reference(1, x, k, mixed, y_ref, n);
    fmt::print("matvec           rel. error vs double reference {:.2e}\n", relative_error(y, y_ref));

    // A small batch of 4 vectors, two threads, with a bias.
    const std::size_t batch = 4;
    const std::vector<float> xs = random_values(batch * k, 3);
    const std::vector<float> bias = random_values(n, 4);
    std::vector<float> ys(batch * n), ys_ref(batch * n);
    mpq::gemm_options options;
    options.threads = 2;
    options.bias = bias;
    mpq::matmul(mixed, xs, ys, batch, options);
    mpq::gemm_reference(batch, xs, k, mixed, ys_ref, n, options);
    fmt::print("matmul batch 4   rel. error vs double reference {:.2e}\n", relative_error(ys, ys_ref));

    // A GEMM with A (M x K, leading dimension K) quantized on the fly to MXINT8: the
    // MXINT4 tiles use the integer dot product.
    const std::size_t m = 64;
    const std::vector<float> a = random_values(m * k, 5);
    std::vector<float> c(m * n), c_ref(m * n);
    mpq::gemm_options int8_activations;
    int8_activations.activations = mpq::activation_format::mxint8;
    mpq::gemm(m, a, k, uniform, c, n, int8_activations);
    mpq::gemm_reference(m, a, k, uniform, c_ref, n, int8_activations);
    fmt::print("gemm M=64 MXINT4 x MXINT8  rel. error {:.2e}\n", relative_error(c, c_ref));

    // The same activations given in BF16 (gemm_bf16 widens them exactly to float32).
    std::vector<mpq::bf16> a_bf16(a.size());
    std::vector<float> a_widened(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        a_bf16[i] = mpq::bf16::from_bits(mpq::bf16::encode(a[i]));
        a_widened[i] = mpq::bf16::decode(a_bf16[i].code());
    }
    mpq::gemm_bf16(m, a_bf16, k, mixed, c, n);
    mpq::gemm_reference(m, a_widened, k, mixed, c_ref, n);
    fmt::print("gemm_bf16 M=64 mixed map   rel. error {:.2e}\n", relative_error(c, c_ref));

    // Threads: by default gemm uses a persistent pool shared by the process. An application
    // with its own pool passes it as the executor; gemm cuts the work for `threads` workers
    // and hands the parts over. (A stand-in pool here: one std::async task per part.) The
    // result is bit-identical whatever runs the parts.
    mpq::gemm_options on_my_pool;
    on_my_pool.threads = 4;
    on_my_pool.executor = [](std::size_t parts, const std::function<void(std::size_t)>& part) {
        std::vector<std::future<void>> done;
        for (std::size_t i = 0; i < parts; ++i) done.push_back(std::async(std::launch::async, part, i));
        for (auto& d : done) d.get(); // rethrows an exception thrown by a part
    };
    std::vector<float> c_one(m * n), c_pool(m * n);
    mpq::gemm(m, a, k, mixed, c_one, n);
    mpq::gemm(m, a, k, mixed, c_pool, n, on_my_pool);
    fmt::print("gemm on a caller's executor: {}\n",
               std::memcmp(c_one.data(), c_pool.data(), c_one.size() * sizeof(float)) == 0
                   ? "bit-identical to one thread"
                   : "DIFFERENT from one thread");
    return 0;
}
