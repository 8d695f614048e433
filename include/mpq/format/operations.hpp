// The public quantize / dequantize / fake-quantize operations for every block format.
// They forward to the SIMD kernels of mpq/kernel (xsimd::default_arch, the build's own ISA);
// the *_ref functions in each format's header are the plain scalar reference the kernels equal
// bit for bit (tests/kernel checks it).
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/quantized.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/kernel/api.hpp>
#include <mpq/kernel/parallel.hpp>

#include <span>

namespace mpq {

/// Quantizes a row-major rows x cols tensor into `out` (whose shape and format it must match).
/// Throws std::invalid_argument on mismatched sizes. `parallel` spreads a large tensor over
/// threads; the result does not depend on it.
template <class Format>
void quantize(std::span<const float> input, quantized_view<Format> out,
              const quantize_options& options = {}, const kernel::parallel_options& parallel = {}) {
    kernel::quantize(input, out, options, parallel);
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
/// Throws std::invalid_argument on mismatched sizes.
template <class Format>
void dequantize(quantized_const_view<Format> in, std::span<float> output,
                const kernel::parallel_options& parallel = {}) {
    kernel::dequantize(in, output, parallel);
}

template <class Format>
void dequantize(const quantized_tensor<Format>& in, std::span<float> output,
                const kernel::parallel_options& parallel = {}) {
    dequantize(in.view(), output, parallel);
}

/// Fake quantization: output = dequantize(quantize(input)), the values the format can hold.
/// `cols` is the row length (blocks restart at every row); 0 means one row of input.size().
/// input and output may be the same span.
template <class Format>
void fake_quantize(const Format& format, std::span<const float> input, std::span<float> output,
                   const quantize_options& options = {}, std::size_t cols = 0,
                   block_axis axis = block_axis::rows, const kernel::parallel_options& parallel = {}) {
    kernel::fake_quantize(format, input, output, options, cols, axis, parallel);
}

} // namespace mpq
