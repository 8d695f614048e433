// The small-M GEMM path, templated on the kernel set (xsimd::generic, AVX2, or the AVX-512 +
// VNNI tag): weights are streamed once per group of up to 8 (AVX-512: 4) activation rows and
// decoded in registers (GEMV is the one-row case). Per output element the operation sequence
// depends only on the data and, for the AVX2 and portable kernels, on the grouping of M by 8;
// never on the thread split (splits fall on multiples of 8 rows of A, or on rows of W).
#pragma once

#include <mpq/gemm/detail/activations.hpp>
#include <mpq/gemm/detail/dot_scalar.hpp>
#include <mpq/gemm/mixed_matrix.hpp>

#include <mpq/kernel/compat.hpp>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <mpq/gemm/detail/dot_avx2.hpp>
#define MPQ_GEMM_HAVE_AVX2 1
#else
#define MPQ_GEMM_HAVE_AVX2 0
#endif

#if MPQ_GEMM_HAVE_AVX2 && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__)
#include <mpq/gemm/detail/dot_avx512.hpp>
#define MPQ_GEMM_HAVE_AVX512 1
#else
#define MPQ_GEMM_HAVE_AVX512 0
#endif

// BF16 runs against integer activations take vdpbf16ps where the build targets it.
#if MPQ_GEMM_HAVE_AVX512 && defined(__AVX512BF16__)
#define MPQ_GEMM_HAVE_AVX512_BF16 1
#else
#define MPQ_GEMM_HAVE_AVX512_BF16 0
#endif

#include <array>
#include <cstddef>
#include <type_traits>

namespace mpq::detail {

/// Everything a worker needs; C = (accumulate ? C : 0) + A W^T + bias.
struct gemm_job {
    const mixed_matrix* w = nullptr;
    const packed_activations* a = nullptr;
    float* c = nullptr;
    std::size_t ldc = 0;
    const float* bias = nullptr;
    bool accumulate = false;
    bool integer_path = false; ///< activations quantized to integers
};

/// Blocking of the small-M path: blocks of dot_m_block activation rows stay in L2 while blocks
/// of dot_n_block weight rows stay in L1 across the groups of activation rows.
inline constexpr std::size_t dot_n_block = 16;
inline constexpr std::size_t dot_m_block = 64;

/// Calls fn.template operator()<F>() for the runtime format f.
template <class Fn>
MPQ_FORCE_INLINE void with_format(weight_format f, Fn&& fn) {
    switch (f) {
    case weight_format::mxint4: fn.template operator()<weight_format::mxint4>(); break;
    case weight_format::mxfp4: fn.template operator()<weight_format::mxfp4>(); break;
    case weight_format::nvfp4: fn.template operator()<weight_format::nvfp4>(); break;
    case weight_format::mxint8: fn.template operator()<weight_format::mxint8>(); break;
    case weight_format::mxfp8_e4m3: fn.template operator()<weight_format::mxfp8_e4m3>(); break;
    case weight_format::mxfp8_e5m2: fn.template operator()<weight_format::mxfp8_e5m2>(); break;
    case weight_format::int4_vector: fn.template operator()<weight_format::int4_vector>(); break;
    case weight_format::fp4_vector: fn.template operator()<weight_format::fp4_vector>(); break;
    case weight_format::int8_vector: fn.template operator()<weight_format::int8_vector>(); break;
    case weight_format::bf16: fn.template operator()<weight_format::bf16>(); break;
    case weight_format::fp16: fn.template operator()<weight_format::fp16>(); break;
    case weight_format::fp32: fn.template operator()<weight_format::fp32>(); break;
    }
}

inline void store_result(const gemm_job& job, std::size_t m, std::size_t n, float dot) {
    float& out = job.c[m * job.ldc + n];
    if (job.bias != nullptr) dot += job.bias[n];
    out = job.accumulate ? out + dot : dot;
}

template <class Arch>
struct dot_kernels;

/// Portable kernels.
template <>
struct dot_kernels<xsimd::generic> {
    template <int MR>
    static void rows(const gemm_job& job, std::size_t m0, std::size_t n0, std::size_t n1) {
        const mixed_matrix& w = *job.w;
        const precision_map& map = w.map();
        const decode_context ctx{w.nvfp4_scale_table().data()};
        for (std::size_t n = n0; n < n1; ++n) {
            const mixed_matrix::row_view row = w.row(n);
            std::array<float, MR> acc{};
            for (std::size_t r = 0; r < row.run_count; ++r) {
                const weight_segment s = row.segment(row.runs[r]);
                const std::size_t k = row.runs[r].first * map.block_k();
                std::array<const float*, MR> a;
                std::array<const std::int8_t*, MR> q{};
                std::array<const float*, MR> sa{};
#pragma GCC unroll 16
                for (int m = 0; m < MR; ++m) {
                    a[m] = job.a->row(m0 + m) + k;
                    if (job.integer_path) {
                        q[m] = job.a->code_row(m0 + m) + k;
                        sa[m] = job.a->scale_row(m0 + m) + k / gemm_unit;
                    }
                }
                with_format(s.format, [&]<weight_format F>() {
                    if constexpr (info(F).integer_codes) {
                        if (job.integer_path) {
                            portable::segment_int<F, MR>(s, ctx, q, sa, acc);
                            return;
                        }
                    }
                    portable::segment_float<F, MR>(s, ctx, a, acc);
                });
            }
#pragma GCC unroll 16
            for (int m = 0; m < MR; ++m) store_result(job, m0 + m, n, acc[m]);
        }
    }
};

#if MPQ_GEMM_HAVE_AVX2
/// AVX2 + FMA kernels.
template <>
struct dot_kernels<xsimd::fma3<xsimd::avx2>> {
    template <int MR>
    static void rows(const gemm_job& job, std::size_t m0, std::size_t n0, std::size_t n1) {
        const mixed_matrix& w = *job.w;
        const precision_map& map = w.map();
        const decode_context ctx{w.nvfp4_scale_table().data()};
        for (std::size_t n = n0; n < n1; ++n) {
            avx2::vectors<MR> acc;
#pragma GCC unroll 16
            for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
            const mixed_matrix::row_view row = w.row(n);
            for (std::size_t r = 0; r < row.run_count; ++r) {
                const weight_segment s = row.segment(row.runs[r]);
                const std::size_t k = row.runs[r].first * map.block_k();
                with_format(s.format, [&]<weight_format F>() MPQ_FORCE_INLINE_LAMBDA {
                    if constexpr (info(F).integer_codes) {
                        if (job.integer_path) {
                            std::array<const std::int8_t*, MR> q;
                            std::array<const float*, MR> sa;
#pragma GCC unroll 16
                            for (int m = 0; m < MR; ++m) {
                                q[m] = job.a->code_row(m0 + m) + k;
                                sa[m] = job.a->scale_row(m0 + m) + k / gemm_unit;
                            }
                            if constexpr (info(F).code_bits == 4) {
                                std::array<const std::int8_t*, MR> qp;
                                std::array<const float*, MR> sp;
#pragma GCC unroll 16
                                for (int m = 0; m < MR; ++m) {
                                    qp[m] = job.a->pair_code_row(m0 + m) + k;
                                    sp[m] = job.a->pair_scale_row(m0 + m);
                                }
                                avx2::segment_int_pairs<F, MR>(s, ctx, k / gemm_unit, q, sa, qp, sp, acc);
                            } else {
                                avx2::segment_int<F, MR>(s, ctx, q, sa, acc);
                            }
                            return;
                        }
                    }
                    std::array<const float*, MR> a;
#pragma GCC unroll 16
                    for (int m = 0; m < MR; ++m) a[m] = job.a->row(m0 + m) + k;
                    avx2::segment_float<F, MR>(s, ctx, a, acc);
                });
            }
#pragma GCC unroll 16
            for (int m = 0; m < MR; ++m) store_result(job, m0 + m, n, avx2::hsum(acc[m]));
        }
    }
};
#endif

#if MPQ_GEMM_HAVE_AVX512
/// Tag of the AVX-512 + VNNI kernels (not an xsimd arch: they use intrinsics directly).
struct avx512_vnni {};

/// Reduces acc[r][m] and stores C rows [m0, m0 + MR) at weight rows [n, n + valid).
template <int R, int MR>
MPQ_FORCE_INLINE void avx512_store(const gemm_job& job, std::size_t m0, std::size_t n, std::size_t valid,
                                     const __m512 (&acc)[R][MR]) {
    if constexpr (R == 4 && MR % 2 == 0) {
        // Two activation rows per reduction (each sum's tree is its own: the same bits).
        for (int m = 0; m < MR; m += 2) {
            const __m512 v[8] = {acc[0][m], acc[1][m], acc[2][m], acc[3][m],
                                 acc[0][m + 1], acc[1][m + 1], acc[2][m + 1], acc[3][m + 1]};
            const __m256 sums = avx512::reduce8(v);
            for (int h = 0; h < 2; ++h) {
                const __m128 part = h == 0 ? _mm256_castps256_ps128(sums) : _mm256_extractf128_ps(sums, 1);
                float* out = job.c + (m0 + m + h) * job.ldc + n;
                if (valid == 4) { // the same operations as store_result, 4 outputs at once
                    __m128 y = job.bias != nullptr ? _mm_add_ps(part, _mm_loadu_ps(job.bias + n)) : part;
                    if (job.accumulate) y = _mm_add_ps(_mm_loadu_ps(out), y);
                    _mm_storeu_ps(out, y);
                } else {
                    alignas(16) float lanes[4];
                    _mm_store_ps(lanes, part);
                    for (std::size_t r = 0; r < valid; ++r) store_result(job, m0 + m + h, n + r, lanes[r]);
                }
            }
        }
        return;
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
        // Groups of 8 rows, one reduction each; compile-time indices into acc, so that it
        // stays in registers at every optimization level.
#pragma GCC unroll 16
        for (std::size_t g = 0; g * 8 < static_cast<std::size_t>(R); ++g) {
            if (g * 8 >= valid) break;
            __m512 v[8];
#pragma GCC unroll 8
            for (std::size_t r = 0; r < 8; ++r)
                v[r] = g * 8 + r < static_cast<std::size_t>(R) ? acc[g * 8 + r][m] : _mm512_setzero_ps();
            const __m256 sums = avx512::reduce8(v);
            const std::size_t row = n + g * 8, count = std::min<std::size_t>(8, valid - g * 8);
            float* out = job.c + (m0 + m) * job.ldc + row;
            if (count == 8) { // the same operations as store_result, 8 outputs at once
                __m256 y = job.bias != nullptr ? _mm256_add_ps(sums, _mm256_loadu_ps(job.bias + row)) : sums;
                if (job.accumulate) y = _mm256_add_ps(_mm256_loadu_ps(out), y);
                _mm256_storeu_ps(out, y);
            } else {
                alignas(32) float lanes[8];
                _mm256_store_ps(lanes, sums);
                for (std::size_t r = 0; r < count; ++r) store_result(job, m0 + m, row + r, lanes[r]);
            }
        }
    }
}

/// Where activation rows [m0, m0 + MR) start (column 0) in each packed form: looked up once
/// per call of avx512_group_rows, not once per run and block.
template <int MR>
struct activation_rows {
    std::array<const float*, MR> a{};
    std::array<const std::int8_t*, MR> q{};
    std::array<const float*, MR> sa{};
    std::array<const std::int8_t*, MR> qp{};
    std::array<const float*, MR> sp{};
    std::array<const std::int8_t*, MR> qq{};
    std::array<const float*, MR> qf{};
    std::array<const std::uint16_t*, MR> qb{};
    bool has_bf16_codes = false;

    activation_rows(const gemm_job& job, std::size_t m0) {
        const packed_activations& p = *job.a;
        has_bf16_codes = p.has_bf16_codes; // only ever set for integer activations
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) {
            a[m] = p.row(m0 + m);
            if (!job.integer_path) {
                if (!p.quad_values.empty()) qf[m] = p.quad_value_row(m0 + m); // built for MXINT4 / MXFP4 W only
                continue;
            }
            q[m] = p.code_row(m0 + m);
            sa[m] = p.scale_row(m0 + m);
            qp[m] = p.pair_code_row(m0 + m);
            sp[m] = p.pair_scale_row(m0 + m);
            qq[m] = p.quad_code_row(m0 + m);
            if (has_bf16_codes) qb[m] = p.bf16_code_row(m0 + m);
        }
    }
};

/// 32-element units of one row of a run (its last unit may be partly padding).
MPQ_FORCE_INLINE std::size_t run_units(const mixed_matrix::row_view& row, const mixed_matrix::block_run& run) {
    return round_up(row.run_length(run), gemm_unit) / gemm_unit;
}

/// The operands of K-blocks [run.first, run.end) in format F for R rows starting at `first`
/// (row r at row_offset[r] bytes from it) and the activation rows `act`: only those F's
/// kernel reads (a mixed map sets them once per run and block).
template <weight_format F, int R, int MR>
MPQ_FORCE_INLINE void avx512_operands(const gemm_job& job, const activation_rows<MR>& act,
                                        const mixed_matrix::row_view& first, mixed_matrix::block_run run,
                                        const std::array<std::size_t, R>& row_offset, avx512::run_operands<R, MR>& op) {
    const std::size_t k = run.first * first.block_k;
    const std::uint8_t* codes = first.base + run.code_offset;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        op.codes[r] = codes + row_offset[r];
        if constexpr (info(F).scale != scale_storage::none) op.scales[r] = first.base + run.scale_offset + row_offset[r];
        else op.scales[r] = nullptr;
    }
    op.units = run_units(first, run);
    op.first_unit = k / gemm_unit;
    const bool integer = info(F).integer_codes && job.integer_path;
    op.bf16_pairs = F == weight_format::bf16 && act.has_bf16_codes && run.bf16_pair_safe;
    op.scales_normal = run.scales_normal;
    constexpr bool quads = avx512::quad_units<F>();
    constexpr bool pairs = !quads && info(F).code_bits == 4;
    // Every pointer is assigned on every path, null where this run's kernel does not read
    // it: GCC 12 cannot always see which kernel runs, and a consumer's -Werror build at -O2
    // or -O3 would otherwise stop on -Wmaybe-uninitialized.
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
        op.a[m] = !integer && !op.bf16_pairs ? act.a[m] + k : nullptr;
        op.sa[m] = integer || op.bf16_pairs ? act.sa[m] + op.first_unit : nullptr;
        op.qb[m] = op.bf16_pairs ? act.qb[m] + k : nullptr;
        op.q[m] = integer ? act.q[m] + k : nullptr;
        op.qq[m] = integer && quads ? act.qq[m] : nullptr;
        op.qf[m] = !integer && quads ? act.qf[m] : nullptr;
        op.qp[m] = integer && pairs ? act.qp[m] : nullptr;
        op.sp[m] = integer && pairs ? act.sp[m] : nullptr;
    }
}

/// Calls fn.template operator()<P>() for the run's prefetch mode P.
template <int R, int MR, class Fn>
MPQ_FORCE_INLINE void with_prefetch(const avx512::run_operands<R, MR>& op, Fn&& fn) {
    switch (op.prefetch) {
    case avx512::prefetch_mode::none: fn.template operator()<avx512::prefetch_mode::none>(); break;
    case avx512::prefetch_mode::rows: fn.template operator()<avx512::prefetch_mode::rows>(); break;
    }
}

/// acc += one run in format F; Integer: the activations are quantized to integers
/// (job.integer_path), and integer-coded formats take the integer path.
template <weight_format F, int R, int MR, bool Integer>
MPQ_FORCE_INLINE void avx512_run(const decode_context& ctx, const avx512::run_operands<R, MR>& op,
                                   __m512 (&acc)[R][MR]) {
#if MPQ_GEMM_HAVE_AVX512_BF16
    if constexpr (Integer && F == weight_format::bf16) {
        if (op.bf16_pairs) {
            with_prefetch(op, [&]<avx512::prefetch_mode P>() MPQ_FORCE_INLINE_LAMBDA { avx512::run_bf16_pairs<R, MR, P>(op, acc); });
            return;
        }
    }
#endif
    if constexpr (Integer && info(F).integer_codes) {
        if constexpr (avx512::quad_units<F>())
            with_prefetch(op, [&]<avx512::prefetch_mode P>() MPQ_FORCE_INLINE_LAMBDA { avx512::run_int_quads<F, R, MR, P>(op, ctx, acc); });
        else
            with_prefetch(op, [&]<avx512::prefetch_mode P>() MPQ_FORCE_INLINE_LAMBDA { avx512::run_int<F, R, MR, P>(op, ctx, acc); });
    } else {
        with_prefetch(op, [&]<avx512::prefetch_mode P>() MPQ_FORCE_INLINE_LAMBDA { avx512::run_float<F, R, MR, P>(op, ctx, acc); });
    }
}

/// Byte offsets of the R rows of a block from its first row (short blocks repeat their last
/// row: computed and dropped, so they run the same code as full ones).
template <int R>
MPQ_FORCE_INLINE std::array<std::size_t, R> avx512_row_offsets(std::size_t row_bytes, std::size_t valid) {
    std::array<std::size_t, R> offset;
    for (std::size_t r = 0; r < static_cast<std::size_t>(R); ++r) offset[r] = std::min(r, valid - 1) * row_bytes;
    return offset;
}

/// Software prefetch of the next block's bytes only pays when W comes from DRAM: W of at
/// least this many bytes (a variable so tests can run the prefetching code on small W; it
/// never changes a result).
inline std::size_t avx512_prefetch_min_bytes = std::size_t{8} << 20;

/// C rows [m0, m0 + MR) x weight rows [n0, n1) of one row group, in blocks of up to R rows
/// (blocks of one group share its runs of one format). A group of one run (uniform maps)
/// dispatches on its format once for all blocks; otherwise once per run and block.
/// Integer == job.integer_path, a template argument so that each instantiation holds only
/// the kernels it can run: with both, the map loop's per-run dispatch compiled to 150 KB of
/// code instead of 90 and ran the Qr 0.9 map x MXINT8 10-40 % slower on Zen 4 (M 8, 512).
template <int R, int MR, bool Integer>
void avx512_group_rows(const gemm_job& job, std::size_t m0, std::size_t n0, std::size_t n1) {
    const mixed_matrix& w = *job.w;
    const decode_context ctx{w.nvfp4_scale_table().data()};
    const mixed_matrix::row_view first = w.row(n0);
    const bool prefetch = w.storage_bytes() >= avx512_prefetch_min_bytes;
    // While a block of rows is read, a later one is prefetched (W from DRAM): each step asks
    // for the bytes its rows read, blocks_ahead blocks further on, and the block's first step
    // for that block's scales (they follow the codes in each row). Within a row group that is
    // exactly that block, whatever its runs, since a group's rows share one layout; into the
    // next group it is about that block (the same span of bytes, give or take the
    // difference in row length), which still leaves almost every line of it in L2 before it
    // is read. Measured on Zen 4 (GEMV, from DRAM, MXINT8 activations, alternated rounds):
    // the Qr 0.9 map 0.56-0.57 ms at 4096 x 4096, against 1.02-1.08 with a sweep of the next
    // block in address order (a cursor moving evenly over the block's steps, formerly used
    // for groups of several runs), which came out slower than no prefetch at all (0.98-0.99).
    // Float activations ask two blocks ahead: their 4-bit steps take longer than the integer
    // ones, and one block ahead left W's lines arriving late. Measured on Zen 4 (from DRAM,
    // 4096 x 4096, alternated rounds): MXINT4 x f32 GEMV 0.759-0.768 against 0.825-0.841 ms,
    // MXFP4 0.706-0.717 against 0.785-0.818, M = 8 3.0-3.2 against 3.2-3.3; integer
    // activations and single-row blocks (16-bit codes) gained nothing and stay at one.
    constexpr std::size_t blocks_ahead = Integer || R == 1 ? 1 : 2;
    avx512::prefetch_mode mode = avx512::prefetch_mode::none;
    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(blocks_ahead * R * first.row_bytes);
    auto start_block = [&](std::size_t n) {
        mode = avx512::prefetch_mode::none;
        if (!prefetch || n + blocks_ahead * R >= w.rows()) return;
        mode = avx512::prefetch_mode::rows;
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t b = first.scale_offsets[0] & ~std::size_t{63}; b < first.row_bytes; b += 64)
                avx512::prefetch_l2(first.base,
                                    static_cast<std::ptrdiff_t>((n + blocks_ahead * R + r - n0) * first.row_bytes + b));
    };
    auto set_prefetch = [&](auto& op) {
        op.prefetch = mode;
        op.prefetch_offset = offset;
    };
    const activation_rows<MR> act(job, m0);
    if (first.run_count == 1) {
        with_format(first.runs[0].format, [&]<weight_format F>() {
            for (std::size_t n = n0; n < n1; n += R) {
                const std::size_t valid = std::min<std::size_t>(R, n1 - n);
                avx512::run_operands<R, MR> op;
                mixed_matrix::row_view view = first;
                view.base += (n - n0) * first.row_bytes;
                avx512_operands<F, R, MR>(job, act, view, first.runs[0], avx512_row_offsets<R>(first.row_bytes, valid), op);
                start_block(n);
                set_prefetch(op);
                __m512 acc[R][MR];
#pragma GCC unroll 16
                for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
                    for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_setzero_ps();
                avx512_run<F, R, MR, Integer>(ctx, op, acc);
                avx512_store<R, MR>(job, m0, n, valid, acc);
            }
        });
        return;
    }
    for (std::size_t n = n0; n < n1; n += R) {
        const std::size_t valid = std::min<std::size_t>(R, n1 - n);
        mixed_matrix::row_view view = first;
        view.base += (n - n0) * first.row_bytes;
        const std::array<std::size_t, R> offsets = avx512_row_offsets<R>(first.row_bytes, valid);
        start_block(n);
        __m512 acc[R][MR];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
            for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_setzero_ps();
        for (std::size_t ri = 0; ri < first.run_count; ++ri) {
            with_format(first.runs[ri].format, [&]<weight_format F>() MPQ_FORCE_INLINE_LAMBDA {
                avx512::run_operands<R, MR> op;
                avx512_operands<F, R, MR>(job, act, view, first.runs[ri], offsets, op);
                set_prefetch(op);
                avx512_run<F, R, MR, Integer>(ctx, op, acc);
            });
        }
        avx512_store<R, MR>(job, m0, n, valid, acc);
    }
}

/// Whether every run of a row group has 16-bit codes (BF16, FP16). These decode in a few
/// operations per 64 bytes, so a GEMV over them is bound by how W is read: 8 rows read unit
/// by unit are 8 interleaved streams, which the test machine (Zen 5) read at 24 GB/s, where
/// rows read one after the other (one sequential stream) went at 39 GB/s, the speed of a
/// plain read. Narrower codes cost more operations per byte, and FP32 measured slower row
/// by row (27 against 33 GB/s): they keep the 8-row blocks, whose 8 independent accumulators
/// hide the multiply-add latency. Each output sees the same operations in the same order
/// with either block size (see avx512_store), so the choice never changes a result.
inline bool wide_codes_only(const mixed_matrix::row_view& row) {
    for (std::size_t r = 0; r < row.run_count; ++r)
        if (info(row.runs[r].format).code_bits != 16) return false;
    return true;
}

/// Rows [m0, m0 + MR) x weight rows [n0, n1), row group by row group.
template <int R, int MR, bool Integer>
void avx512_rows(const gemm_job& job, std::size_t m0, std::size_t n0, std::size_t n1) {
    const std::size_t tile_rows = job.w->map().tile_rows();
    for (std::size_t n = n0; n < n1;) {
        const std::size_t group_end = std::min(n1, (n / tile_rows + 1) * tile_rows);
        if (group_end < n1) { // the next group's tables and runs: misses to DRAM otherwise
            job.w->prefetch_row_tables(group_end);
            const mixed_matrix::row_view row = job.w->row(n);
            const char* next_runs = reinterpret_cast<const char*>(row.runs + row.run_count);
            for (int line = 0; line < 4; ++line) _mm_prefetch(next_runs + 64 * line, _MM_HINT_T0);
        }
        if constexpr (MR == 1) {
            // GEMV: a group of 16-bit codes only reads its rows one after the other (see
            // wide_codes_only); otherwise R rows at once.
            if (wide_codes_only(job.w->row(n))) avx512_group_rows<1, 1, Integer>(job, m0, n, group_end);
            else avx512_group_rows<R, MR, Integer>(job, m0, n, group_end);
        } else {
            avx512_group_rows<R, MR, Integer>(job, m0, n, group_end);
        }
        n = group_end;
    }
}

/// Rows [m0, m1) x weight rows [n0, n1) for M > 1: groups of 4, 2, 1 activation rows against
/// blocks of 4, 8, 8 weight rows (at most 16 accumulators), in blocks of dot_m_block x dot_n_block.
/// The result of an output does not depend on the grouping.
template <bool Integer>
void avx512_blocks(const gemm_job& job, std::size_t m0, std::size_t m1, std::size_t n0, std::size_t n1) {
    for (std::size_t mb = m0; mb < m1; mb += dot_m_block) {
        const std::size_t me = std::min(m1, mb + dot_m_block);
        for (std::size_t nb = n0; nb < n1; nb += dot_n_block) {
            const std::size_t ne = std::min(n1, nb + dot_n_block);
            std::size_t m = mb;
            for (; m + 4 <= me; m += 4) avx512_rows<4, 4, Integer>(job, m, nb, ne);
            if (m + 2 <= me) { avx512_rows<8, 2, Integer>(job, m, nb, ne); m += 2; }
            if (m < me) avx512_rows<8, 1, Integer>(job, m, nb, ne);
        }
    }
}
#endif

/// Whether kernel set Arch multiplies BF16 runs by integer activations with vdpbf16ps, and
/// so needs packed_activations::bf16_codes.
template <class Arch>
constexpr bool uses_bf16_pairs() {
#if MPQ_GEMM_HAVE_AVX512_BF16
    return std::is_same_v<Arch, avx512_vnni>;
#else
    return false;
#endif
}

/// Whether kernel set Arch multiplies MXINT4 / MXFP4 runs by float activations four units at
/// a time, and so needs packed_activations::quad_values.
template <class Arch>
constexpr bool uses_float_quads() {
#if MPQ_GEMM_HAVE_AVX512
    return std::is_same_v<Arch, avx512_vnni>;
#else
    return false;
#endif
}

/// Rows [m0, m1) x columns [n0, n1) of C, in groups of 8, 4, 2, 1 activation rows (AVX-512:
/// see avx512_blocks), in blocks of dot_m_block x dot_n_block.
template <class Arch>
void dot_range(const gemm_job& job, std::size_t m0, std::size_t m1, std::size_t n0, std::size_t n1) {
#if MPQ_GEMM_HAVE_AVX512
    if constexpr (std::is_same_v<Arch, avx512_vnni>) {
        if (m1 - m0 == 1) { // GEMV: no activation rows to share W blocks across
            if (job.integer_path) avx512_rows<8, 1, true>(job, m0, n0, n1);
            else avx512_rows<8, 1, false>(job, m0, n0, n1);
            return;
        }
        if (job.integer_path) avx512_blocks<true>(job, m0, m1, n0, n1);
        else avx512_blocks<false>(job, m0, m1, n0, n1);
        return;
    } else
#endif
    {
        for (std::size_t mb = m0; mb < m1; mb += dot_m_block) {
            const std::size_t me = std::min(m1, mb + dot_m_block);
            for (std::size_t nb = n0; nb < n1; nb += dot_n_block) {
                const std::size_t ne = std::min(n1, nb + dot_n_block);
                std::size_t m = mb;
                for (; m + 8 <= me; m += 8) dot_kernels<Arch>::template rows<8>(job, m, nb, ne);
                if (m + 4 <= me) { dot_kernels<Arch>::template rows<4>(job, m, nb, ne); m += 4; }
                if (m + 2 <= me) { dot_kernels<Arch>::template rows<2>(job, m, nb, ne); m += 2; }
                if (m < me) dot_kernels<Arch>::template rows<1>(job, m, nb, ne);
            }
        }
    }
}

} // namespace mpq::detail
