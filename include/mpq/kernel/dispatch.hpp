// Opt-in runtime ISA dispatch: one program carries the kernels for several instruction sets
// and picks the best one the running CPU has.
//
// Set-up (CMake): include(cmake/mpqDispatch.cmake) and call mpq_add_dispatch(<target>). It
// compiles one translation unit per ISA (SSE4.2, AVX2+FMA, AVX-512BW, each where the compiler
// accepts the flags) holding the kernels of every format, and defines MPQ_DISPATCH_<ISA> for
// the target. Without that set-up, use the statically dispatched functions of mpq/kernel.hpp.
//
// Formats served: MX with any element type of mpq and any block size, NVFP4, and per-tensor /
// per-vector INT8, INT4, FP4 E2M1 and FP8 E4M3.
//
// Caveat of every multi-ISA build: inline functions shared by the ISA translation units are
// merged by the linker; mpq_add_dispatch lists the lowest ISA first so the merged copies are
// the most portable ones.
#pragma once

#include <mpq/format/quantized.hpp>
#include <mpq/kernel/api.hpp>
#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/parallel.hpp>
#include <mpq/kernel/policy.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mpq::kernel::dispatch {

/// Instruction sets the dispatch can use; `scalar` is the scalar reference.
enum class isa : std::uint8_t { scalar, sse4_2, avx2, avx512bw };

constexpr std::string_view to_string(isa i) {
    switch (i) {
    case isa::scalar: return "scalar";
    case isa::sse4_2: return "sse4.2";
    case isa::avx2: return "avx2";
    case isa::avx512bw: return "avx512bw";
    }
    return "?";
}

/// Whether this program was built with the kernels of `i` (scalar always is).
constexpr bool compiled(isa i) {
    switch (i) {
    case isa::scalar: return true;
#ifdef MPQ_DISPATCH_SSE4_2
    case isa::sse4_2: return true;
#endif
#ifdef MPQ_DISPATCH_AVX2
    case isa::avx2: return true;
#endif
#ifdef MPQ_DISPATCH_AVX512BW
    case isa::avx512bw: return true;
#endif
    default: return false;
    }
}

/// Whether the running CPU can execute the kernels of `i`.
inline bool supported(isa i) {
    const compat::cpu_features cpu = compat::detect_cpu();
    switch (i) {
    case isa::scalar: return true;
    case isa::sse4_2: return cpu.sse4_2;
    case isa::avx2: return cpu.avx2;
    case isa::avx512bw: return cpu.avx512bw;
    }
    return false;
}

/// The best ISA that is both compiled in and supported by the CPU (detected once).
inline isa best_available() {
    static const isa best = [] {
        for (const isa i : {isa::avx512bw, isa::avx2, isa::sse4_2})
            if (compiled(i) && supported(i)) return i;
        return isa::scalar;
    }();
    return best;
}

namespace detail {

// Defined only in the per-ISA translation units (dispatch_instantiate.hpp): a call here never
// instantiates an ISA's kernel under the caller's compiler flags.
template <class Format, isa I>
void quantize_at(const float* input, std::size_t input_stride, const quantized_view<Format>& out,
                 const quantize_options& options, const parallel_options& parallel);
template <class Format, isa I>
void dequantize_at(const quantized_const_view<Format>& in, float* output, std::size_t output_stride,
                   const parallel_options& parallel);
template <class Format, isa I>
void fake_quantize_at(const Format& format, const float* input, std::size_t input_stride, float* output,
                      std::size_t output_stride, std::size_t rows, std::size_t cols, block_axis axis,
                      const quantize_options& options, const parallel_options& parallel);

inline void require_usable(isa i) {
    if (!compiled(i) || !supported(i)) {
        mpq::detail::throw_invalid("mpq: ISA " + std::string(to_string(i)) +
                                   (compiled(i) ? " is not supported by this CPU" : " was not compiled in (mpq_add_dispatch)"));
    }
}

/// Calls f(std::integral_constant-like tag) for the ISA `i`.
template <class F>
void with_isa(isa i, F&& f) {
    require_usable(i);
    switch (i) {
    case isa::scalar: f.template operator()<isa::scalar>(); break;
#ifdef MPQ_DISPATCH_SSE4_2
    case isa::sse4_2: f.template operator()<isa::sse4_2>(); break;
#endif
#ifdef MPQ_DISPATCH_AVX2
    case isa::avx2: f.template operator()<isa::avx2>(); break;
#endif
#ifdef MPQ_DISPATCH_AVX512BW
    case isa::avx512bw: f.template operator()<isa::avx512bw>(); break;
#endif
    default: break;
    }
}

} // namespace detail

/// kernel::quantize_strided (same contract) on ISA `choice`; throws std::invalid_argument if
/// that ISA is not compiled in or not supported by the CPU.
template <class Format>
void quantize_strided(std::span<const float> input, std::size_t input_stride, quantized_view<Format> out,
                      const quantize_options& options = {}, const parallel_options& parallel = {},
                      isa choice = best_available()) {
    out.validate();
    kernel::detail::require_strided("quantize input", input.size(), out.rows, out.cols, input_stride);
    using normal = kernel::detail::normal_form_t<Format>;
    detail::with_isa(choice, [&]<isa I>() {
        if constexpr (I == isa::scalar) {
            if (input_stride != out.cols)
                mpq::detail::throw_invalid("mpq: the scalar reference reads contiguous rows only");
            quantize_ref(out.format, input.first(out.size()), out, options);
        } else {
            detail::quantize_at<normal, I>(input.data(), input_stride, kernel::detail::normalize(out), options, parallel);
        }
    });
}

/// kernel::quantize on ISA `choice` (best available by default).
template <class Format>
void quantize(std::span<const float> input, quantized_view<Format> out, const quantize_options& options = {},
              const parallel_options& parallel = {}, isa choice = best_available()) {
    mpq::detail::require_size("quantize input", input.size(), out.size());
    dispatch::quantize_strided(input, out.cols, out, options, parallel, choice);
}

/// kernel::dequantize on ISA `choice`.
template <class Format, bool Mutable>
void dequantize(basic_quantized_view<Format, Mutable> view, std::span<float> output,
                const parallel_options& parallel = {}, isa choice = best_available()) {
    const quantized_const_view<Format> in = view;
    in.validate();
    mpq::detail::require_size("dequantize output", output.size(), in.size());
    using normal = kernel::detail::normal_form_t<Format>;
    detail::with_isa(choice, [&]<isa I>() {
        if constexpr (I == isa::scalar) dequantize_ref(in, output);
        else detail::dequantize_at<normal, I>(kernel::detail::normalize(in), output.data(), in.cols, parallel);
    });
}

/// kernel::fake_quantize on ISA `choice`.
template <class Format>
void fake_quantize(const Format& format, std::span<const float> input, std::span<float> output,
                   const quantize_options& options = {}, std::size_t cols = 0, block_axis axis = block_axis::rows,
                   const parallel_options& parallel = {}, isa choice = best_available()) {
    mpq::detail::require_size("fake_quantize output", output.size(), input.size());
    if (cols == 0) cols = input.size();
    if (cols == 0) return;
    if (input.size() % cols != 0) {
        mpq::detail::throw_invalid("mpq: fake_quantize input of " + std::to_string(input.size()) +
                                   " values is not a whole number of rows of " + std::to_string(cols));
    }
    const std::size_t rows = input.size() / cols;
    using normal = kernel::detail::normal_form_t<Format>;
    detail::with_isa(choice, [&]<isa I>() {
        if constexpr (I == isa::scalar) {
            quantized_tensor<Format> q(format, rows, cols, axis);
            quantize_ref(format, input, q.view(), options);
            dequantize_ref(std::as_const(q).view(), output);
        } else {
            detail::fake_quantize_at<normal, I>(kernel::detail::normal_form<Format>::format(format), input.data(), cols,
                                                output.data(), cols, rows, cols, axis, options, parallel);
        }
    });
}

} // namespace mpq::kernel::dispatch
