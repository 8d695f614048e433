// The element-wise and attention building blocks of a Llama layer, on plain spans so each
// can be tested against a hand computation. They follow llama2.c's conventions exactly,
// since the model was trained with them.
#pragma once

// xsimd through mpq: mpq reads GCC's intrinsic headers with their false warnings off.
#include <mpq/kernel/compat.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace mpq::llama {

namespace detail {

/// 8-float SIMD vectors where the machine has them (AVX2, also on AVX-512 machines), else its
/// native width. Heads are short (8 floats in stories260K), so wider vectors would not help,
/// and a fixed width gives the same results on AVX2 and AVX-512 machines.
using vector8 = std::conditional_t<std::is_void_v<xsimd::make_sized_batch_t<float, 8>>,
                                   xsimd::batch<float>, xsimd::make_sized_batch_t<float, 8>>;

} // namespace detail

/// out = weight ⊙ x / sqrt(mean(x²) + eps). `out` may alias `x`.
/// Throws std::invalid_argument if the three spans differ in length or are empty.
inline void rmsnorm(std::span<float> out, std::span<const float> x, std::span<const float> weight,
                    float eps = 1e-5f) {
    if (x.empty() || out.size() != x.size() || weight.size() != x.size())
        throw std::invalid_argument("rmsnorm: lengths " + std::to_string(out.size()) + ", " +
                                    std::to_string(x.size()) + ", " +
                                    std::to_string(weight.size()) + " must be equal and positive");
    float sum_of_squares = 0.0f;
    for (float v : x) sum_of_squares += v * v;
    const float scale = 1.0f / std::sqrt(sum_of_squares / static_cast<float>(x.size()) + eps);
    for (std::size_t j = 0; j < x.size(); ++j) out[j] = weight[j] * (scale * x[j]);
}

/// Rotary position embedding in place, llama2.c's convention: within every head of
/// `head_size` dimensions, the pair (v[2i], v[2i+1]) is rotated by the angle
/// pos · 10000^(-2i / head_size). `v` holds one or more heads back to back.
/// Throws std::invalid_argument if head_size is odd or zero or does not divide v's length.
inline void rope(std::span<float> v, std::size_t head_size, std::size_t pos) {
    if (head_size == 0 || head_size % 2 != 0 || v.size() % head_size != 0)
        throw std::invalid_argument("rope: head size " + std::to_string(head_size) +
                                    " must be even and divide the vector length " +
                                    std::to_string(v.size()));
    for (std::size_t i = 0; i < v.size(); i += 2) {
        const std::size_t head_dim = i % head_size;
        const float frequency =
            1.0f / std::pow(10000.0f, static_cast<float>(head_dim) / static_cast<float>(head_size));
        const float angle = static_cast<float>(pos) * frequency;
        const float c = std::cos(angle), s = std::sin(angle);
        const float v0 = v[i], v1 = v[i + 1];
        v[i] = v0 * c - v1 * s;
        v[i + 1] = v0 * s + v1 * c;
    }
}

/// Softmax in place, shifted by the maximum so large logits do not overflow.
/// An empty span is left alone. The exponentials are computed a SIMD batch at a time (the
/// model evaluates hundreds of millions of them), with the scalar std::exp for the tail.
inline void softmax(std::span<float> x) {
    if (x.empty()) return;
    using batch = detail::vector8;
    constexpr std::size_t width = batch::size;
    const float max_value = *std::max_element(x.begin(), x.end());
    const std::size_t vector_end = x.size() - x.size() % width;
    batch partial(0.0f);
    for (std::size_t i = 0; i < vector_end; i += width) {
        const batch e = xsimd::exp(batch::load_unaligned(&x[i]) - batch(max_value));
        e.store_unaligned(&x[i]);
        partial += e;
    }
    float sum = xsimd::hadd(partial);
    for (std::size_t i = vector_end; i < x.size(); ++i) {
        x[i] = std::exp(x[i] - max_value);
        sum += x[i];
    }
    const float inverse = 1.0f / sum;
    for (float& v : x) v *= inverse;
}

/// Causal attention of one query head over the first `length` cached positions.
///
/// `keys` and `values` are the cache of one layer, one row of `row_stride` floats per
/// position; this head's key and value start at `offset` in each row and have q.size()
/// elements. `scores` (at least `length` floats) is scratch that ends up holding the
/// attention weights. Writes Σ_p softmax(q·k_p / sqrt(head_size))_p · v_p into `out`.
/// Throws std::invalid_argument on inconsistent sizes.
inline void attend(std::span<float> out, std::span<const float> q, std::span<const float> keys,
                   std::span<const float> values, std::size_t row_stride, std::size_t offset,
                   std::size_t length, std::span<float> scores) {
    const std::size_t head_size = q.size();
    if (head_size == 0 || out.size() != head_size || length == 0 || scores.size() < length ||
        offset + head_size > row_stride || keys.size() < length * row_stride ||
        values.size() < length * row_stride)
        throw std::invalid_argument("attend: inconsistent sizes (head " +
                                    std::to_string(head_size) + ", length " +
                                    std::to_string(length) + ", stride " +
                                    std::to_string(row_stride) + ")");
    const float inverse_sqrt = 1.0f / std::sqrt(static_cast<float>(head_size));
    using batch = detail::vector8;
    constexpr std::size_t width = batch::size;
    if (head_size % width == 0) {
        // The common case: whole SIMD vectors per head.
        auto dot_batch = [&](std::size_t p) {
            const float* k = &keys[p * row_stride + offset];
            batch acc(0.0f);
            for (std::size_t i = 0; i < head_size; i += width)
                acc = xsimd::fma(batch::load_unaligned(&q[i]), batch::load_unaligned(k + i), acc);
            return acc;
        };
        // Groups of `width` positions share one transposing horizontal sum (haddp).
        std::size_t p = 0;
        for (; p + width <= length; p += width) {
            batch group[width];
            for (std::size_t j = 0; j < width; ++j) group[j] = dot_batch(p + j);
            (xsimd::haddp(group) * batch(inverse_sqrt)).store_unaligned(&scores[p]);
        }
        for (; p < length; ++p) scores[p] = xsimd::hadd(dot_batch(p)) * inverse_sqrt;
        softmax(scores.first(length));
        for (std::size_t i = 0; i < head_size; i += width) {
            // Four independent accumulators hide the latency of the fused multiply-adds.
            auto value = [&](std::size_t pos) { return batch::load_unaligned(&values[pos * row_stride + offset + i]); };
            batch acc[4] = {batch(0.0f), batch(0.0f), batch(0.0f), batch(0.0f)};
            std::size_t pos = 0;
            for (; pos + 4 <= length; pos += 4)
                for (std::size_t j = 0; j < 4; ++j) acc[j] = xsimd::fma(batch(scores[pos + j]), value(pos + j), acc[j]);
            for (; pos < length; ++pos) acc[0] = xsimd::fma(batch(scores[pos]), value(pos), acc[0]);
            ((acc[0] + acc[1]) + (acc[2] + acc[3])).store_unaligned(&out[i]);
        }
        return;
    }
    for (std::size_t p = 0; p < length; ++p) {
        const float* k = &keys[p * row_stride + offset];
        float dot = 0.0f;
        for (std::size_t i = 0; i < head_size; ++i) dot += q[i] * k[i];
        scores[p] = dot * inverse_sqrt;
    }
    softmax(scores.first(length));
    std::fill(out.begin(), out.end(), 0.0f);
    for (std::size_t p = 0; p < length; ++p) {
        const float* v = &values[p * row_stride + offset];
        const float a = scores[p];
        for (std::size_t i = 0; i < head_size; ++i) out[i] += a * v[i];
    }
}

/// SiLU(gate) ⊙ up, in place in `gate`: the SwiGLU nonlinearity.
inline void swiglu(std::span<float> gate, std::span<const float> up) {
    if (gate.size() != up.size())
        throw std::invalid_argument("swiglu: lengths " + std::to_string(gate.size()) + " and " +
                                    std::to_string(up.size()) + " differ");
    for (std::size_t i = 0; i < gate.size(); ++i) {
        const float g = gate[i];
        gate[i] = g * (1.0f / (1.0f + std::exp(-g))) * up[i];
    }
}

} // namespace mpq::llama
