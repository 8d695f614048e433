// The large-M path for float activations: W is dequantized once into float panels (KC x NR,
// k-major; NR = 16 for the AVX2 kernels, 32 for AVX-512) and A packed into 6-row strips, and a
// 6 x NR register-blocked FMA micro-kernel runs over them (the classic packed GEMM loop nest:
// NC -> KC -> MC -> NR -> 6). Every output is the same sequence of fused multiply-adds over k
// in order, in chunks of KC, so the result does not depend on the thread split (threads take
// whole NR-column strips, or, for short W, whole 6-row strips of A), nor on NR.
#pragma once

#include <mpq/gemm/detail/activations.hpp>
#include <mpq/gemm/detail/dot_driver.hpp>
#include <mpq/gemm/detail/parallel.hpp>
#include <mpq/gemm/mixed_matrix.hpp>

#include <algorithm>
#include <thread>
#include <vector>

namespace mpq::detail {

inline constexpr std::size_t panel_mr = 6;
/// Panel widths: 16 columns of C for the AVX2 micro-kernel (two 8-lane vectors), 32 for the
/// AVX-512 one (two 16-lane vectors).
inline constexpr std::size_t panel_nr = 16;
inline constexpr std::size_t panel_nr_avx512 = 32;
inline constexpr std::size_t panel_kc = 256;
inline constexpr std::size_t panel_mc = 96;
inline constexpr std::size_t panel_nc = 1024;

#if MPQ_GEMM_HAVE_AVX2

/// Dequantizes W rows [n0, n0 + rows) x columns [k0, k0 + kc) (kc a multiple of 32, k0 of 32)
/// into strips of NR rows: strip s, column k, row j at out[s * kc * NR + k * NR + j]. Rows past
/// the matrix are zero.
template <std::size_t NR>
void pack_weight_panel(const mixed_matrix& w, std::size_t n0, std::size_t rows, std::size_t k0,
                              std::size_t kc, float* out) {
    const precision_map& map = w.map();
    const decode_context ctx{w.nvfp4_scale_table().data()};
    const std::size_t strips = (rows + NR - 1) / NR;
    std::fill(out, out + strips * kc * NR, 0.0f);
    for (std::size_t r = 0; r < rows && n0 + r < w.rows(); ++r) {
        float* strip = out + (r / NR) * kc * NR + r % NR;
        const std::size_t k_end = std::min(k0 + kc, w.cols());
        const mixed_matrix::row_view row = w.row(n0 + r);
        for (std::size_t k = k0; k < k_end;) {
            const std::size_t b = k / map.block_k();
            const weight_segment s = row.segment(b);
            const std::size_t u0 = (k - b * map.block_k()) / gemm_unit;
            const std::size_t u1 = (std::min(k_end, b * map.block_k() + s.length) - b * map.block_k() + gemm_unit - 1) / gemm_unit;
            with_format(s.format, [&]<weight_format F>() {
                constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
                for (std::size_t u = u0; u < u1; ++u) {
                    const avx2::vectors<4> v = avx2::unit_values<F>(s.codes + u * unit_bytes);
                    float lo, hi;
                    unit_scales<F>(s, u, ctx, lo, hi);
                    alignas(32) float unit[gemm_unit];
                    _mm256_store_ps(unit, _mm256_mul_ps(v[0], _mm256_set1_ps(lo)));
                    _mm256_store_ps(unit + 8, _mm256_mul_ps(v[1], _mm256_set1_ps(lo)));
                    _mm256_store_ps(unit + 16, _mm256_mul_ps(v[2], _mm256_set1_ps(hi)));
                    _mm256_store_ps(unit + 24, _mm256_mul_ps(v[3], _mm256_set1_ps(hi)));
                    float* dst = strip + (b * map.block_k() + u * gemm_unit - k0) * NR;
                    for (std::size_t i = 0; i < gemm_unit; ++i) dst[i * NR] = unit[i];
                }
            });
            k = b * map.block_k() + u1 * gemm_unit;
        }
    }
}

/// Packs A rows [m0, m0 + rows) x columns [k0, k0 + kc) into strips of 6 rows, k-major;
/// rows past M and columns past K are zero.
inline void pack_activation_panel(const float* a, std::size_t lda, std::size_t m_total, std::size_t k_total,
                                  std::size_t m0, std::size_t rows, std::size_t k0, std::size_t kc, float* out) {
    const std::size_t strips = (rows + panel_mr - 1) / panel_mr;
    for (std::size_t s = 0; s < strips; ++s) {
        float* dst = out + s * kc * panel_mr;
        for (std::size_t i = 0; i < panel_mr; ++i) {
            const std::size_t m = m0 + s * panel_mr + i;
            const bool valid = s * panel_mr + i < rows && m < m_total;
            const float* src = a + m * lda;
            for (std::size_t k = 0; k < kc; ++k)
                dst[k * panel_mr + i] = valid && k0 + k < k_total ? src[k0 + k] : 0.0f;
        }
    }
}

/// c (6 x 16, leading dimension ldc) = (load ? c : 0) + sum_k a[k][i] * b[k][j].
inline void micro_kernel_6x16(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
                              bool load) {
    __m256 acc[panel_mr][2];
    // Every loop over acc is unrolled: with one left rolled, GCC 12 at -O2 kept acc in
    // memory and the kernel ran at 0.4x its -O3 speed.
#pragma GCC unroll 6
    for (std::size_t i = 0; i < panel_mr; ++i) {
        acc[i][0] = load ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
        acc[i][1] = load ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
    }
    for (std::size_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_load_ps(b + k * panel_nr);
        const __m256 b1 = _mm256_load_ps(b + k * panel_nr + 8);
#pragma GCC unroll 6
        for (std::size_t i = 0; i < panel_mr; ++i) {
            const __m256 ai = _mm256_broadcast_ss(a + k * panel_mr + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (std::size_t i = 0; i < panel_mr; ++i) {
        _mm256_storeu_ps(c + i * ldc, acc[i][0]);
        _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
    }
}

#if MPQ_GEMM_HAVE_AVX512
/// c (6 x 32, leading dimension ldc) = (load ? c : 0) + sum_k a[k][i] * b[k][j]: the same
/// fused multiply-adds per output, in the same order, as micro_kernel_6x16, on 16 lanes.
/// b must be 64-byte aligned.
inline void micro_kernel_6x32(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc,
                              bool load) {
    __m512 acc[panel_mr][2]; // every loop over it unrolled, as in micro_kernel_6x16
#pragma GCC unroll 6
    for (std::size_t i = 0; i < panel_mr; ++i) {
        acc[i][0] = load ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
        acc[i][1] = load ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
    }
    for (std::size_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_load_ps(b + k * panel_nr_avx512);
        const __m512 b1 = _mm512_load_ps(b + k * panel_nr_avx512 + 16);
#pragma GCC unroll 6
        for (std::size_t i = 0; i < panel_mr; ++i) {
            const __m512 ai = _mm512_set1_ps(a[k * panel_mr + i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (std::size_t i = 0; i < panel_mr; ++i) {
        _mm512_storeu_ps(c + i * ldc, acc[i][0]);
        _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
    }
}
#endif

/// The micro-kernel of panel width NR.
template <std::size_t NR>
inline void micro_kernel(std::size_t kc, const float* a, const float* b, float* c, std::size_t ldc, bool load) {
#if MPQ_GEMM_HAVE_AVX512
    if constexpr (NR == panel_nr_avx512) {
        micro_kernel_6x32(kc, a, b, c, ldc, load);
        return;
    } else
#endif
    {
        static_assert(NR == panel_nr);
        micro_kernel_6x16(kc, a, b, c, ldc, load);
    }
}

/// 64-byte aligned float scratch.
struct aligned_floats {
    explicit aligned_floats(std::size_t n) : data_(n + 16) {}
    float* get() {
        auto p = reinterpret_cast<std::uintptr_t>(data_.data());
        return reinterpret_cast<float*>((p + 63) / 64 * 64);
    }
    std::vector<float> data_;
};

/// C rows [m0, m1) x columns [n0, n1), all of K, with the micro-kernel of panel width NR.
template <std::size_t NR>
void panel_range(const gemm_job& job, const float* a, std::size_t lda, std::size_t m_total,
                        std::size_t m0, std::size_t m1, std::size_t n0, std::size_t n1) {
    const mixed_matrix& w = *job.w;
    const std::size_t k_total = w.cols();
    const std::size_t k_padded = round_up(k_total, gemm_unit);
    aligned_floats b_buffer(panel_nc * panel_kc);
    aligned_floats a_buffer(round_up(panel_mc, panel_mr) * panel_kc);
    float* bp = b_buffer.get();
    float* ap = a_buffer.get();
    alignas(64) float edge[panel_mr * NR];
    for (std::size_t jc = n0; jc < n1; jc += panel_nc) {
        const std::size_t nc = std::min(panel_nc, n1 - jc);
        for (std::size_t pc = 0; pc < k_padded; pc += panel_kc) {
            const std::size_t kc = std::min(panel_kc, k_padded - pc);
            pack_weight_panel<NR>(w, jc, nc, pc, kc, bp);
            for (std::size_t ic = m0; ic < m1; ic += panel_mc) {
                const std::size_t mc = std::min(panel_mc, m1 - ic);
                pack_activation_panel(a, lda, m_total, k_total, ic, mc, pc, kc, ap);
                for (std::size_t jr = 0; jr < nc; jr += NR) {
                    const std::size_t nr = std::min(NR, nc - jr);
                    for (std::size_t ir = 0; ir < mc; ir += panel_mr) {
                        const std::size_t mr = std::min(panel_mr, mc - ir);
                        const bool load = pc > 0 || job.accumulate;
                        float* c = job.c + (ic + ir) * job.ldc + jc + jr;
                        const float* as = ap + ir * kc;
                        const float* bs = bp + jr * kc;
                        if (mr == panel_mr && nr == NR) {
                            micro_kernel<NR>(kc, as, bs, c, job.ldc, load);
                            continue;
                        }
                        for (std::size_t i = 0; i < panel_mr; ++i)
                            for (std::size_t j = 0; j < NR; ++j)
                                edge[i * NR + j] = load && i < mr && j < nr ? c[i * job.ldc + j] : 0.0f;
                        micro_kernel<NR>(kc, as, bs, edge, NR, true);
                        for (std::size_t i = 0; i < mr; ++i)
                            for (std::size_t j = 0; j < nr; ++j) c[i * job.ldc + j] = edge[i * NR + j];
                    }
                }
            }
        }
    }
    if (job.bias != nullptr)
        for (std::size_t m = m0; m < m1; ++m)
            for (std::size_t n = n0; n < n1; ++n) job.c[m * job.ldc + n] += job.bias[n];
}

#endif

/// Whether Arch's large-M float path is a packed-panel micro-kernel (AVX2 6 x 16, or AVX-512
/// 6 x 32); the portable kernels use the dot path throughout.
template <class Arch>
inline constexpr bool uses_avx2_panels = std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>
#if MPQ_GEMM_HAVE_AVX512
                                         || std::is_same_v<Arch, avx512_vnni>
#endif
    ;

/// Panel width of Arch's micro-kernel.
template <class Arch>
inline constexpr std::size_t panel_width =
#if MPQ_GEMM_HAVE_AVX512
    std::is_same_v<Arch, avx512_vnni> ? panel_nr_avx512 :
#endif
                                      panel_nr;

/// Large-M float GEMM (activations float32 or fake-quantized to MXFP8).
template <class Arch>
void panel_gemm(gemm_job& job, std::size_t m, const float* a, std::size_t lda, activation_format activations,
                const gemm_parallelism& parallel) {
    const std::size_t threads = parallel.threads;
    thread_local packed_activations packed;
    const trim_after_call trim{packed};
    if (activations != activation_format::f32 || !uses_avx2_panels<Arch>) {
        pack_activations(m, job.w->cols(), a, lda, activations, packed);
        a = packed.values.data();
        lda = packed.ld;
        job.a = &packed;
    }
    const std::size_t n = job.w->rows();
#if MPQ_GEMM_HAVE_AVX2
    if constexpr (uses_avx2_panels<Arch>) {
        constexpr std::size_t nr = panel_width<Arch>;
        const std::size_t strips = (n + nr - 1) / nr;
        if (strips >= 2 * threads || m < 2 * panel_mr * threads) {
            parallel.run(threads, [&](std::size_t p) {
                const std::size_t s0 = strips * p / threads, s1 = strips * (p + 1) / threads;
                if (s0 < s1) panel_range<nr>(job, a, lda, m, 0, m, s0 * nr, std::min(n, s1 * nr));
            });
        } else {
            const std::size_t strips_m = (m + panel_mr - 1) / panel_mr;
            parallel.run(threads, [&](std::size_t p) {
                const std::size_t s0 = strips_m * p / threads, s1 = strips_m * (p + 1) / threads;
                if (s0 < s1) panel_range<nr>(job, a, lda, m, s0 * panel_mr, std::min(m, s1 * panel_mr), 0, n);
            });
        }
        return;
    }
#endif
    parallel.run(threads, [&](std::size_t p) {
        const std::size_t blocks = (n + 15) / 16;
        const std::size_t b0 = blocks * p / threads, b1 = blocks * (p + 1) / threads;
        if (b0 < b1) dot_range<Arch>(job, 0, m, b0 * 16, std::min(n, b1 * 16));
    });
}

} // namespace mpq::detail
