// AVX-512 (F, BW, DQ, VL) + VNNI kernels of the small-M path: a block of up to 8 weight
// rows that share one run structure (rows of one row group) against MR activation rows.
//
// Why blocks of rows: for GEMV and small K (a decode step of a small model has K = 64), a
// one-row kernel pays the format dispatch, the run loop and a horizontal sum per 64
// multiply-adds. Here the dispatch is paid once per run per block, each activation unit is
// loaded once per block, and the 8 row sums are reduced together by a transposing add tree.
//
// Float path: each 32-element unit decodes to two 16-lane vectors (4-bit codes through a
// 16-entry float table with vpermps, 8-bit integers by widening, FP8 via binary16, BF16 by a
// shift, FP16 by vcvtph2ps, FP32 as is), multiplied by the activations, times the unit's scale
// into the running sum. MXINT4 and MXFP4 take four units per step instead (run_float_quads):
// one 64-byte load, shifted, indexes the table 8 times against activations stored in the
// matching order, and each lane sums 8 products of one unit before its scale.
// Integer path (W integer-coded, A in MXINT8/MXINT4): vpdpbusd takes unsigned bytes times
// signed bytes, so weights are biased to unsigned (4-bit: value + 8, or 2v + 12 for E2M1;
// 8-bit: value + 128) and the accumulator starts at -bias * (sum of the 4 activation bytes of
// each lane), computed once per unit and block. Exact int32 sums per 4 elements, then one
// conversion and one fused multiply-add with the product of the two scales. MXINT4 and MXFP4
// take four units per step instead (run_int_quads): exact sums per 8 elements of a unit.
// BF16 runs against integer activations (with AVX512_BF16): one vdpbf16ps of the raw weights
// with the activation codes as BF16 per unit, then one FMA with the activation scale
// (run_bf16_pairs), on runs whose exponents keep every sum in float32's normal range.
//
// Every output's operation sequence depends only on its own row of W and row of A: never on
// the block size, the number of activation rows taken together, or the thread split.
#pragma once

#include <mpq/detail/force_inline.hpp>
#include <mpq/detail/x86_intrinsics.hpp>
#include <mpq/gemm/detail/scales.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

namespace mpq::detail::avx512 {

/// Whether the 4-bit codes of F are E2M1 (decoded to 2v) rather than two's complement integers.
template <weight_format F>
constexpr bool e2m1_codes() {
    return F == weight_format::mxfp4 || F == weight_format::nvfp4 || F == weight_format::fp4_vector;
}

/// Pre-scale value (see kernel_code_value) of 4-bit code c of F, as an integer.
template <weight_format F>
constexpr int nibble_value(std::uint32_t c) {
    if constexpr (e2m1_codes<F>()) {
        constexpr int twice[8] = {0, 1, 2, 3, 4, 6, 8, 12};
        return c < 8 ? twice[c] : -twice[c - 8];
    } else {
        return c < 8 ? static_cast<int>(c) : static_cast<int>(c) - 16;
    }
}

/// 16-entry float table of the pre-scale values of the 4-bit codes of F.
template <weight_format F>
MPQ_FORCE_INLINE __m512 nibble_float_table() {
    alignas(64) static constexpr auto table = [] {
        std::array<float, 16> t{};
        for (std::uint32_t c = 0; c < 16; ++c) t[c] = static_cast<float>(nibble_value<F>(c));
        return t;
    }();
    return _mm512_load_ps(table.data());
}

/// The 32 pre-scale values of a unit (see kernel_code_value): elements 0..15 and 16..31.
template <weight_format F>
MPQ_FORCE_INLINE void unit_values(const std::uint8_t* codes, __m512& lo, __m512& hi) {
    constexpr weight_format_info i = info(F);
    if constexpr (i.code_bits == 4) {
        // Byte j holds element j (low nibble) and j + 16 (high nibble); vpermps reads only
        // the low 4 bits of each index.
        const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
        const __m512 table = nibble_float_table<F>();
        lo = _mm512_permutexvar_ps(bytes, table);
        hi = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), table);
    } else if constexpr (i.integer_codes) { // 8-bit integers
        lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes))));
        hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16))));
    } else if constexpr (i.code_bits == 8) { // FP8 through binary16 (see the AVX2 kernels)
        auto fp8x16 = [](const std::uint8_t* p) MPQ_FORCE_INLINE_LAMBDA {
            const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
            if constexpr (F == weight_format::mxfp8_e5m2) {
                return _mm512_cvtph_ps(_mm256_slli_epi16(x, 8));
            } else {
                const __m256i sign = _mm256_slli_epi16(_mm256_and_si256(x, _mm256_set1_epi16(0x80)), 8);
                const __m256i magnitude = _mm256_slli_epi16(_mm256_and_si256(x, _mm256_set1_epi16(0x7F)), 7);
                return _mm512_mul_ps(_mm512_cvtph_ps(_mm256_or_si256(sign, magnitude)), _mm512_set1_ps(256.0f));
            }
        };
        lo = fp8x16(codes);
        hi = fp8x16(codes + 16);
    } else if constexpr (F == weight_format::bf16) {
        const auto* p = reinterpret_cast<const __m256i*>(codes);
        lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p)), 16));
        hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p + 1)), 16));
    } else if constexpr (F == weight_format::fp16) {
        const auto* p = reinterpret_cast<const __m256i*>(codes);
        lo = _mm512_cvtph_ps(_mm256_loadu_si256(p));
        hi = _mm512_cvtph_ps(_mm256_loadu_si256(p + 1));
    } else {
        const auto* f = reinterpret_cast<const float*>(codes);
        lo = _mm512_loadu_ps(f);
        hi = _mm512_loadu_ps(f + 16);
    }
}

/// Bias that makes the integer codes of F unsigned for vpdpbusd.
template <weight_format F>
constexpr int unsigned_bias() {
    if constexpr (info(F).code_bits == 8) return 128;
    else if constexpr (e2m1_codes<F>()) return 12; // 2v in [-12, 12]
    else return 8;
}

/// vpshufb table (64 bytes, every 16-byte lane alike): byte c holds 4-bit code c % 16 of F
/// as its biased unsigned value (unsigned_bias).
template <weight_format F>
MPQ_FORCE_INLINE const std::int8_t* biased_nibble_bytes() {
    alignas(64) static constexpr auto table = [] {
        std::array<std::int8_t, 64> t{};
        for (std::uint32_t c = 0; c < 64; ++c)
            t[c] = static_cast<std::int8_t>(nibble_value<F>(c % 16) + unsigned_bias<F>());
        return t;
    }();
    return table.data();
}

/// The 32 codes of a unit of an integer-coded format as biased unsigned bytes, in element order.
template <weight_format F>
MPQ_FORCE_INLINE __m256i unit_biased_u8(const std::uint8_t* codes) {
    if constexpr (info(F).code_bits == 4) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes));
        const __m128i mask = _mm_set1_epi8(0x0F);
        const __m128i lo = _mm_and_si128(raw, mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
        return _mm256_shuffle_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(biased_nibble_bytes<F>())),
                                   _mm256_set_m128i(hi, lo));
    } else {
        return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes)), _mm256_set1_epi8(-128));
    }
}

/// Whether a run kernel prefetches a later block of rows (W streaming from DRAM): `rows`
/// asks for each row's codes at a fixed distance, the bytes the same step of the block one
/// or two blocks on reads (the driver picks the distance; exactly those bytes within a row
/// group, whose rows share one layout; about those across a group boundary, where the next
/// group's rows may be a little longer or shorter).
enum class prefetch_mode { none, rows };

/// Pointers of one run for the R rows of a block and MR activation rows.
template <int R, int MR>
struct run_operands {
    std::array<const std::uint8_t*, R> codes;
    std::array<const std::uint8_t*, R> scales;
    std::size_t units = 0;
    std::array<const float*, MR> a;         ///< float activations at the run's first column
    std::array<const std::int8_t*, MR> q;   ///< int8 activation codes (integer path)
    std::array<const float*, MR> sa;        ///< activation unit scales (integer path)
    std::array<const std::int8_t*, MR> qp;  ///< pair-ordered int8 codes of the row, from column 0
    std::array<const float*, MR> sp;        ///< pair scale vectors of the row, from column 0
    std::array<const std::int8_t*, MR> qq;  ///< quad-ordered int8 codes of the row, from column 0
    std::array<const float*, MR> qf;        ///< quad-ordered float values of the row, from column 0
    std::array<const std::uint16_t*, MR> qb; ///< the codes as BF16 at the run's first column
    bool bf16_pairs = false;                ///< a BF16 run that takes run_bf16_pairs
    bool scales_normal = false;             ///< mixed_matrix::block_run::scales_normal
    std::size_t first_unit = 0;             ///< the run's first unit counted over the whole row
    /// Software prefetch of a later block (see prefetch_mode): each row's codes
    /// prefetch_offset bytes ahead.
    prefetch_mode prefetch = prefetch_mode::none;
    std::ptrdiff_t prefetch_offset = 0;
};

/// Asks for the line at `offset` bytes from p to be brought into L2. The address is computed
/// as an integer: near the end of W it may lie past the matrix (the block asked for can be
/// short or absent), where pointer arithmetic would be undefined; a prefetch never faults.
MPQ_FORCE_INLINE void prefetch_l2(const void* p, std::ptrdiff_t offset) {
    const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(p) + static_cast<std::uintptr_t>(offset);
    _mm_prefetch(reinterpret_cast<const char*>(address), _MM_HINT_T1);
}

/// Prefetch, in rows mode, of the bytes of a later block's row that correspond to `codes`.
/// Into L2 (hint T1), not L1: that block is at least a whole block ahead, and pulled into the
/// 32-48 KiB L1 it likely evicts lines the current block still reads. Measured on Zen 4
/// (GEMV, 4096 x 4096 from DRAM, MXINT4 x MXINT8): 0.44-0.47 ms into L2 against 0.64-0.72
/// into L1 and 0.86-0.97 without prefetch.
template <prefetch_mode Prefetch, int R, int MR>
MPQ_FORCE_INLINE void prefetch_next(const std::uint8_t* codes, const run_operands<R, MR>& op) {
    if constexpr (Prefetch == prefetch_mode::rows) prefetch_l2(codes, op.prefetch_offset);
}

/// Whether F's kernels take four units per step: 4-bit codes with one E8M0 scale per 32
/// elements (MXINT4, MXFP4), so the two nibble halves of a unit share one scale.
template <weight_format F>
constexpr bool quad_units() {
    return info(F).code_bits == 4 && info(F).scale == scale_storage::e8m0;
}

/// log2 of F's code multiplier (a power of two: 1/4 for MXINT4, 1/2 for E2M1).
template <weight_format F>
constexpr int code_multiplier_log2() {
    int e = 0;
    for (float m = info(F).code_multiplier; m < 1.0f; m *= 2.0f) --e;
    return e;
}

/// acc[r][m] += units [u0, u1) of W run row r . A[m] (float path, one unit per step).
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_float_units(const run_operands<R, MR>& op, const decode_context& ctx, std::size_t u0,
                                        std::size_t u1, __m512 (&acc_out)[R][MR]) {
    constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
    // Fresh accumulators per run, added at the end (as in the AVX2 kernels): each output's
    // sequence is the same whatever the block.
    __m512 acc[R][MR];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_setzero_ps();
    for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t k = u * gemm_unit;
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const std::uint8_t* codes = op.codes[r] + u * unit_bytes;
            prefetch_next<Prefetch>(codes, op);
            __m512 wlo, whi;
            unit_values<F>(codes, wlo, whi);
            weight_segment s{F, op.codes[r], op.scales[r], 0};
            float lo, hi;
            unit_scales<F>(s, u, ctx, lo, hi);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const __m512 alo = _mm512_loadu_ps(op.a[m] + k), ahi = _mm512_loadu_ps(op.a[m] + k + 16);
                if constexpr (info(F).group == 16) {
                    acc[r][m] = _mm512_fmadd_ps(_mm512_mul_ps(wlo, alo), _mm512_set1_ps(lo), acc[r][m]);
                    acc[r][m] = _mm512_fmadd_ps(_mm512_mul_ps(whi, ahi), _mm512_set1_ps(hi), acc[r][m]);
                } else if constexpr (info(F).scale == scale_storage::none) {
                    // The scale is 1: t * 1 + acc rounds once to the bits of t + acc, and the
                    // add leaves the multiply-add units to the products (M = 64 from BF16
                    // tiles: see bench/README.md).
                    acc[r][m] = _mm512_add_ps(_mm512_fmadd_ps(whi, ahi, _mm512_mul_ps(wlo, alo)), acc[r][m]);
                } else {
                    const __m512 t = _mm512_fmadd_ps(whi, ahi, _mm512_mul_ps(wlo, alo));
                    acc[r][m] = _mm512_fmadd_ps(t, _mm512_set1_ps(lo), acc[r][m]);
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc_out[r][m] = _mm512_add_ps(acc_out[r][m], acc[r][m]);
}

/// The 16-lane exponent vector of units u..u+3 of a row of F (lanes 4j..4j+3: unit u + j):
/// e - 127 - log2(code multiplier) per E8M0 byte e, NaN for code 255. vscalefps by it
/// multiplies by the unit's decoded scale (e8m0_table) with one rounding.
template <weight_format F>
MPQ_FORCE_INLINE __m512 quad_scale_exponents(const std::uint8_t* scales) {
    std::uint32_t scale_bytes;
    std::memcpy(&scale_bytes, scales, 4);
    const __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(scale_bytes)));
    const __m128 exponent = _mm_mask_mov_ps(_mm_cvtepi32_ps(_mm_sub_epi32(e, _mm_set1_epi32(e8m0::bias - code_multiplier_log2<F>()))),
                                            _mm_cmpeq_epi32_mask(e, _mm_set1_epi32(e8m0::nan_code)),
                                            _mm_set1_ps(std::numeric_limits<float>::quiet_NaN()));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                 _mm512_castps128_ps512(exponent));
}

/// The 16-lane scale vector of units u..u+3 of a row of F (lanes 4j..4j+3: unit u + j), each
/// lane the unit's e8m0_table value. Normal: all four scales are normal floats (see
/// mixed_matrix::block_run::scales_normal), built from their bits, (e - 127 + log2
/// multiplier + 127) << 23: the bytes, broadcast, go to the top byte of their lanes (vpshufb
/// in 128-bit lane L takes byte L) and one bit down. Otherwise vscalefps(1, exponent), exact
/// for every code.
template <weight_format F, bool Normal>
MPQ_FORCE_INLINE __m512 quad_scales(const std::uint8_t* scales) {
    if constexpr (Normal) {
        std::uint32_t bytes;
        std::memcpy(&bytes, scales, 4);
        const __m512i top = _mm512_shuffle_epi8(_mm512_set1_epi32(static_cast<int>(bytes)),
                                                _mm512_set_epi32(0x03FFFFFF, 0x03FFFFFF, 0x03FFFFFF, 0x03FFFFFF,
                                                                 0x02FFFFFF, 0x02FFFFFF, 0x02FFFFFF, 0x02FFFFFF,
                                                                 0x01FFFFFF, 0x01FFFFFF, 0x01FFFFFF, 0x01FFFFFF,
                                                                 0x00FFFFFF, 0x00FFFFFF, 0x00FFFFFF, 0x00FFFFFF));
        return _mm512_castsi512_ps(
            _mm512_add_epi32(_mm512_srli_epi32(top, 1), _mm512_set1_epi32(code_multiplier_log2<F>() * (1 << 23))));
    } else {
        return _mm512_scalef_ps(_mm512_set1_ps(1.0f), quad_scale_exponents<F>(scales));
    }
}

/// Units of a run before its first four-unit step: the run may start inside a quad of the
/// row (units 4q..4q+3), whose first units then take single-unit steps.
template <int R, int MR>
MPQ_FORCE_INLINE std::size_t units_before_quads(const run_operands<R, MR>& op) {
    return std::min<std::size_t>((4 - op.first_unit % 4) % 4, op.units);
}

/// acc[r][m] += W run row r . A[m] (float path) for MXINT4 / MXFP4: four units per step,
/// units 4q..4q+3 of the row (the order of packed_activations::quad_values), single units at
/// the edges.
///
/// Each lane sums 8 products of one unit in float32 (a multiply, then FMAs in shift order),
/// and the sum is multiplied by the unit's scale into the accumulator.
///
/// Why: Zen 4 issues about two 512-bit vector operations per cycle whatever their kind (FMA,
/// shift, permute: measured in isolation and in pairs), so this path costs its operation
/// count. The one-unit step spends 8 per unit and row (a byte-to-int32 widening, a shift, two
/// vpermps, a multiply, two FMAs, a scale broadcast). Here one 64-byte load of four units is
/// the index of 8 vpermps, shifted right by 4 each time, and the four scales come from their
/// bits as one vector (quad_scales): about 7.25. Measured on Zen 4, 1 thread: GEMV 4096 x
/// 4096 from cache 0.60-0.61 ms against 0.68-0.69; M = 8 from DRAM 3.2-3.4 ms against
/// 3.75-3.8.
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_float_quads(const run_operands<R, MR>& op, const decode_context& ctx,
                                        __m512 (&acc_out)[R][MR]) {
    static_assert(quad_units<F>());
    std::size_t u = units_before_quads(op);
    if (u > 0) run_float_units<F, R, MR, Prefetch>(op, ctx, 0, u, acc_out);
    const __m512 table = nibble_float_table<F>();
    const auto quads = [&]<bool Normal>() MPQ_FORCE_INLINE_LAMBDA {
        for (; u + 4 <= op.units; u += 4) {
            const std::size_t quad = (op.first_unit + u) / 4;
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const std::uint8_t* codes = op.codes[r] + u * 16;
                prefetch_next<Prefetch>(codes, op);
                const __m512i raw = _mm512_loadu_si512(codes);
                __m512 sum[MR];
#pragma GCC unroll 8
                for (int v = 0; v < 8; ++v) {
                    const __m512 w = _mm512_permutexvar_ps(_mm512_srli_epi32(raw, 4 * v), table);
#pragma GCC unroll 8
                    for (int m = 0; m < MR; ++m) {
                        const __m512 a = _mm512_load_ps(op.qf[m] + 128 * quad + 16 * v);
                        sum[m] = v == 0 ? _mm512_mul_ps(w, a) : _mm512_fmadd_ps(w, a, sum[m]);
                    }
                }
                const __m512 scale = quad_scales<F, Normal>(op.scales[r] + u);
#pragma GCC unroll 8
                for (int m = 0; m < MR; ++m) acc_out[r][m] = _mm512_fmadd_ps(sum[m], scale, acc_out[r][m]);
            }
        }
    };
    if (op.scales_normal) quads.template operator()<true>();
    else quads.template operator()<false>();
    if (u < op.units) run_float_units<F, R, MR, Prefetch>(op, ctx, u, op.units, acc_out);
}

/// acc[r][m] += W run row r . A[m] (float path).
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_float(const run_operands<R, MR>& op, const decode_context& ctx, __m512 (&acc)[R][MR]) {
    if constexpr (quad_units<F>()) run_float_quads<F, R, MR, Prefetch>(op, ctx, acc);
    else run_float_units<F, R, MR, Prefetch>(op, ctx, 0, op.units, acc);
}

/// acc[r][m] += units [u0, u1) of W run row r . A[m] (integer path, one unit per step,
/// exact int32 per 4 elements).
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_int_units(const run_operands<R, MR>& op, const decode_context& ctx, std::size_t u0,
                                      std::size_t u1, __m512 (&acc_out)[R][MR]) {
    static_assert(info(F).integer_codes);
    constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(unsigned_bias<F>()));
    __m256 acc[R][MR];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc[r][m] = _mm256_setzero_ps();
    for (std::size_t u = u0; u < u1; ++u) {
        __m256i a[MR], start[MR];
        __m256 sa[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            a[m] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(op.q[m] + u * gemm_unit));
            // -bias * (sum of each lane's 4 activation bytes): removes the weights' bias.
            start[m] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, a[m]));
            sa[m] = _mm256_set1_ps(op.sa[m][u]);
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const std::uint8_t* codes = op.codes[r] + u * unit_bytes;
            prefetch_next<Prefetch>(codes, op);
            const __m256i w = unit_biased_u8<F>(codes);
            weight_segment s{F, op.codes[r], op.scales[r], 0};
            float lo, hi;
            unit_scales<F>(s, u, ctx, lo, hi);
            // int32 lane j holds elements 4j..4j+3: lanes 0-3 are elements 0..15, 4-7 are 16..31.
            const __m256 sw = info(F).group == 16 ? _mm256_set_m128(_mm_set1_ps(hi), _mm_set1_ps(lo)) : _mm256_set1_ps(lo);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const __m256 dot = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start[m], w, a[m]));
                acc[r][m] = _mm256_fmadd_ps(dot, _mm256_mul_ps(sw, sa[m]), acc[r][m]);
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m)
            acc_out[r][m] = _mm512_add_ps(acc_out[r][m], _mm512_zextps256_ps512(acc[r][m]));
}

/// The 16-lane weight scale vector of units u and u + 1 for the int32 lanes of a two-unit
/// step: 4-bit codes [u lo, u+1 lo, u hi, u+1 hi] (4 lanes each), 8-bit [u, u+1] (8 each).
template <weight_format F>
MPQ_FORCE_INLINE __m512 pair_weight_scales(const weight_segment& s, std::size_t u, const decode_context& ctx) {
    float lo0, hi0, lo1, hi1;
    unit_scales<F>(s, u, ctx, lo0, hi0);
    unit_scales<F>(s, u + 1, ctx, lo1, hi1);
    if constexpr (info(F).code_bits == 4) {
        const __m128 v = _mm_setr_ps(lo0, lo1, hi0, hi1);
        return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                     _mm512_castps128_ps512(v));
    } else {
        return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                     _mm512_castps128_ps512(_mm_unpacklo_ps(_mm_set_ss(lo0), _mm_set_ss(lo1))));
    }
}

/// Two units of a row of an integer-coded format as biased unsigned bytes in the order of
/// the activations they meet: 4-bit codes in pair order (one 32-byte load, no lane
/// crossing: low nibbles then high nibbles), 8-bit codes in element order.
template <weight_format F>
MPQ_FORCE_INLINE __m512i pair_biased_u8(const std::uint8_t* codes) {
    if constexpr (info(F).code_bits == 4) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
        const __m256i mask = _mm256_set1_epi8(0x0F);
        const __m256i lo = _mm256_and_si256(raw, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
        return _mm512_shuffle_epi8(_mm512_load_si512(biased_nibble_bytes<F>()),
                                   _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    } else {
        return _mm512_xor_si512(_mm512_loadu_si512(codes), _mm512_set1_epi8(-128));
    }
}

/// acc[r][m] += W run row r . A[m] (integer path): two units per step where they pair up
/// (4-bit codes pair units 2p and 2p + 1 of the row, matching the pair-ordered activations;
/// 8-bit codes any two), single units at the edges. Exact int32 sums per 4 elements.
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_int(const run_operands<R, MR>& op, const decode_context& ctx, __m512 (&acc_out)[R][MR]) {
    constexpr bool four_bit = info(F).code_bits == 4;
    constexpr std::size_t unit_bytes = gemm_unit * info(F).code_bits / 8;
    std::size_t u = 0;
    if (four_bit && op.first_unit % 2 == 1 && op.units > 0) {
        run_int_units<F, R, MR, Prefetch>(op, ctx, 0, 1, acc_out);
        u = 1;
    }
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(unsigned_bias<F>()));
    const __m512i act_scale_index = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (; u + 1 < op.units; u += 2) {
        __m512i a[MR], start[MR];
        __m512 sa[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            if constexpr (four_bit) {
                const std::size_t column = (op.first_unit + u) * gemm_unit;
                a[m] = _mm512_loadu_si512(op.qp[m] + column);
                sa[m] = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(
                    reinterpret_cast<const double*>(op.sp[m] + (op.first_unit + u) / 2 * 8))));
            } else {
                a[m] = _mm512_loadu_si512(op.q[m] + u * gemm_unit);
                // The two unit scales as one unaligned 8-byte load (a run may start at an odd
                // unit, so they need not sit on an 8-byte boundary).
                sa[m] = _mm512_permutexvar_ps(act_scale_index,
                                              _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64(
                                                  reinterpret_cast<const __m128i*>(op.sa[m] + u)))));
            }
            start[m] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a[m]));
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const std::uint8_t* codes = op.codes[r] + u * unit_bytes;
            prefetch_next<Prefetch>(codes, op);
            const __m512i w = pair_biased_u8<F>(codes);
            const __m512 sw = pair_weight_scales<F>(weight_segment{F, op.codes[r], op.scales[r], 0}, u, ctx);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start[m], w, a[m]));
                acc_out[r][m] = _mm512_fmadd_ps(dot, _mm512_mul_ps(sw, sa[m]), acc_out[r][m]);
            }
        }
    }
    if (u < op.units) run_int_units<F, R, MR, Prefetch>(op, ctx, u, op.units, acc_out);
}

/// acc[r][m] += W run row r . A[m] (integer path) for MXINT4 / MXFP4: four units per step,
/// units 4q..4q+3 of the row (the activations' quad order), single units at the edges.
///
/// Why: one 64-byte load splits into two nibble vectors whose bytes meet the two halves of the
/// quad-ordered activations; both vpdpbusd chain into one int32 accumulator per 8 elements of
/// one unit (exact), so a unit costs a quarter of a load, of a nibble split, of a conversion
/// and of an FMA, and half a vpdpbusd, about half the work of two-unit steps (M = 8 to 512
/// run 30-40 % faster on Zen 5). The weight scale is applied as vscalefps(a_scale,
/// e - 127 - log2 multiplier), which rounds a_scale * 2^(e-127) * multiplier once, as the
/// product with the E8M0 table value does; E8M0 code 255 becomes NaN.
template <weight_format F, int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_int_quads(const run_operands<R, MR>& op, const decode_context& ctx,
                                      __m512 (&acc_out)[R][MR]) {
    static_assert(quad_units<F>());
    std::size_t u = units_before_quads(op);
    if (u > 0) run_int_units<F, R, MR, Prefetch>(op, ctx, 0, u, acc_out);
    const __m512i biased = _mm512_load_si512(biased_nibble_bytes<F>());
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(unsigned_bias<F>()));
    const __m512i unit_of_lane = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (; u + 4 <= op.units; u += 4) {
        const std::size_t quad = (op.first_unit + u) / 4;
        const std::int8_t* act[MR];
        __m512i start[MR];
        __m512 sa[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            act[m] = op.qq[m] + 128 * quad;
            // -bias * (sum of each lane's 8 activation bytes): removes the weights' bias.
            start[m] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                        _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, _mm512_load_si512(act[m])), bias, _mm512_load_si512(act[m] + 64)));
            sa[m] = _mm512_permutexvar_ps(unit_of_lane, _mm512_castps128_ps512(_mm_loadu_ps(op.sa[m] + u)));
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const std::uint8_t* codes = op.codes[r] + u * 16;
            prefetch_next<Prefetch>(codes, op);
            const __m512i raw = _mm512_loadu_si512(codes);
            const __m512i lo = _mm512_shuffle_epi8(biased, _mm512_and_si512(raw, nibble));
            const __m512i hi = _mm512_shuffle_epi8(biased, _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble));
            const __m512 exponents = quad_scale_exponents<F>(op.scales[r] + u);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start[m], lo, _mm512_load_si512(act[m])), hi, _mm512_load_si512(act[m] + 64));
                acc_out[r][m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_scalef_ps(sa[m], exponents), acc_out[r][m]);
            }
        }
    }
    if (u < op.units) run_int_units<F, R, MR, Prefetch>(op, ctx, u, op.units, acc_out);
}

#if defined(__AVX512BF16__)
/// acc[r][m] += W run row r . A[m] for a BF16 run against integer activations, one vdpbf16ps
/// per 32-element unit: lane j gets c(2j+1)·w(2j+1) + c(2j)·w(2j) rounded once (both
/// products are exact in float32), then one fused multiply-add with the activation scale.
///
/// Why: the float path widens the 32 weights to two float vectors and spends a multiply and
/// two FMAs per unit and activation row; this loads them as they are and spends two
/// instructions. vdpbf16ps treats subnormal inputs and results as zero, so it runs only on
/// runs marked bf16_pair_safe, where none can occur (mixed_matrix::bf16_pair_exponent_limit):
/// the sums are then the IEEE ones.
template <int R, int MR, prefetch_mode Prefetch>
MPQ_FORCE_INLINE void run_bf16_pairs(const run_operands<R, MR>& op, __m512 (&acc)[R][MR]) {
    for (std::size_t u = 0; u < op.units; ++u) {
        __m512 sa[MR];
        __m512bh a[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            sa[m] = _mm512_set1_ps(op.sa[m][u]);
            a[m] = (__m512bh)_mm512_loadu_si512(op.qb[m] + u * gemm_unit);
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const std::uint8_t* codes = op.codes[r] + u * 2 * gemm_unit;
            prefetch_next<Prefetch>(codes, op);
            const __m512bh w = (__m512bh)_mm512_loadu_si512(codes);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m)
                acc[r][m] = _mm512_fmadd_ps(_mm512_dpbf16_ps(_mm512_setzero_ps(), w, a[m]), sa[m], acc[r][m]);
        }
    }
}
#endif

/// Sums of the 16 lanes of each of 8 vectors, in one vector: lanes i and i + 8 first, then a
/// fixed pairwise tree. Each sum's tree involves only its own vector, so the result for one
/// vector does not depend on the other seven (zero vectors pad short blocks).
MPQ_FORCE_INLINE __m256 reduce8(const __m512 (&v)[8]) {
    __m256 h[8];
    for (int i = 0; i < 8; ++i)
        h[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[i]), 1)));
    const __m256 p01 = _mm256_hadd_ps(h[0], h[1]), p23 = _mm256_hadd_ps(h[2], h[3]);
    const __m256 p45 = _mm256_hadd_ps(h[4], h[5]), p67 = _mm256_hadd_ps(h[6], h[7]);
    // q0 = [s0 s1 s2 s3 | s0' s1' s2' s3'] (low and high 128-bit halves of each sum)
    const __m256 q0 = _mm256_hadd_ps(p01, p23), q1 = _mm256_hadd_ps(p45, p67);
    const __m256 lo = _mm256_permute2f128_ps(q0, q1, 0x20), hi = _mm256_permute2f128_ps(q0, q1, 0x31);
    return _mm256_add_ps(lo, hi);
}

} // namespace mpq::detail::avx512
