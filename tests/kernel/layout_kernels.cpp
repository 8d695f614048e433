// Caller memory and scheduling: misaligned and unpadded buffers, strided rows, in-place fake
// quantization, parallel runs equal to serial ones, and bad arguments.
#include "kernel/kernel_check.hpp"

#include <atomic>
#include <thread>

using namespace kernel_test;

TEST_CASE("Kernels work on misaligned, unpadded caller buffers", "[kernel][layout]") {
    const std::size_t rows = 7, cols = 45; // odd rows: packed 4- and 6-bit rows end mid-byte
    const std::vector<float> x = make_input(rows, cols, 5);
    auto run = [&](const auto& format) {
        using F = std::decay_t<decltype(format)>;
        for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
            mpq::quantized_tensor<F> ref(format, rows, cols, axis);
            mpq::quantize_ref(format, std::span<const float>(x), ref.view());
            const auto storage = mpq::storage_for(format, rows, cols, axis);
            // Every buffer exactly sized and one element off its natural alignment.
            std::vector<float> input(x.size() + 1);
            std::copy(x.begin(), x.end(), input.begin() + 1);
            std::vector<std::uint8_t> codes(storage.code_bytes + 1);
            std::vector<typename F::scale_type> scales(storage.scale_count + 1);
            float tensor_scale = 0.0f;
            mpq::quantized_view<F> view{format, rows, cols, axis,
                                        std::span<std::uint8_t>(codes).subspan(1),
                                        std::span<typename F::scale_type>(scales).subspan(1), &tensor_scale};
            mpq::kernel::quantize(std::span<const float>(input).subspan(1), view);
            REQUIRE(std::equal(ref.codes().begin(), ref.codes().end(), codes.begin() + 1));
            REQUIRE(std::memcmp(ref.scales().data(), scales.data() + 1, ref.scales().size() * sizeof(scales[0])) == 0);
            std::vector<float> expected(x.size()), output(x.size() + 1);
            mpq::dequantize_ref(std::as_const(ref).view(), std::span<float>(expected));
            mpq::kernel::dequantize(mpq::quantized_const_view<F>(view), std::span<float>(output).subspan(1));
            REQUIRE(std::memcmp(expected.data(), output.data() + 1, expected.size() * sizeof(float)) == 0);
        }
    };
    run(mpq::mxfp4{});
    run(mpq::mxfp6_e2m3{});
    run(mpq::mxint8{});
    run(mpq::nvfp4{});
    run(mpq::int4_vector{});
    run(mpq::fp4_e2m1_tensor{});
}

TEST_CASE("Strided kernels read and write only the described rows", "[kernel][layout]") {
    const std::size_t rows = 6, cols = 70, in_stride = 75, out_stride = 73;
    const std::vector<float> x = make_input(rows, cols, 6);
    std::vector<float> strided(in_stride * (rows - 1) + cols, 999.0f);
    for (std::size_t r = 0; r < rows; ++r) std::copy_n(x.begin() + r * cols, cols, strided.begin() + r * in_stride);
    const mpq::mxfp4 format;
    const auto ref = mpq::quantize(format, std::span<const float>(x), rows, cols);
    mpq::quantized_tensor<mpq::mxfp4> got(format, rows, cols);
    mpq::kernel::quantize_strided(std::span<const float>(strided), in_stride, got.view());
    REQUIRE(same_bits(got.codes(), ref.codes()));
    REQUIRE(same_bits(got.scales(), ref.scales()));

    std::vector<float> expected(x.size());
    mpq::dequantize_ref(ref.view(), std::span<float>(expected));
    std::vector<float> out(out_stride * (rows - 1) + cols, -5.0f);
    mpq::kernel::dequantize_strided(ref.view(), std::span<float>(out), out_stride);
    std::vector<float> fake(out.size(), -5.0f);
    mpq::kernel::fake_quantize_strided(format, std::span<const float>(strided), in_stride, std::span<float>(fake),
                                       out_stride, rows, cols);
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < out_stride && r * out_stride + c < out.size(); ++c) {
            const float want = c < cols ? expected[r * cols + c] : -5.0f;
            REQUIRE(std::bit_cast<std::uint32_t>(out[r * out_stride + c]) == std::bit_cast<std::uint32_t>(want));
            REQUIRE(std::bit_cast<std::uint32_t>(fake[r * out_stride + c]) == std::bit_cast<std::uint32_t>(want));
        }
    }
    REQUIRE_THROWS_AS(mpq::kernel::quantize_strided(std::span<const float>(strided), cols - 1, got.view()),
                      std::invalid_argument);
    REQUIRE_THROWS_AS(mpq::kernel::quantize_strided(std::span<const float>(strided).first(strided.size() - 1),
                                                    in_stride, got.view()),
                      std::invalid_argument);
}

TEST_CASE("Fake quantization may run in place", "[kernel][layout]") {
    std::vector<float> x = make_input(9, 64, 8);
    for (const auto axis : {mpq::block_axis::rows, mpq::block_axis::columns}) {
        std::vector<float> expected(x.size()), inplace = x;
        const auto q = mpq::quantize(mpq::mxfp8_e4m3{}, std::span<const float>(x), 9, 64, axis);
        mpq::dequantize_ref(q.view(), std::span<float>(expected));
        mpq::fake_quantize(mpq::mxfp8_e4m3{}, std::span<const float>(inplace), std::span<float>(inplace), {}, 64, axis);
        REQUIRE(same_bits(inplace, expected));
    }
}

TEST_CASE("Parallel kernels equal serial ones", "[kernel][parallel]") {
    // A 1-row tensor (pieces inside the row) and a many-row tensor (pieces are rows).
    for (const auto& [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 70001}, {48, 2500}}) {
        const std::vector<float> x = make_input(rows, cols, 9);
        mpq::quantize_options options;
        options.round = mpq::rounding::stochastic;
        options.seed = 3;
        auto check = [&](const auto& format, mpq::block_axis axis) {
            using F = std::decay_t<decltype(format)>;
            mpq::quantized_tensor<F> serial(format, rows, cols, axis), threaded(format, rows, cols, axis),
                pooled(format, rows, cols, axis);
            mpq::kernel::quantize(std::span<const float>(x), serial.view(), options);
            mpq::kernel::parallel_options two;
            two.threads = 2;
            mpq::kernel::quantize(std::span<const float>(x), threaded.view(), options, two);
            std::atomic<int> calls{0};
            mpq::kernel::parallel_options pool;
            pool.run = [&](std::size_t count, const std::function<void(std::size_t)>& task) {
                ++calls;
                for (std::size_t i = count; i-- > 0;) task(i); // any order must do
            };
            mpq::kernel::quantize(std::span<const float>(x), pooled.view(), options, pool);
            REQUIRE(calls.load() >= 1); // tensor-wide formats also run their amax pass on it
            REQUIRE(same_bits(threaded.codes(), serial.codes()));
            REQUIRE(same_bits(threaded.scales(), serial.scales()));
            REQUIRE(same_bits(pooled.codes(), serial.codes()));
            REQUIRE(same_bits(pooled.scales(), serial.scales()));
            std::vector<float> a(x.size()), b(x.size()), c(x.size()), d(x.size());
            mpq::kernel::dequantize(serial.view(), std::span<float>(a));
            mpq::kernel::dequantize(serial.view(), std::span<float>(b), two);
            mpq::kernel::fake_quantize(format, std::span<const float>(x), std::span<float>(c), options, cols, axis);
            mpq::kernel::fake_quantize(format, std::span<const float>(x), std::span<float>(d), options, cols, axis, two);
            REQUIRE(same_bits(a, b));
            REQUIRE(same_bits(c, d));
            REQUIRE(same_bits(a, c));
        };
        check(mpq::mxfp4{}, mpq::block_axis::rows);
        check(mpq::mxfp6_e3m2{}, mpq::block_axis::columns);
        check(mpq::nvfp4{}, mpq::block_axis::rows);
        check(mpq::int8_tensor{}, mpq::block_axis::rows);
        check(mpq::int4_vector{}, mpq::block_axis::columns);
    }
}

TEST_CASE("A failing executor task surfaces as an exception", "[kernel][parallel]") {
    const std::vector<float> x(64, 1.0f);
    mpq::quantized_tensor<mpq::mxfp4> q(mpq::mxfp4{}, 2, 32);
    mpq::kernel::parallel_options broken;
    broken.run = [](std::size_t, const std::function<void(std::size_t)>&) { throw std::runtime_error("pool down"); };
    REQUIRE_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x), q.view(), {}, broken), std::runtime_error);
}

TEST_CASE("Kernels reject mismatched buffers", "[kernel][layout]") {
    const std::vector<float> x(100, 1.0f);
    mpq::quantized_tensor<mpq::mxfp4> q(mpq::mxfp4{}, 2, 50);
    REQUIRE_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x).first(99), q.view()), std::invalid_argument);
    std::vector<float> out(99);
    REQUIRE_THROWS_AS(mpq::kernel::dequantize(q.view(), std::span<float>(out)), std::invalid_argument);
    REQUIRE_THROWS_AS(mpq::kernel::fake_quantize(mpq::mxfp4{}, std::span<const float>(x), std::span<float>(out)),
                      std::invalid_argument);
    std::vector<float> y(100);
    REQUIRE_THROWS_AS(mpq::kernel::fake_quantize(mpq::mxfp4{}, std::span<const float>(x), std::span<float>(y), {}, 30),
                      std::invalid_argument);
    mpq::quantized_view<mpq::mxfp4> broken = q.view();
    broken.scales = broken.scales.first(1);
    REQUIRE_THROWS_AS(mpq::kernel::quantize(std::span<const float>(x), broken), std::invalid_argument);
}

TEST_CASE("Whole vectors of codes pack exactly as the scalar packer packs them", "[kernel][layout]") {
    // The quantize kernels write whole vectors of 4-, 6- and 8-bit codes straight into packed
    // rows (store_packed); the stager and the tails use pack_codes. Both must lay out every
    // code alike and write no byte beyond the vector's own.
    std::mt19937 rng(61);
    for_each_arch([&](auto arch, const char* arch_name) {
        using A = decltype(arch);
        constexpr std::size_t lanes = mpq::kernel::compat::lanes<A>;
        auto check = [&]<int Bits>() {
            INFO(arch_name << ", " << Bits << "-bit codes");
            std::uniform_int_distribution<std::int32_t> code(0, (1 << Bits) - 1);
            for (int trial = 0; trial < 200; ++trial) {
                alignas(64) std::array<std::int32_t, lanes> lane_codes{};
                std::array<std::uint8_t, lanes> bytes{};
                for (std::size_t j = 0; j < lanes; ++j) {
                    // Every code at least once: 0, the largest, then random ones.
                    lane_codes[j] = trial == 0 ? 0 : trial == 1 ? (1 << Bits) - 1 : code(rng);
                    bytes[j] = static_cast<std::uint8_t>(lane_codes[j]);
                }
                constexpr std::size_t packed = lanes * Bits / 8, guard = 8;
                std::array<std::uint8_t, packed + guard> expected, actual;
                expected.fill(0xA5);
                actual.fill(0xA5);
                mpq::kernel::detail::pack_codes<Bits>(bytes.data(), lanes, expected.data(), 0);
                mpq::kernel::detail::store_packed<Bits, A>(
                    mpq::kernel::detail::int_batch<A>::load_aligned(lane_codes.data()), actual.data(), A{});
                REQUIRE(actual == expected);
            }
        };
        check.template operator()<4>();
        check.template operator()<6>();
        check.template operator()<8>();
    });
}
