// The SIMD quantize / dequantize / fake-quantize entry points for one chosen xsimd arch
// (xsimd::default_arch, the build's own ISA, unless told otherwise). They validate like the
// scalar reference, bring the format to its normal form and call the arch's kernel functor.
// Without any SIMD ISA they run the scalar reference.
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/quantized.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/kernel/block_kernel.hpp>
#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/dequantize_kernel.hpp>
#include <mpq/kernel/parallel.hpp>
#include <mpq/kernel/policy.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace mpq::kernel {

namespace detail {

/// Throws std::invalid_argument unless a strided rows x cols tensor fits in `size` floats.
inline void require_strided(std::string_view what, std::size_t size, std::size_t rows, std::size_t cols,
                            std::size_t stride) {
    if (rows == 0 || cols == 0) return;
    if (stride < cols) {
        mpq::detail::throw_invalid("mpq: " + std::string(what) + " row stride " + std::to_string(stride) +
                                   " is shorter than a row of " + std::to_string(cols));
    }
    const std::size_t needed = (rows - 1) * stride + cols;
    if (size < needed) {
        mpq::detail::throw_invalid("mpq: " + std::string(what) + " holds " + std::to_string(size) +
                                   " floats, a " + std::to_string(rows) + " x " + std::to_string(cols) +
                                   " tensor with row stride " + std::to_string(stride) + " needs " +
                                   std::to_string(needed));
    }
}

} // namespace detail

/// Quantizes a rows x cols tensor whose row r starts at input[r * input_stride] into `out`
/// (shape, format and block axis from `out`). Bit-identical to quantize_ref for every format,
/// scale mode and rounding mode. Throws std::invalid_argument if `out`'s buffers do not match
/// its shape, input_stride < cols, or `input` is too short.
template <class Arch = xsimd::default_arch, class Format>
void quantize_strided(std::span<const float> input, std::size_t input_stride, quantized_view<Format> out,
                      const quantize_options& options = {}, const parallel_options& parallel = {}) {
    out.validate();
    detail::require_strided("quantize input", input.size(), out.rows, out.cols, input_stride);
    mpq::detail::check_quantize_options<Format>(options);
    if constexpr (!compat::has_simd) {
        if (input_stride != out.cols || input.size() != out.size())
            mpq::detail::throw_invalid("mpq: strided quantize needs a SIMD build");
        quantize_ref(out.format, input, out, options);
    } else {
        quantize_kernel<detail::normal_form_t<Format>>{}(Arch{}, input.data(), input_stride,
                                                         detail::normalize(out), options, parallel);
    }
}

/// Quantizes a row-major rows x cols tensor (input.size() must equal out.size()).
template <class Arch = xsimd::default_arch, class Format>
void quantize(std::span<const float> input, quantized_view<Format> out, const quantize_options& options = {},
              const parallel_options& parallel = {}) {
    mpq::detail::require_size("quantize input", input.size(), out.size());
    kernel::quantize_strided<Arch>(input, out.cols, out, options, parallel);
}

/// Decodes `in` into a rows x cols tensor whose row r starts at output[r * output_stride];
/// elements between rows are left alone. Bit-identical to dequantize_ref. Throws
/// std::invalid_argument on mismatched buffers.
template <class Arch = xsimd::default_arch, class Format, bool Mutable>
void dequantize_strided(basic_quantized_view<Format, Mutable> view, std::span<float> output,
                        std::size_t output_stride, const parallel_options& parallel = {}) {
    const quantized_const_view<Format> in = view;
    in.validate();
    detail::require_strided("dequantize output", output.size(), in.rows, in.cols, output_stride);
    if constexpr (!compat::has_simd) {
        if (output_stride != in.cols || output.size() != in.size())
            mpq::detail::throw_invalid("mpq: strided dequantize needs a SIMD build");
        dequantize_ref(in, output);
    } else {
        dequantize_kernel<detail::normal_form_t<Format>>{}(Arch{}, detail::normalize(in), output.data(),
                                                           output_stride, parallel);
    }
}

/// Decodes `in` into a row-major float tensor of the same shape.
template <class Arch = xsimd::default_arch, class Format, bool Mutable>
void dequantize(basic_quantized_view<Format, Mutable> in, std::span<float> output,
                const parallel_options& parallel = {}) {
    mpq::detail::require_size("dequantize output", output.size(), in.size());
    kernel::dequantize_strided<Arch>(in, output, in.cols, parallel);
}

/// Decodes an owning quantized tensor (see the view overload).
template <class Arch = xsimd::default_arch, class Format>
void dequantize(const quantized_tensor<Format>& in, std::span<float> output, const parallel_options& parallel = {}) {
    kernel::dequantize<Arch>(in.view(), output, parallel);
}

/// output = dequantize(quantize(input)) for a rows x cols tensor with the given row strides,
/// computed without the packed intermediate; bit-identical to the two reference steps.
/// `input` and `output` may be the same memory (same stride). Throws std::invalid_argument on
/// a short buffer or a stride below cols.
template <class Arch = xsimd::default_arch, class Format>
void fake_quantize_strided(const Format& format, std::span<const float> input, std::size_t input_stride,
                           std::span<float> output, std::size_t output_stride, std::size_t rows,
                           std::size_t cols, block_axis axis = block_axis::rows,
                           const quantize_options& options = {}, const parallel_options& parallel = {}) {
    detail::require_strided("fake_quantize input", input.size(), rows, cols, input_stride);
    detail::require_strided("fake_quantize output", output.size(), rows, cols, output_stride);
    mpq::detail::check_quantize_options<Format>(options);
    if (rows == 0 || cols == 0) return;
    if constexpr (!compat::has_simd) {
        if (input_stride != cols || output_stride != cols || input.size() != rows * cols || output.size() != rows * cols)
            mpq::detail::throw_invalid("mpq: strided fake_quantize needs a SIMD build");
        quantized_tensor<Format> q(format, rows, cols, axis);
        quantize_ref(format, input, q.view(), options);
        dequantize_ref(q.view(), output);
    } else {
        using normal = detail::normal_form_t<Format>;
        fake_quantize_kernel<normal>{}(Arch{}, detail::normal_form<Format>::format(format), input.data(),
                                       input_stride, output.data(), output_stride, rows, cols, axis, options,
                                       parallel);
    }
}

/// fake_quantize of a row-major tensor with rows of `cols` values (0: one row of input.size()).
/// Throws std::invalid_argument if input.size() is not a whole number of rows or the output
/// size differs.
template <class Arch = xsimd::default_arch, class Format>
void fake_quantize(const Format& format, std::span<const float> input, std::span<float> output,
                   const quantize_options& options = {}, std::size_t cols = 0, block_axis axis = block_axis::rows,
                   const parallel_options& parallel = {}) {
    mpq::detail::require_size("fake_quantize output", output.size(), input.size());
    if (cols == 0) cols = input.size();
    if (cols == 0) return;
    if (input.size() % cols != 0) {
        mpq::detail::throw_invalid("mpq: fake_quantize input of " + std::to_string(input.size()) +
                                   " values is not a whole number of rows of " + std::to_string(cols));
    }
    kernel::fake_quantize_strided<Arch>(format, input, cols, output, cols, input.size() / cols, cols, axis, options, parallel);
}

} // namespace mpq::kernel
