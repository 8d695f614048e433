// Runtime dispatch: every ISA compiled in by mpq_add_dispatch and supported by the CPU, and the
// scalar fallback, give the reference's bits; unusable ISAs are refused.
#include "kernel/kernel_check.hpp"

#include <mpq/kernel/dispatch.hpp>

using namespace kernel_test;
using mpq::kernel::dispatch::isa;

namespace {

template <class Format>
void check_dispatch(const Format& format, std::size_t rows, std::size_t cols, mpq::block_axis axis) {
    const std::vector<float> x = make_input(rows, cols, 31);
    for (const auto round : all_roundings) {
        mpq::quantize_options options;
        options.round = round;
        options.scale = mpq::scale_mode::even;
        options.seed = 11;
        mpq::quantized_tensor<Format> ref(format, rows, cols, axis);
        mpq::quantize_ref(format, std::span<const float>(x), ref.view(), options);
        std::vector<float> decoded(x.size());
        mpq::dequantize_ref(std::as_const(ref).view(), std::span<float>(decoded));
        for (const isa i : {isa::scalar, isa::sse4_2, isa::avx2, isa::avx512bw}) {
            if (!mpq::kernel::dispatch::compiled(i) || !mpq::kernel::dispatch::supported(i)) continue;
            INFO(format.name() << " isa=" << mpq::kernel::dispatch::to_string(i) << " round=" << mpq::to_string(round));
            mpq::quantized_tensor<Format> got(format, rows, cols, axis);
            mpq::kernel::dispatch::quantize(std::span<const float>(x), got.view(), options, {}, i);
            REQUIRE(same_bits(got.codes(), ref.codes()));
            REQUIRE(same_bits(got.scales(), ref.scales()));
            std::vector<float> out(x.size()), fake(x.size());
            mpq::kernel::dispatch::dequantize(ref.view(), std::span<float>(out), {}, i);
            REQUIRE(same_bits(out, decoded));
            mpq::kernel::dispatch::fake_quantize(format, std::span<const float>(x), std::span<float>(fake), options,
                                                 cols, axis, {}, i);
            REQUIRE(same_bits(fake, decoded));
        }
    }
}

} // namespace

TEST_CASE("Runtime dispatch equals the reference on every usable ISA", "[kernel][dispatch]") {
    check_dispatch(mpq::mxfp4{}, 9, 77, mpq::block_axis::rows);
    check_dispatch(mpq::mx<mpq::mx_int8_element, 24>{}, 9, 77, mpq::block_axis::columns);
    check_dispatch(mpq::mx_dynamic<mpq::fp6_e2m3>(7), 9, 77, mpq::block_axis::rows);
    check_dispatch(mpq::mxfp8_e5m2{}, 9, 77, mpq::block_axis::rows);
    check_dispatch(mpq::nvfp4{}, 9, 77, mpq::block_axis::rows);
    check_dispatch(mpq::int4_tensor{}, 9, 77, mpq::block_axis::rows);
    check_dispatch(mpq::fp4_e2m1_vector(32), 9, 77, mpq::block_axis::columns);
}

TEST_CASE("Runtime dispatch picks a usable ISA and refuses others", "[kernel][dispatch]") {
    const isa best = mpq::kernel::dispatch::best_available();
    REQUIRE(mpq::kernel::dispatch::compiled(best));
    REQUIRE(mpq::kernel::dispatch::supported(best));
#if defined(MPQ_DISPATCH_SSE4_2) && defined(__x86_64__)
    REQUIRE(best != isa::scalar); // every x86-64 CPU that runs this test has SSE4.2 here
#endif
    const std::vector<float> x(32, 1.0f);
    mpq::quantized_tensor<mpq::mxfp4> q(mpq::mxfp4{}, 1, 32);
    for (const isa i : {isa::sse4_2, isa::avx2, isa::avx512bw}) {
        if (mpq::kernel::dispatch::compiled(i) && mpq::kernel::dispatch::supported(i)) continue;
        REQUIRE_THROWS_AS(mpq::kernel::dispatch::quantize(std::span<const float>(x), q.view(), {}, {}, i),
                          std::invalid_argument);
    }
}
