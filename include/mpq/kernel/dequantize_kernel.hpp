// The SIMD dequantizer of every block format, templated on the xsimd architecture: packed
// codes are unpacked window by window into bytes, widened to 32-bit lanes, looked up in the
// element's decode table (a register permute for 4-bit codes on AVX2, a gather otherwise) and
// multiplied by the group's decode multiplier — the same float product as the reference.
#pragma once

#include <mpq/format/quantized.hpp>
#include <mpq/kernel/block_kernel.hpp>
#include <mpq/kernel/parallel.hpp>
#include <mpq/kernel/policy.hpp>
#include <mpq/kernel/simd_ops.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mpq::kernel::detail {

template <class Format, class A>
struct dequantize_job {
    using P = policy<Format>;
    using element = typename P::element;
    static constexpr int bits = element::bits;
    static constexpr std::size_t N = compat::lanes<A>;
    static constexpr std::size_t window = 1024;

    const quantized_const_view<Format>& in;
    block_geometry g;
    float* output = nullptr;
    std::size_t output_stride = 0;
    float tensor_scale = 1.0f;
    bool tensor_wide = false;
    std::size_t piece = 1;
    std::size_t pieces_per_row = 0;

    bool by_rows() const { return tensor_wide || g.axis == block_axis::rows; }
    std::size_t task_count() const { return by_rows() ? g.rows * pieces_per_row : g.groups_per_lane(); }

    float_batch<A> decode_at(const std::uint8_t* stage) const {
        return decode_lanes<element, A>(load_code_bytes<A>(stage, A{}));
    }

    /// Decodes elements [s, s + n) of a row whose codes for [w, ...) are in `stage`.
    void decode_run(const std::uint8_t* stage, std::size_t w, std::size_t s, std::size_t n, float multiplier,
                    float* y) const {
        const float_batch<A> m(multiplier);
        std::size_t i = 0;
        for (; i + N <= n; i += N) (decode_at(stage + (s + i - w)) * m).store_unaligned(y + s + i);
        if (i < n) store_partial<A>(y + s + i, decode_at(stage + (s + i - w)) * m, n - i);
    }

    /// Elements [s, end) of a row under one multiplier, codes loaded straight from the packed
    /// row (s a multiple of N); a short last vector goes through a small staging buffer.
    MPQ_FORCE_INLINE void decode_direct(const std::uint8_t* row, std::size_t s, std::size_t end, float multiplier,
                                         float* y) const {
        const float_batch<A> m(multiplier);
        std::size_t i = s;
        for (; i + N <= end; i += N)
            (decode_lanes<element, A>(load_code_lanes<bits, A>(row, i, A{})) * m).store_unaligned(y + i);
        if (i < end) {
            alignas(64) std::array<std::uint8_t, N + 64> tail{};
            unpack_codes<bits>(row, i, end - i, tail.data());
            store_partial<A>(y + i, decode_at(tail.data()) * m, end - i);
        }
    }

    void rows_piece(std::size_t r, std::size_t e0, std::size_t e1) const {
        if constexpr (has_code_lane_loads<A>) {
            // Whole-vector groups (or one tensor-wide scale): every vector starts on a multiple
            // of N, so codes come straight from the row with no staging.
            if (tensor_wide || g.group % N == 0) {
                const std::uint8_t* row = in.codes.data() + r * in.row_bytes();
                float* y = output + r * output_stride;
                if (tensor_wide) {
                    decode_direct(row, e0, e1, P::multiplier(in.scales[0], tensor_scale), y);
                } else {
                    // Row-axis scales are [row][group].
                    const auto* scale_row = in.scales.data() + r * ((g.cols + g.group - 1) / g.group);
                    for (std::size_t b = e0 / g.group, s = b * g.group; s < e1; ++b, s += g.group)
                        decode_direct(row, s, std::min(s + g.group, e1), P::multiplier(scale_row[b], tensor_scale), y);
                }
                return;
            }
        }
        const std::uint8_t* row = in.codes.data() + r * in.row_bytes();
        float* y = output + r * output_stride;
        alignas(64) std::array<std::uint8_t, window + 64> stage{};
        for (std::size_t w = e0; w < e1; w += window) {
            const std::size_t n = std::min(window, e1 - w);
            unpack_codes<bits>(row, w, n, stage.data());
            if (tensor_wide) {
                decode_run(stage.data(), w, w, n, P::multiplier(in.scales[0], tensor_scale), y);
                continue;
            }
            for (std::size_t b = w / g.group; b * g.group < w + n; ++b) {
                const std::size_t s = std::max(b * g.group, w);
                const std::size_t end = std::min({b * g.group + g.group, w + n, g.cols});
                decode_run(stage.data(), w, s, end - s, P::multiplier(in.scales[g.scale_index(r, b)], tensor_scale), y);
            }
        }
    }

    void columns_piece(std::size_t gb) const {
        const std::size_t cols = g.cols, r0 = gb * g.group, nr = g.group_length(gb);
        const std::size_t padded = (cols + N - 1) / N * N;
        std::vector<float> multiplier(padded, 1.0f);
        for (std::size_t c = 0; c < cols; ++c)
            multiplier[c] = P::multiplier(in.scales[g.scale_index(c, gb)], tensor_scale);
        alignas(64) std::array<std::uint8_t, window + 64> stage{};
        for (std::size_t r = r0; r < r0 + nr; ++r) {
            const std::uint8_t* row = in.codes.data() + r * in.row_bytes();
            float* y = output + r * output_stride;
            for (std::size_t w = 0; w < cols; w += window) {
                const std::size_t n = std::min(window, cols - w);
                unpack_codes<bits>(row, w, n, stage.data());
                for (std::size_t i = 0; i < n; i += N) {
                    const float_batch<A> v = decode_at(stage.data() + i) *
                                             float_batch<A>::load_unaligned(multiplier.data() + w + i);
                    if (i + N <= n) v.store_unaligned(y + w + i);
                    else store_partial<A>(y + w + i, v, n - i);
                }
            }
        }
    }
};

} // namespace mpq::kernel::detail

namespace mpq::kernel {

/// Dequantizer of a format in normal form, for arch A: writes the rows x cols values with rows
/// `output_stride` floats apart. `in` is validated by the caller.
template <class Format>
struct dequantize_kernel {
    template <class A>
    void operator()(A, const quantized_const_view<Format>& in, float* output, std::size_t output_stride,
                    const parallel_options& parallel) const {
        detail::dequantize_job<Format, A> job{in, in.geometry()};
        job.output = output;
        job.output_stride = output_stride;
        if constexpr (Format::has_tensor_scale) job.tensor_scale = *in.tensor_scale;
        job.tensor_wide = detail::policy<Format>::tensor_wide;
        job.piece = detail::piece_length(job.g.group, job.g.cols, job.tensor_wide);
        job.pieces_per_row = job.g.cols == 0 ? 0 : (job.g.cols + job.piece - 1) / job.piece;
        detail::run_pieces(job.task_count(), parallel, [&job](std::size_t t) {
            if (job.by_rows()) {
                const std::size_t r = t / job.pieces_per_row, p = t % job.pieces_per_row;
                job.rows_piece(r, p * job.piece, std::min(job.g.cols, (p + 1) * job.piece));
            } else {
                job.columns_piece(t);
            }
        });
    }
};

} // namespace mpq::kernel
