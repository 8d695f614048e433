// The public quantize / dequantize / fake-quantize operations for every block format.
// They forward to the fastest available implementation; the *_ref functions in each format's
// header are the plain scalar reference they must equal bit for bit.
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/quantized.hpp>
#include <mpq/format/scaled.hpp>

#include <span>

namespace mpq {

/// Quantizes a row-major rows x cols tensor into `out` (whose shape and format it must match).
/// Throws std::invalid_argument on mismatched sizes.
template <class Format>
void quantize(std::span<const float> input, quantized_view<Format> out,
              const quantize_options& options = {}) {
    quantize_ref(out.format, input, out, options);
}

/// Quantizes a row-major rows x cols tensor into a new quantized_tensor.
template <class Format>
quantized_tensor<Format> quantize(const Format& format, std::span<const float> input,
                                  std::size_t rows, std::size_t cols,
                                  block_axis axis = block_axis::rows,
                                  const quantize_options& options = {}) {
    detail::require_size("quantize input", input.size(), rows * cols);
    quantized_tensor<Format> out(format, rows, cols, axis);
    quantize(input, out.view(), options);
    return out;
}

/// Decodes every element into a row-major float tensor of the same shape.
template <class Format>
void dequantize(quantized_const_view<Format> in, std::span<float> output) {
    dequantize_ref(in, output);
}

template <class Format>
void dequantize(const quantized_tensor<Format>& in, std::span<float> output) {
    dequantize(in.view(), output);
}

/// Fake quantization: output = dequantize(quantize(input)), the values the format can hold.
/// `cols` is the row length (blocks restart at every row); 0 means one row of input.size().
/// input and output may be the same span.
template <class Format>
void fake_quantize(const Format& format, std::span<const float> input, std::span<float> output,
                   const quantize_options& options = {}, std::size_t cols = 0,
                   block_axis axis = block_axis::rows) {
    detail::require_size("fake_quantize output", output.size(), input.size());
    if (cols == 0) cols = input.size();
    if (cols == 0) return;
    if (input.size() % cols != 0) {
        detail::throw_invalid("mpq: fake_quantize input of " + std::to_string(input.size()) +
                              " values is not a whole number of rows of " + std::to_string(cols));
    }
    const auto q = quantize(format, input, input.size() / cols, cols, axis, options);
    dequantize(q, output);
}

} // namespace mpq
