// The SIMD quantize, fake-quantize and dequantize kernels of every block format, as functors
// templated on the xsimd architecture (the public functions in mpq/kernel.hpp forward here).
//
// Shape of the work:
// - blocks along rows: a row is cut into pieces of whole blocks (whole bytes of packed codes);
//   per block, one SIMD pass finds the amax (an integer max over |x| bit patterns), the scale
//   comes from the reference's own scalar rule, and a second pass encodes the block's elements
//   on 32-bit integer lanes (element_encode.hpp) and stages the codes for packing;
// - blocks down columns: the same two passes, vectorised across columns, with per-lane scales;
// - per-tensor and NVFP4 first find the tensor amax (in parallel), then run as above.
// Stochastic rounding draws counter_random{seed}(r * cols + c) per element, as the reference.
#pragma once

#include <mpq/format/geometry.hpp>
#include <mpq/format/quantized.hpp>
#include <mpq/kernel/element_encode.hpp>
#include <mpq/kernel/nearest_even.hpp>
#include <mpq/kernel/parallel.hpp>
#include <mpq/kernel/policy.hpp>
#include <mpq/kernel/simd_ops.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

namespace mpq::kernel::detail {

/// Element values of code lanes: a register permute of the 16-entry table for 4-bit codes
/// where the ISA has one (AVX2, AVX-512), arithmetic decoding (nearest_even.hpp) otherwise.
template <class Element, class A>
MPQ_FORCE_INLINE float_batch<A> decode_lanes(const int_batch<A>& code) {
    if constexpr (Element::code_count == 16 && (std::is_base_of_v<xsimd::avx2, A> || std::is_base_of_v<xsimd::avx512f, A>)) {
        return lookup<Element::code_count, A>(decode_table<Element>.data(), code, A{});
    } else {
        return lane_decoder<Element>::template decode<A>(code);
    }
}

/// Elements per row piece: whole groups (unless the scale is tensor-wide) and a multiple of 4,
/// so every piece starts on a fresh byte of packed 4- and 6-bit codes.
inline std::size_t piece_length(std::size_t group, std::size_t cols, bool tensor_wide) {
    constexpr std::size_t target = 16384;
    const std::size_t unit = tensor_wide ? 4 : std::lcm(group, std::size_t{4});
    const std::size_t p = std::max(unit, target / unit * unit);
    return std::max<std::size_t>(1, std::min(p, cols));
}

template <class Format, class A>
struct block_job {
    using P = policy<Format>;
    using element = typename P::element;
    using scale_type = typename P::scale_type;
    static constexpr int bits = element::bits;
    static constexpr std::size_t N = compat::lanes<A>;
    static constexpr std::size_t table_size = element::code_count;

    block_geometry g;
    const float* input = nullptr;
    std::size_t input_stride = 0;
    quantize_options options;
    float tensor_scale = 1.0f;
    const group_params* fixed = nullptr; ///< tensor-wide scale: every element uses these
    // Quantize writes packed codes and scales; fake-quantize writes decoded floats.
    std::uint8_t* codes = nullptr;
    std::size_t row_bytes = 0;
    scale_type* scales = nullptr;
    float* fake = nullptr;
    std::size_t fake_stride = 0;

    std::size_t piece = 1;
    std::size_t pieces_per_row = 0;
    std::size_t groups_per_row = 0;
    /// Whether the float environment is the default one (set by run(); nearest_even.hpp).
    bool float_environment = false;
    /// Whether nearest-even rounding may take the fast path (set by run()).
    bool fast_environment = false;

    void plan() {
        piece = piece_length(g.group, g.cols, fixed != nullptr);
        pieces_per_row = g.cols == 0 ? 0 : (g.cols + piece - 1) / piece;
        groups_per_row = (g.cols + g.group - 1) / g.group;
    }
    bool by_rows() const { return fixed != nullptr || g.axis == block_axis::rows; }
    std::size_t task_count() const { return by_rows() ? g.rows * pieces_per_row : g.groups_per_lane(); }

    template <rounding Mode>
    MPQ_FORCE_INLINE int_batch<A> encode(const float_batch<A>& x, const int_batch<A>& exponent,
                        const float_batch<A>& divisor, std::uint64_t index) const {
        float_batch<A> y = x;
        if constexpr (P::divides) y = x / divisor;
        int_batch<A> random(0);
        if constexpr (Mode == rounding::stochastic) random = random_lanes<A>(counter_random{options.seed}, index);
        return lane_encoder<element>::template encode<Mode, A>(xsimd::bitwise_cast<int_batch<A>>(y), exponent, random);
    }

    /// The fast path's encode (nearest_even.hpp): round-to-nearest-even only.
    MPQ_FORCE_INLINE int_batch<A> encode_fast(const float_batch<A>& x, const float_batch<A>& fast_multiplier,
                                               const float_batch<A>& divisor) const {
        float_batch<A> y = x;
        if constexpr (P::divides) {
            y = x / divisor;
            if constexpr (nearest_even_encoder<element>::input_exponent != 0) y = y * fast_multiplier;
        } else {
            y = x * fast_multiplier;
        }
        return nearest_even_encoder<element>::template encode<A>(y);
    }

    MPQ_FORCE_INLINE float_batch<A> decode(const int_batch<A>& code) const { return decode_lanes<element, A>(code); }

    template <rounding Mode>
    void run_task(std::size_t t) const {
        if (by_rows()) {
            const std::size_t r = t / pieces_per_row, p = t % pieces_per_row;
            rows_piece<Mode>(r, p * piece, std::min(g.cols, (p + 1) * piece));
        } else {
            columns_piece<Mode>(t);
        }
    }

    /// The fast path's codes of the N elements at x, in a group with group_lanes values `step`
    /// and `keep` (code 0 where keep is 0).
    MPQ_FORCE_INLINE int_batch<A> fast_codes(const float* x, const float_batch<A>& step,
                                              const int_batch<A>& keep) const {
        const float_batch<A> fast_multiplier(power_of_two(nearest_even_encoder<element>::input_exponent));
        return encode_fast(float_batch<A>::load_unaligned(x), P::divides ? fast_multiplier : step, step) & keep;
    }

    /// One whole group of a multiple of N elements on the fast path, with group k of `l`'s
    /// values: packed codes straight into the row (8- and 4-bit codes), or decoded values into y.
    MPQ_FORCE_INLINE void fast_group(const float* x, const group_lanes<N>& l, std::size_t k, std::uint8_t* code_row,
                                      float* y, std::size_t s) const {
        const float_batch<A> step(l.step[k]);
        const int_batch<A> keep(l.keep[k]);
        auto code_at = [&](std::size_t i) MPQ_FORCE_INLINE_LAMBDA { return fast_codes(x + i, step, keep); };
        if (y == nullptr) {
            for (std::size_t i = 0; i < g.group; i += N) store_packed<bits, A>(code_at(i), code_row + (s + i) * bits / 8, A{});
        } else {
            const float_batch<A> multiplier(l.multiplier[k]);
            for (std::size_t i = 0; i < g.group; i += N) (decode(code_at(i)) * multiplier).store_unaligned(y + s + i);
        }
    }

    /// N whole groups of exactly N elements each (blocks of 16 on AVX-512, of 8 on AVX2) on the
    /// fast path: one batched amax and scale step, then every group's codes with no per-group
    /// decisions. Writes the N scales to `scale_out`; returns false, having written nothing
    /// else, when a group needs the general loop (a tiny MX block whose fast multiplier is not
    /// a float).
    template <bool Fake>
    MPQ_FORCE_INLINE bool full_lane_groups(const float* x, scale_type* scale_out, std::uint8_t* code_row, float* y,
                                            std::size_t s) const {
        alignas(64) std::array<std::int32_t, N> amax{};
        group_amax_bits<A>(x, N, N, N * N, amax.data(), A{});
        group_lanes<N> l;
        P::template lanes<A>(amax.data(), N, scale_out, l, options, tensor_scale);
        if (!xsimd::all(int_batch<A>::load_aligned(l.fast.data()) != int_batch<A>(0))) return false;
        for (std::size_t k = 0; k < N; ++k) {
            const int_batch<A> code = fast_codes(x + k * N, float_batch<A>(l.step[k]), int_batch<A>(l.keep[k]));
            if constexpr (Fake) {
                (decode(code) * float_batch<A>(l.multiplier[k])).store_unaligned(y + s + k * N);
            } else {
                store_packed<bits, A>(code, code_row + (s + k * N) * bits / 8, A{});
            }
        }
        return true;
    }

    /// Elements [e0, e1) of row r (e0 starts a piece).
    template <rounding Mode>
    void rows_piece(std::size_t r, std::size_t e0, std::size_t e1) const {
        const float* x = input + r * input_stride;
        float* y = fake != nullptr ? fake + r * fake_stride : nullptr;
        const std::uint64_t base = static_cast<std::uint64_t>(r) * g.cols;
        std::uint8_t* const code_row = codes != nullptr ? codes + r * row_bytes : nullptr;
        code_stager<bits, A> stage(code_row, e0);
        // Whole vectors of codes go straight into the row when every vector starts on a
        // multiple of the lane count (whole-vector groups or a tensor-wide scale), so on a
        // byte boundary for 4- and 6-bit codes too; otherwise through the stager.
        const bool direct = fixed != nullptr || g.group % N == 0;
        auto run = [&](std::size_t s, std::size_t n, const group_params& gp) MPQ_FORCE_INLINE_LAMBDA {
            const int_batch<A> exponent(gp.exponent);
            const float_batch<A> divisor(gp.divisor), multiplier(gp.multiplier);
            auto emit = [&](const int_batch<A>& code, std::size_t count, std::size_t at) MPQ_FORCE_INLINE_LAMBDA {
                if (y == nullptr) {
                    if (direct) {
                        if (count == N) {
                            store_packed<bits, A>(code, code_row + at * bits / 8, A{});
                        } else {
                            alignas(64) std::array<std::uint8_t, N + 64> tail{};
                            store_code_bytes<A>(code, tail.data(), A{});
                            pack_codes<bits>(tail.data(), count, code_row, at);
                        }
                        return;
                    }
                    stage.put(code, count);
                } else if (count == N) {
                    (decode(code) * multiplier).store_unaligned(y + at);
                } else {
                    store_partial<A>(y + at, decode(code) * multiplier, count);
                }
            };
            auto loop = [&](auto code_of) MPQ_FORCE_INLINE_LAMBDA {
                std::size_t i = 0;
                for (; i + N <= n; i += N) emit(code_of(float_batch<A>::load_unaligned(x + s + i), s + i), N, s + i);
                if (i < n) emit(code_of(load_partial<A>(x + s + i, n - i), s + i), n - i, s + i);
            };
            if (gp.zero) {
                loop([](const float_batch<A>&, std::size_t) MPQ_FORCE_INLINE_LAMBDA { return int_batch<A>(0); });
            } else if (Mode == rounding::nearest_even && fast_environment && gp.fast) {
                const float_batch<A> fast_multiplier(gp.fast_multiplier);
                loop([&](const float_batch<A>& v, std::size_t) MPQ_FORCE_INLINE_LAMBDA {
                    return encode_fast(v, fast_multiplier, divisor);
                });
            } else {
                loop([&](const float_batch<A>& v, std::size_t at) MPQ_FORCE_INLINE_LAMBDA {
                    return encode<Mode>(v, exponent, divisor, base + at);
                });
            }
        };
        if (fixed != nullptr) {
            run(e0, e1 - e0, *fixed);
        } else {
            // Row-axis scales are [row][group]: one pointer per row, no index arithmetic per block.
            scale_type unused{};
            scale_type* scale_row = scales != nullptr ? scales + r * groups_per_row : nullptr;
            const std::size_t group = g.group;
            // MX and NVFP4: amax and scales of up to `lanes` groups at a time, on lanes (NVFP4's
            // scale divides, so it needs the default float environment).
            if constexpr (!P::divides || std::is_same_v<Format, nvfp4>) {
                if (!P::divides || float_environment) {
                    // Whole-vector groups on the fast path get a loop with no per-vector decisions.
                    const bool fast_groups = Mode == rounding::nearest_even && fast_environment && group % N == 0 &&
                                             (y != nullptr || direct);
                    alignas(64) std::array<std::int32_t, N> amax{};
                    std::array<scale_type, N> batch_scales{};
                    group_lanes<N> lanes;
                    for (std::size_t b = e0 / group, s = b * group; s < e1;) {
                        const std::size_t count = std::min(N, (e1 - s + group - 1) / group);
                        scale_type* out = scale_row != nullptr ? scale_row + b : batch_scales.data();
                        if (fast_groups && group == N && count == N && s + N * N <= g.cols &&
                            (y != nullptr ? full_lane_groups<true>(x + s, out, code_row, y, s)
                                          : full_lane_groups<false>(x + s, out, code_row, y, s))) {
                            b += N;
                            s += N * N;
                            continue;
                        }
                        group_amax_bits<A>(x + s, group, count, g.cols - s, amax.data(), A{});
                        P::template lanes<A>(amax.data(), count, out, lanes, options, tensor_scale);
                        for (std::size_t k = 0; k < count; ++k, ++b, s += group) {
                            if (fast_groups && lanes.fast[k] != 0 && s + group <= g.cols) {
                                fast_group(x + s, lanes, k, code_row, y, s);
                            } else {
                                run(s, std::min(group, g.cols - s), P::params(lanes, k));
                            }
                        }
                    }
                    if (y == nullptr && !direct) stage.finish();
                    return;
                }
            }
            for (std::size_t b = e0 / group, s = b * group; s < e1; ++b, s += group) {
                const std::size_t n = std::min(group, g.cols - s);
                scale_type& scale = scale_row != nullptr ? scale_row[b] : unused;
                run(s, n, P::group(amax_bits<A>(x + s, n), scale, options, tensor_scale));
            }
        }
        if (y == nullptr && !direct) stage.finish();
    }

    /// The `group`-row band gb of a tensor blocked down its columns.
    template <rounding Mode>
    void columns_piece(std::size_t gb) const {
        const std::size_t cols = g.cols, r0 = gb * g.group, nr = g.group_length(gb);
        const std::size_t padded = (cols + N - 1) / N * N;
        std::vector<std::int32_t> amax(padded, 0), exponent(padded, 0), zero(padded, -1);
        std::vector<float> divisor(padded, 1.0f), multiplier(padded, 1.0f), fast_multiplier(padded, 1.0f);
        bool fast = Mode == rounding::nearest_even && fast_environment;
        const int_batch<A> abs_mask(0x7fffffff);
        for (std::size_t r = r0; r < r0 + nr; ++r) {
            const float* x = input + r * input_stride;
            for (std::size_t c = 0; c < cols; c += N) {
                const float_batch<A> v = c + N <= cols ? float_batch<A>::load_unaligned(x + c)
                                                       : load_partial<A>(x + c, cols - c);
                const int_batch<A> a = xsimd::max(int_batch<A>::load_unaligned(amax.data() + c),
                                                  xsimd::bitwise_cast<int_batch<A>>(v) & abs_mask);
                a.store_unaligned(amax.data() + c);
            }
        }
        scale_type unused{};
        for (std::size_t c = 0; c < cols; ++c) {
            scale_type& scale = scales != nullptr ? scales[g.scale_index(c, gb)] : unused;
            const group_params gp =
                P::group(static_cast<std::uint32_t>(amax[c]), scale, options, tensor_scale);
            exponent[c] = gp.exponent;
            divisor[c] = gp.divisor;
            multiplier[c] = gp.multiplier;
            fast_multiplier[c] = gp.fast_multiplier;
            fast = fast && gp.fast;
            zero[c] = gp.zero ? -1 : 0;
        }
        for (std::size_t r = r0; r < r0 + nr; ++r) {
            const float* x = input + r * input_stride;
            float* y = fake != nullptr ? fake + r * fake_stride : nullptr;
            code_stager<bits, A> stage(codes != nullptr ? codes + r * row_bytes : nullptr, 0);
            const std::uint64_t base = static_cast<std::uint64_t>(r) * cols;
            for (std::size_t c = 0; c < cols; c += N) {
                const std::size_t count = std::min(N, cols - c);
                const float_batch<A> v = count == N ? float_batch<A>::load_unaligned(x + c)
                                                    : load_partial<A>(x + c, count);
                int_batch<A> code =
                    fast ? encode_fast(v, float_batch<A>::load_unaligned(fast_multiplier.data() + c),
                                       float_batch<A>::load_unaligned(divisor.data() + c))
                         : encode<Mode>(v, int_batch<A>::load_unaligned(exponent.data() + c),
                                        float_batch<A>::load_unaligned(divisor.data() + c), base + c);
                code = code & ~int_batch<A>::load_unaligned(zero.data() + c);
                if (y == nullptr) {
                    stage.put(code, count);
                } else {
                    const float_batch<A> value = decode(code) * float_batch<A>::load_unaligned(multiplier.data() + c);
                    if (count == N) value.store_unaligned(y + c);
                    else store_partial<A>(y + c, value, count);
                }
            }
            if (y == nullptr) stage.finish();
        }
    }

    void run(const parallel_options& parallel) {
        float_environment = default_float_environment();
        fast_environment = options.round == rounding::nearest_even && float_environment;
        switch (options.round) {
        case rounding::nearest_even: run_pieces(task_count(), parallel, [this](std::size_t t) { run_task<rounding::nearest_even>(t); }); break;
        case rounding::nearest_away: run_pieces(task_count(), parallel, [this](std::size_t t) { run_task<rounding::nearest_away>(t); }); break;
        case rounding::toward_zero: run_pieces(task_count(), parallel, [this](std::size_t t) { run_task<rounding::toward_zero>(t); }); break;
        case rounding::stochastic: run_pieces(task_count(), parallel, [this](std::size_t t) { run_task<rounding::stochastic>(t); }); break;
        }
    }
};

/// Largest |x| bit pattern over a rows x cols tensor (finite values only if `finite_only`).
template <class A>
std::uint32_t tensor_amax_bits(const float* input, std::size_t stride, std::size_t rows, std::size_t cols,
                               bool finite_only, const parallel_options& parallel) {
    const std::size_t piece = piece_length(1, cols, true);
    const std::size_t per_row = cols == 0 ? 0 : (cols + piece - 1) / piece;
    std::vector<std::uint32_t> partial(rows * per_row, 0);
    run_pieces(partial.size(), parallel, [&](std::size_t t) {
        const std::size_t r = t / per_row, e0 = t % per_row * piece, n = std::min(cols, e0 + piece) - e0;
        const float* x = input + r * stride + e0;
        partial[t] = finite_only ? finite_amax_bits<A>(x, n) : amax_bits<A>(x, n);
    });
    return partial.empty() ? 0U : *std::max_element(partial.begin(), partial.end());
}

/// Fills the tensor-level parts of a job: NVFP4's tensor scale, a per-tensor format's one group.
template <class Format, class A>
void prepare_tensor_level(block_job<Format, A>& job, group_params& tensor_group,
                          typename policy<Format>::scale_type* tensor_scale_out,
                          const parallel_options& parallel) {
    using P = policy<Format>;
    if constexpr (std::is_same_v<Format, nvfp4>) {
        const float amax = job.options.tensor_amax
                               ? *job.options.tensor_amax
                               : mpq::detail::float_of(tensor_amax_bits<A>(job.input, job.input_stride, job.g.rows,
                                                                           job.g.cols, true, parallel));
        job.tensor_scale = nvfp4::tensor_scale_for(amax);
    } else if constexpr (P::tensor_wide) {
        const std::uint32_t amax =
            tensor_amax_bits<A>(job.input, job.input_stride, job.g.rows, job.g.cols, false, parallel);
        typename P::scale_type scale{};
        tensor_group = P::group(amax, scale, job.options, 1.0f);
        if (tensor_scale_out != nullptr) *tensor_scale_out = scale;
        job.fixed = &tensor_group;
    }
}

} // namespace mpq::kernel::detail

namespace mpq::kernel {

/// Quantizer of a format in normal form (see policy.hpp), for arch A. `input` is a rows x cols
/// tensor whose rows start `input_stride` floats apart; `out` is validated by the caller.
template <class Format>
struct quantize_kernel {
    template <class A>
    void operator()(A, const float* input, std::size_t input_stride, const quantized_view<Format>& out,
                    const quantize_options& options, const parallel_options& parallel) const {
        detail::block_job<Format, A> job;
        job.g = out.geometry();
        job.input = input;
        job.input_stride = input_stride;
        job.options = options;
        job.codes = out.codes.data();
        job.row_bytes = out.row_bytes();
        job.scales = out.scales.data();
        detail::group_params tensor_group;
        detail::prepare_tensor_level(job, tensor_group, out.scales.data(), parallel);
        if constexpr (Format::has_tensor_scale) *out.tensor_scale = job.tensor_scale;
        job.plan();
        job.run(parallel);
    }
};

/// dequantize(quantize(x)) without the packed intermediate, for arch A. The output may be the
/// input (same pointer and stride).
template <class Format>
struct fake_quantize_kernel {
    template <class A>
    void operator()(A, const Format& format, const float* input, std::size_t input_stride, float* output,
                    std::size_t output_stride, std::size_t rows, std::size_t cols, block_axis axis,
                    const quantize_options& options, const parallel_options& parallel) const {
        detail::block_job<Format, A> job;
        job.g = format.geometry(rows, cols, axis);
        job.input = input;
        job.input_stride = input_stride;
        job.options = options;
        job.fake = output;
        job.fake_stride = output_stride;
        detail::group_params tensor_group;
        detail::prepare_tensor_level<Format, A>(job, tensor_group, nullptr, parallel);
        job.plan();
        job.run(parallel);
    }
};

} // namespace mpq::kernel
