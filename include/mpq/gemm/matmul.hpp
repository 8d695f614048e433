// The mixed-precision GEMM: C[M x N] = A[M x K] . W^T (+ bias) (+ C), W a mixed_matrix.
#pragma once

#include <mpq/gemm/detail/activations.hpp>
#include <mpq/gemm/detail/dot_driver.hpp>
#include <mpq/gemm/detail/panel_driver.hpp>
#include <mpq/gemm/detail/parallel.hpp>
#include <mpq/gemm/mixed_matrix.hpp>
#include <mpq/kernel/parallel.hpp>
#include <mpq/numeric/half.hpp>

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mpq {

/// Options of gemm / matvec.
struct gemm_options {
    /// Activation treatment: float32 as given, or quantized per row along K (blocks of 32)
    /// before the product; MXINT8 / MXINT4 use exact integer dot products where the tile is
    /// integer-coded (MXINT4, MXFP4, NVFP4, MXINT8, INT/FP4 per-vector).
    activation_format activations = activation_format::f32;
    /// Threads (>= 1) that take part in the call: the calling thread and threads - 1 workers
    /// of a persistent pool shared by the process (started on first need, reused by later
    /// calls; a call made while the pool is busy — from inside a part, or from another thread
    /// at the same time — runs on the calling thread alone). The result does not depend on it.
    std::size_t threads = 1;
    /// Optional: the caller's own thread pool, used instead of the shared one. gemm cuts the
    /// work into parts for `threads` workers (so set `threads` to the pool's size; with 1 the
    /// call runs on the calling thread and the executor is not used) and calls
    /// executor(parts, part), which must run part(0) .. part(parts - 1) once each, on any
    /// threads in any order, return when all have finished, and propagate an exception a part
    /// throws. The result does not depend on the executor.
    kernel::executor executor = {};
    /// C += A W^T (+ bias) instead of C = A W^T (+ bias).
    bool accumulate = false;
    /// Empty, or N values added to every row of the product.
    std::span<const float> bias = {};
};

namespace detail {

/// Throws std::invalid_argument naming the first bad argument (`a_size`: values in A).
inline void check_gemm_arguments(std::size_t m, std::size_t a_size, std::size_t lda, const mixed_matrix& w,
                                 std::span<float> c, std::size_t ldc, const gemm_options& options) {
    const std::size_t n = w.rows(), k = w.cols();
    auto fail = [](const std::string& what) { throw std::invalid_argument("mpq::gemm: " + what); };
    if (n == 0 || k == 0) fail("the weight matrix is empty");
    if (options.threads == 0) fail("threads must be at least 1, got 0");
    if (lda < k) fail("lda " + std::to_string(lda) + " is less than K = " + std::to_string(k));
    if (ldc < n) fail("ldc " + std::to_string(ldc) + " is less than N = " + std::to_string(n));
    if (m == 0) return;
    if (a_size < (m - 1) * lda + k)
        fail("A holds " + std::to_string(a_size) + " values, M x K = " + std::to_string(m) + " x " +
             std::to_string(k) + " with lda " + std::to_string(lda) + " needs " +
             std::to_string((m - 1) * lda + k));
    if (c.size() < (m - 1) * ldc + n)
        fail("C holds " + std::to_string(c.size()) + " values, M x N = " + std::to_string(m) + " x " +
             std::to_string(n) + " with ldc " + std::to_string(ldc) + " needs " +
             std::to_string((m - 1) * ldc + n));
    if (!options.bias.empty() && options.bias.size() != n)
        fail("bias holds " + std::to_string(options.bias.size()) + " values, expected N = " + std::to_string(n));
}

inline void check_gemm_arguments(std::size_t m, std::span<const float> a, std::size_t lda,
                                 const mixed_matrix& w, std::span<float> c, std::size_t ldc,
                                 const gemm_options& options) {
    check_gemm_arguments(m, a.size(), lda, w, c, ldc, options);
}

#if MPQ_GEMM_HAVE_AVX512
using gemm_arch = avx512_vnni;
#elif MPQ_GEMM_HAVE_AVX2
using gemm_arch = xsimd::fma3<xsimd::avx2>;
#else
using gemm_arch = xsimd::generic;
#endif

/// M at and above which float-activation products take the packed-panel path (below it,
/// decoding in registers per group of 8 rows is cheaper than dequantizing W into panels).
/// A tuning knob, not an API: it changes the summation order, never the error bound.
inline std::size_t panel_min_rows = 128;

template <class Arch>
void gemm_with(std::size_t m, std::span<const float> a, std::size_t lda, const mixed_matrix& w,
               std::span<float> c, std::size_t ldc, const gemm_options& options) {
    check_gemm_arguments(m, a, lda, w, c, ldc, options);
    if (m == 0) return;
    const std::size_t n = w.rows(), k = w.cols();
    gemm_job job;
    job.w = &w;
    job.c = c.data();
    job.ldc = ldc;
    job.bias = options.bias.empty() ? nullptr : options.bias.data();
    job.accumulate = options.accumulate;
    job.integer_path = options.activations == activation_format::mxint8 ||
                       options.activations == activation_format::mxint4;

    const gemm_parallelism parallel{options.threads, &options.executor};
    if (!job.integer_path && m >= panel_min_rows) {
        panel_gemm<Arch>(job, m, a.data(), lda, options.activations, parallel);
        return;
    }
    // One buffer per thread, reused: a decode step calls the GEMM dozens of times on small
    // matrices, where five allocations per call cost more than the product.
    thread_local packed_activations packed;
    const trim_after_call trim{packed};
    pack_activations(m, k, a.data(), lda, options.activations, packed, true,
                     uses_bf16_pairs<Arch>() && w.has_bf16_pair_safe_runs(),
                     uses_float_quads<Arch>() && (w.uses(weight_format::mxint4) || w.uses(weight_format::mxfp4)));
    job.a = &packed;
    // Split over N in chunks of whole 16-row blocks; with few rows of W and many of A, over
    // M in multiples of 8 rows. Either way each element is computed by the same sequence.
    const std::size_t threads = options.threads;
    if (n >= 16 * threads || m < 16) {
        const std::size_t blocks = (n + 15) / 16;
        const std::size_t parts = threads == 1 ? 1 : std::min(blocks, threads * 4);
        parallel.run(parts, [&](std::size_t p) {
            const std::size_t b0 = blocks * p / parts, b1 = blocks * (p + 1) / parts;
            dot_range<Arch>(job, 0, m, b0 * 16, std::min(n, b1 * 16));
        });
    } else {
        const std::size_t groups = (m + 7) / 8;
        const std::size_t parts = std::min(groups, threads);
        parallel.run(parts, [&](std::size_t p) {
            const std::size_t g0 = groups * p / parts, g1 = groups * (p + 1) / parts;
            dot_range<Arch>(job, g0 * 8, std::min(m, g1 * 8), 0, n);
        });
    }
}

} // namespace detail

/// C = A . W^T (+ bias), or C += ... with options.accumulate.
///
/// A is M x K row-major with leading dimension lda (>= K), C is M x N row-major with leading
/// dimension ldc (>= N); N x K is W's shape. Products accumulate in float32; the result
/// lies within (K + 16) * 2^-24 * sum_k |a_k w_k| of the exact product of A (fake-quantized
/// as options.activations says) with W dequantized, and does not depend on options.threads.
/// NaN or Inf in A or in a W block propagates to the outputs it touches.
/// Throws std::invalid_argument for lda < K, ldc < N, spans too short for M rows, a bias of
/// the wrong length, threads == 0 or an empty W. M = 0 does nothing.
inline void gemm(std::size_t m, std::span<const float> a, std::size_t lda, const mixed_matrix& w,
                 std::span<float> c, std::size_t ldc, const gemm_options& options = {}) {
    detail::gemm_with<detail::gemm_arch>(m, a, lda, w, c, ldc, options);
}

/// gemm with A given in BF16 (M x K, leading dimension lda): each value is widened to
/// float32 (exactly), then the product is gemm's, with gemm's options (activation
/// quantization included), error bound and errors.
inline void gemm_bf16(std::size_t m, std::span<const bf16> a, std::size_t lda, const mixed_matrix& w,
                      std::span<float> c, std::size_t ldc, const gemm_options& options = {}) {
    detail::check_gemm_arguments(m, a.size(), lda, w, c, ldc, options);
    if (m == 0) return;
    const std::size_t k = w.cols();
    thread_local std::vector<float> widened; // reused: no allocation per call once grown
    widened.resize(m * k);
    for (std::size_t i = 0; i < m; ++i) {
        const bf16* row = a.data() + i * lda;
        float* out = widened.data() + i * k;
        for (std::size_t j = 0; j < k; ++j) out[j] = detail::float_of(std::uint32_t{row[j].code()} << 16);
    }
    gemm(m, widened, k, w, c, ldc, options);
}

/// y = W x (+ bias): the GEMV (M = 1) of a layer's forward pass. x has K values, y has N.
/// Throws std::invalid_argument on other sizes (see gemm).
inline void matvec(const mixed_matrix& w, std::span<const float> x, std::span<float> y,
                   const gemm_options& options = {}) {
    if (x.size() != w.cols() || y.size() != w.rows())
        throw std::invalid_argument("mpq::matvec: W is " + std::to_string(w.rows()) + " x " +
                                    std::to_string(w.cols()) + ", x holds " + std::to_string(x.size()) +
                                    " values and y " + std::to_string(y.size()));
    gemm(1, x, w.cols(), w, y, w.rows(), options);
}

/// Y[b] = W X[b] (+ bias) for a small batch of `batch` vectors stored one after the other
/// (X: batch x K, Y: batch x N, both dense). Throws std::invalid_argument on sizes.
inline void matmul(const mixed_matrix& w, std::span<const float> x, std::span<float> y, std::size_t batch,
                   const gemm_options& options = {}) {
    if (x.size() != batch * w.cols() || y.size() != batch * w.rows())
        throw std::invalid_argument("mpq::matmul: W is " + std::to_string(w.rows()) + " x " +
                                    std::to_string(w.cols()) + ", batch " + std::to_string(batch) +
                                    ", x holds " + std::to_string(x.size()) + " values and y " +
                                    std::to_string(y.size()));
    gemm(batch, x, w.cols(), w, y, w.rows(), options);
}

} // namespace mpq
