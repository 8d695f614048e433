// The mixed-precision GEMM against its double reference, the packed storage against the
// library's own dequantize, precision maps, and argument errors.
#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/gemm.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace {

using namespace mpq;

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float spread = 1.0f) {
    std::mt19937 engine(seed);
    std::normal_distribution<float> normal(0.0f, spread);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(engine) * (uniform(engine) < 0.02f ? 20.0f : 1.0f); // some outliers
    return v;
}

/// The library's dequantize of the whole N x K matrix quantized in format f.
std::vector<float> library_dequantize(weight_format f, const std::vector<float>& w, std::size_t n, std::size_t k) {
    std::vector<float> out(n * k);
    auto via = [&](const auto& format) {
        const auto q = detail::quantize_whole(format, w, n, k, block_axis::rows, {});
        dequantize_ref(q.view(), out);
    };
    switch (f) {
    case weight_format::mxint4: via(mxint4{}); break;
    case weight_format::mxfp4: via(mxfp4{}); break;
    case weight_format::nvfp4: via(nvfp4{}); break;
    case weight_format::mxint8: via(mxint8{}); break;
    case weight_format::mxfp8_e4m3: via(mxfp8_e4m3{}); break;
    case weight_format::mxfp8_e5m2: via(mxfp8_e5m2{}); break;
    case weight_format::int4_vector: via(int4_vector{}); break;
    case weight_format::fp4_vector: via(fp4_e2m1_vector{}); break;
    case weight_format::int8_vector: via(int8_vector{}); break;
    case weight_format::bf16:
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = bf16::decode(bf16::encode(w[i]));
        break;
    case weight_format::fp16:
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = fp16::decode(fp16::encode(w[i]));
        break;
    case weight_format::fp32: out = w; break;
    }
    return out;
}

std::uint32_t bits(float x) {
    std::uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
}

/// Runs gemm with the given kernels and checks it against the reference within the bound
/// documented at gemm, or the integer-dot bound when every tile takes the integer path.
template <class Arch>
void check_gemm(std::size_t m, const std::vector<float>& w_values, const precision_map& map,
                activation_format activations, std::size_t threads, std::uint32_t seed) {
    const std::size_t n = map.rows(), k = map.cols();
    const mixed_matrix w = mixed_matrix::quantize(w_values, map);
    const std::size_t lda = k + 3, ldc = n + 2;
    const std::vector<float> a = random_values(m * lda, seed);
    const std::vector<float> bias = random_values(n, seed + 1);
    std::vector<float> c(m * ldc, 7.0f), ref(m * ldc, 7.0f);
    std::vector<double> magnitude(m * ldc);
    gemm_options options;
    options.activations = activations;
    options.threads = threads;
    options.bias = bias;
    detail::gemm_with<Arch>(m, a, lda, w, c, ldc, options);
    gemm_reference(m, a, lda, w, ref, ldc, options, magnitude);

    bool integer_only = activations == activation_format::mxint8 || activations == activation_format::mxint4;
    for (weight_format f : map.formats()) integer_only = integer_only && info(f).integer_codes;
    const double terms = integer_only ? static_cast<double>(k) / 32.0 : static_cast<double>(k);
    const double u = std::ldexp(1.0, -24);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            const double bound = (terms + 16.0) * u * (magnitude[i * ldc + j] + std::fabs(bias[j])) + 1e-30;
            const double err = std::fabs(static_cast<double>(c[i * ldc + j]) - ref[i * ldc + j]);
            if (!(err <= bound) && bad++ < 3) {
                INFO("m=" << i << " n=" << j << " got " << c[i * ldc + j] << " ref " << ref[i * ldc + j]
                          << " bound " << bound);
                CHECK(err <= bound);
            }
        }
        for (std::size_t j = n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == 7.0f); // padding untouched
    }
    CHECK(bad == 0);

    if (threads == 1) { // thread count never changes the result
        std::vector<float> c2(m * ldc, 7.0f);
        options.threads = 2;
        detail::gemm_with<Arch>(m, a, lda, w, c2, ldc, options);
        for (std::size_t i = 0; i < c.size(); ++i) REQUIRE(bits(c[i]) == bits(c2[i]));
    }
}

} // namespace

// Every set of small-M kernels this build compiles (each is tested, not only the one gemm uses).
#if MPQ_GEMM_HAVE_AVX512
#define MPQ_TEST_GEMM_KERNELS xsimd::generic, xsimd::fma3<xsimd::avx2>, detail::avx512_vnni
#elif MPQ_GEMM_HAVE_AVX2
#define MPQ_TEST_GEMM_KERNELS xsimd::generic, xsimd::fma3<xsimd::avx2>
#else
#define MPQ_TEST_GEMM_KERNELS xsimd::generic
#endif

namespace {

constexpr std::array all_activations{activation_format::f32, activation_format::mxint8, activation_format::mxint4,
                                     activation_format::mxfp8_e4m3};

} // namespace

TEST_CASE("weight formats: names round-trip and nominal bits", "[gemm]") {
    for (weight_format f : all_weight_formats) CHECK(parse_weight_format(to_string(f)) == f);
    CHECK_THROWS_AS(parse_weight_format("mxint3"), std::invalid_argument);
    CHECK(nominal_bits_per_weight(weight_format::mxint4, 4096) == 4.25);
    CHECK(nominal_bits_per_weight(weight_format::nvfp4, 4096) == 4.5);
    CHECK(nominal_bits_per_weight(weight_format::int4_vector, 128) == 4.25);
    CHECK(nominal_bits_per_weight(weight_format::bf16, 4096) == 16.0);
}

TEST_CASE("weight formats: info() holds each format's constants, also at compile time", "[gemm]") {
    static_assert(info(weight_format::nvfp4).group == 16 && info(weight_format::nvfp4).scale == scale_storage::ue4m3);
    static_assert(info(weight_format::fp32).code_bits == 32);
    for (weight_format f : all_weight_formats) {
        const weight_format_info i = info(f);
        CAPTURE(to_string(f));
        CHECK(i.low_precision == (i.scale != scale_storage::none));
        CHECK(i.low_precision == (i.code_bits <= 8));
        CHECK(i.group == (f == weight_format::nvfp4 ? 16U : 32U));
    }
    CHECK(info(weight_format::mxint8).code_multiplier == 1.0f / 64);
    CHECK(info(weight_format::mxfp8_e5m2).integer_codes == false);
    CHECK(info(weight_format::int4_vector).scale == scale_storage::f32);
    CHECK(info(weight_format::bf16).code_bits == 16);
    // A value outside the enumeration (read from a corrupt file, say) gets a harmless entry.
    const weight_format bad = static_cast<weight_format>(200);
    CHECK(to_string(bad) == "?");
    CHECK_FALSE(info(bad).low_precision);
}

TEST_CASE("precision map: Qr and bits per weight", "[gemm]") {
    const precision_map uniform = precision_map::uniform(10, 70, weight_format::mxint4);
    CHECK(uniform.qr() == 1.0);
    CHECK(uniform.bits_per_weight() == 4.25);
    CHECK(uniform.is_uniform());

    precision_map map(10, 70, 4, 32, weight_format::bf16); // 3 x 3 tiles, ragged both ways
    CHECK(map.qr() == 0.0);
    map.set(0, 0, weight_format::mxint4); // 4 x 32 = 128 weights
    map.set(2, 2, weight_format::mxfp4);  // 2 x 6 = 12 weights
    CHECK(map.qr() == Approx(140.0 / 700.0));
    CHECK(map.bits_per_weight() == Approx((140.0 * 4.25 + 560.0 * 16.0) / 700.0));
    CHECK(map.format_of(9, 69) == weight_format::mxfp4);
    CHECK_THROWS_AS(map.at(3, 0), std::invalid_argument);

    for (double qr : {0.0, 0.5, 0.9, 1.0}) {
        const auto r = precision_map::random_blockwise(64, 256, 8, 64, weight_format::mxint4, weight_format::bf16, qr, 7);
        CHECK(r.qr() == Approx(qr).margin(0.5 / 32)); // 32 equal tiles: within half a tile
    }
    CHECK_THROWS_AS(precision_map(4, 4, 1, 48, weight_format::fp32), std::invalid_argument);
    CHECK_THROWS_AS(precision_map(4, 4, 0, 32, weight_format::fp32), std::invalid_argument);
    CHECK_THROWS_AS(precision_map(0, 4, 1, 32, weight_format::fp32), std::invalid_argument);
    CHECK_THROWS_AS(precision_map::random_blockwise(4, 4, 1, 32, weight_format::mxint4, weight_format::bf16, 1.5, 0),
                    std::invalid_argument);
}

TEST_CASE("mixed_matrix runs: maximal, one format each, and locating the same bytes as the block tables",
          "[gemm]") {
    const precision_map map =
        precision_map::random_blockwise(40, 300, 8, 64, weight_format::mxint4, weight_format::bf16, 0.5, 3);
    const mixed_matrix w = mixed_matrix::quantize(random_values(40 * 300, 8), map);
    for (std::size_t r = 0; r < w.rows(); ++r) {
        const mixed_matrix::row_view row = w.row(r);
        std::size_t next_block = 0;
        for (std::size_t i = 0; i < row.run_count; ++i) {
            const mixed_matrix::block_run& run = row.runs[i];
            INFO("row " << r << " run " << i);
            REQUIRE(run.first == next_block); // runs cover the row's K-blocks in order
            REQUIRE(run.end > run.first);
            next_block = run.end;
            for (std::size_t b = run.first; b < run.end; ++b) CHECK(map.format_of(r, b * 64) == run.format);
            if (i > 0) CHECK(row.runs[i - 1].format != run.format); // maximal
            const weight_segment by_run = row.segment(run), by_blocks = row.segment(run.first, run.end);
            CHECK(by_run.format == by_blocks.format);
            CHECK(by_run.codes == by_blocks.codes);
            CHECK(by_run.scales == by_blocks.scales);
            CHECK(by_run.length == by_blocks.length);
        }
        CHECK(next_block == map.k_blocks());
    }
}

TEST_CASE("mixed_matrix stores exactly what each format's quantize holds", "[gemm]") {
    const std::size_t n = 11, k = 83; // ragged: K not a multiple of 32 or 16
    const std::vector<float> w = random_values(n * k, 3);
    for (weight_format f : all_weight_formats) {
        INFO(to_string(f));
        const std::vector<float> expected = library_dequantize(f, w, n, k);
        const mixed_matrix uniform = mixed_matrix::quantize(w, n, k, f);
        std::vector<float> got(n * k);
        uniform.dequantize(got);
        for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(bits(got[i]) == bits(expected[i]));
    }
    // A map using every format at once, tiles of 3 rows x 32 columns.
    precision_map map(n, k, 3, 32, weight_format::fp32);
    std::size_t next = 0;
    for (std::size_t g = 0; g < map.row_groups(); ++g)
        for (std::size_t b = 0; b < map.k_blocks(); ++b) map.set(g, b, all_weight_formats[next++ % all_weight_formats.size()]);
    const mixed_matrix mixed = mixed_matrix::quantize(w, map);
    std::vector<float> got(n * k);
    mixed.dequantize(got);
    for (weight_format f : all_weight_formats) {
        const std::vector<float> expected = library_dequantize(f, w, n, k);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t c = 0; c < k; ++c)
                if (map.format_of(r, c) == f) REQUIRE(bits(got[r * k + c]) == bits(expected[r * k + c]));
    }
}

TEST_CASE("packed activations equal the library's fake quantization", "[gemm]") {
    const std::size_t m = 3, k = 277, lda = 280;
    const std::vector<float> a = random_values(m * lda, 5);
    for (activation_format format : all_activations) {
        detail::packed_activations packed;
        detail::pack_activations(m, k, a.data(), lda, format, packed, true, false, true);
        for (std::size_t i = 0; i < m; ++i) {
            std::vector<float> expected(a.begin() + static_cast<std::ptrdiff_t>(i * lda),
                                        a.begin() + static_cast<std::ptrdiff_t>(i * lda + k));
            auto fake = [&](const auto& f) {
                const std::vector<float> row = expected;
                const auto q = detail::quantize_whole(f, row, 1, k, block_axis::rows, {});
                dequantize_ref(q.view(), expected);
            };
            if (format == activation_format::mxint8) fake(mxint8{});
            if (format == activation_format::mxint4) fake(mxint4{});
            if (format == activation_format::mxfp8_e4m3) fake(mxfp8_e4m3{});
            for (std::size_t p = 0; p < k; ++p) REQUIRE(packed.row(i)[p] == expected[p]);
            for (std::size_t p = k; p < packed.ld; ++p) REQUIRE(packed.row(i)[p] == 0.0f);
            if (packed.integer) // codes times scales give the values
                for (std::size_t p = 0; p < k; ++p)
                    REQUIRE(static_cast<float>(packed.code_row(i)[p]) * packed.scale_row(i)[p / 32] == expected[p]);
            if (packed.integer) continue;
            // Float values in quad order: vector v of quad q, lane l holds element
            // 4 (l % 4) + v / 2 + 16 (v % 2) of unit 4q + l / 4 (k = 277: quads 0 and 1 whole,
            // the second ending in padding).
            REQUIRE(packed.ld == 320);
            for (std::size_t q = 0; q < 2; ++q)
                for (std::size_t v = 0; v < 8; ++v)
                    for (std::size_t l = 0; l < 16; ++l) {
                        const std::size_t p = 128 * q + 32 * (l / 4) + 4 * (l % 4) + v / 2 + 16 * (v % 2);
                        REQUIRE(bits(packed.quad_value_row(i)[128 * q + 16 * v + l]) == bits(p < k ? expected[p] : 0.0f));
                    }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: every uniform format, every activation format, ragged shapes", "[gemm]",
                   MPQ_TEST_GEMM_KERNELS) {
    const std::size_t n = 21, k = 83;
    const std::vector<float> w = random_values(n * k, 11);
    for (weight_format f : all_weight_formats) {
        for (activation_format act : all_activations) {
            for (std::size_t m : {1, 3, 8, 13, 30}) {
                INFO(to_string(f) << " x " << to_string(act) << " M=" << m);
                check_gemm<TestType>(m, w, precision_map::uniform(n, k, f), act, 1, static_cast<std::uint32_t>(m));
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: random block-wise maps at Qr 0, 0.5, 0.9, 1", "[gemm]", MPQ_TEST_GEMM_KERNELS) {
    // 8-bit lows too: their runs may start at an odd unit, which the two-unit integer steps
    // must handle (scales at 4-byte offsets).
    const std::array lows{weight_format::mxint4, weight_format::mxfp4, weight_format::nvfp4, weight_format::int4_vector,
                          weight_format::mxint8, weight_format::int8_vector};
    const std::array highs{weight_format::bf16, weight_format::fp16, weight_format::fp32};
    std::uint32_t seed = 100;
    for (double qr : {0.0, 0.5, 0.9, 1.0}) {
        for (weight_format low : lows) {
            const weight_format high = highs[seed % highs.size()];
            const std::size_t n = 19 + seed % 7, k = 150 + seed % 50, tile_rows = 1 + seed % 5;
            const std::size_t block_k = 32 * (1 + seed % 3);
            const auto map = precision_map::random_blockwise(n, k, tile_rows, block_k, low, high, qr, seed);
            const std::vector<float> w = random_values(n * k, seed);
            for (activation_format act : {activation_format::f32, activation_format::mxint8}) {
                for (std::size_t m : {1, 5, 26}) {
                    INFO("Qr " << qr << " " << to_string(low) << "/" << to_string(high) << " " << to_string(act) << " M=" << m);
                    check_gemm<TestType>(m, w, map, act, 1, seed + static_cast<std::uint32_t>(m));
                }
            }
            ++seed;
        }
    }
}

TEST_CASE("gemm: large M and many columns split over two threads", "[gemm]") {
    const std::size_t n = 70, k = 300;
    const std::vector<float> w = random_values(n * k, 21);
    const auto map = precision_map::random_blockwise(n, k, 8, 64, weight_format::mxfp4, weight_format::bf16, 0.9, 4);
    const std::size_t default_panel_rows = detail::panel_min_rows;
    for (std::size_t panel_rows : {std::size_t{16}, default_panel_rows}) { // panel path and dot path
        detail::panel_min_rows = panel_rows;
        check_gemm<detail::gemm_arch>(61, w, map, activation_format::f32, 1, 1);
        check_gemm<detail::gemm_arch>(61, w, map, activation_format::mxint8, 1, 2);
        check_gemm<detail::gemm_arch>(40, w, map, activation_format::mxfp8_e4m3, 2, 3);
        check_gemm<detail::gemm_arch>(17, w, map, activation_format::f32, 2, 4);
    }
    detail::panel_min_rows = default_panel_rows;
    // Every uniform format through the panel path, K ragged.
    detail::panel_min_rows = 16;
    const std::vector<float> w2 = random_values(23 * 83, 22);
    for (weight_format f : all_weight_formats) {
        INFO(to_string(f));
        check_gemm<detail::gemm_arch>(20, w2, precision_map::uniform(23, 83, f), activation_format::f32, 1, 5);
    }
    detail::panel_min_rows = default_panel_rows;
}

TEST_CASE("gemm: accumulate into C, matvec and matmul", "[gemm]") {
    const std::size_t n = 9, k = 64;
    const std::vector<float> wv = random_values(n * k, 8);
    const mixed_matrix w = mixed_matrix::quantize(wv, n, k, weight_format::mxint4);
    const std::vector<float> x = random_values(2 * k, 9);
    std::vector<float> y(2 * n), y_ref(2 * n);
    matmul(w, x, y, 2);
    gemm_reference(2, x, k, w, y_ref, n);
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(y_ref[i]).margin(1e-4));
    std::vector<float> y1(n);
    matvec(w, std::span<const float>(x).first(k), y1);
    for (std::size_t i = 0; i < n; ++i) CHECK(y1[i] == Approx(y_ref[i]).margin(1e-4));

    std::vector<float> c(2 * n, 1.5f), c_ref(2 * n, 1.5f);
    gemm_options accumulate;
    accumulate.accumulate = true;
    gemm(2, x, k, w, c, n, accumulate);
    gemm_reference(2, x, k, w, c_ref, n, accumulate);
    for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == Approx(c_ref[i]).margin(1e-4));
}

TEST_CASE("gemm: argument errors", "[gemm]") {
    const std::size_t n = 4, k = 40;
    const mixed_matrix w = mixed_matrix::quantize(random_values(n * k, 1), n, k, weight_format::mxint8);
    std::vector<float> a(2 * k), c(2 * n), bias(n);
    CHECK_NOTHROW(gemm(2, a, k, w, c, n));
    CHECK_NOTHROW(gemm(0, {}, k, w, {}, n));
    CHECK_THROWS_AS(gemm(2, a, k - 1, w, c, n), std::invalid_argument);     // lda < K
    CHECK_THROWS_AS(gemm(2, a, k, w, c, n - 1), std::invalid_argument);     // ldc < N
    CHECK_THROWS_AS(gemm(3, a, k, w, c, n), std::invalid_argument);         // A too short
    CHECK_THROWS_AS(gemm(2, a, k, w, std::span<float>(c).first(n + 1), n), std::invalid_argument); // C too short
    gemm_options options;
    options.bias = std::span<const float>(bias).first(n - 1);
    CHECK_THROWS_AS(gemm(2, a, k, w, c, n, options), std::invalid_argument); // bias length
    options = {};
    options.threads = 0;
    CHECK_THROWS_AS(gemm(2, a, k, w, c, n, options), std::invalid_argument);
    CHECK_THROWS_AS(gemm(2, a, k, mixed_matrix{}, c, n), std::invalid_argument); // empty W
    std::vector<float> y(n);
    CHECK_THROWS_AS(matvec(w, std::span<const float>(a).first(k - 1), y), std::invalid_argument);
    CHECK_THROWS_AS(matmul(w, a, c, 3), std::invalid_argument);
    CHECK_THROWS_AS(mixed_matrix::quantize(a, precision_map(n, k, 1, 32, weight_format::bf16)), std::invalid_argument);
    try {
        gemm(2, a, k - 1, w, c, n);
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("lda 39") != std::string::npos);
    }
}

TEST_CASE("gemm: NaN in a weight block or an activation block reaches only the outputs it touches", "[gemm]") {
    // K = 160: units 0..3 run through the four-unit steps of the MX 4-bit integer kernels,
    // unit 4 through the single-unit step; a NaN block sits in each.
    const std::size_t n = 6, k = 160, m = 3;
    std::vector<float> wv = random_values(n * k, 31);
    wv[2 * k + 40] = std::numeric_limits<float>::quiet_NaN(); // row 2, second block of 32
    wv[4 * k + 150] = std::numeric_limits<float>::quiet_NaN(); // row 4, last block
    std::vector<float> a = random_values(m * k, 32);
    a[1 * k + 70] = std::numeric_limits<float>::infinity(); // row 1 of A
    for (weight_format f : {weight_format::mxint4, weight_format::mxfp4, weight_format::nvfp4, weight_format::int4_vector,
                            weight_format::bf16}) {
        const mixed_matrix w = mixed_matrix::quantize(wv, n, k, f);
        for (activation_format act : {activation_format::f32, activation_format::mxint8}) {
            for (std::size_t panel_rows : {std::size_t{1}, detail::panel_min_rows}) {
                const std::size_t saved = detail::panel_min_rows;
                detail::panel_min_rows = panel_rows;
                std::vector<float> c(m * n);
                gemm(m, a, k, w, c, n, {.activations = act});
                detail::panel_min_rows = saved;
                INFO(to_string(f) << " x " << to_string(act) << " panel from M=" << panel_rows);
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t j = 0; j < n; ++j) {
                        const bool touched = i == 1 || j == 2 || j == 4;
                        CHECK(std::isfinite(c[i * n + j]) == !touched);
                    }
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: MX weight blocks at the ends of the E8M0 scale range", "[gemm]", MPQ_TEST_GEMM_KERNELS) {
    // Weights near 2^-127 (E8M0 scale code 0, a subnormal scale) against activations near
    // 2^100, and weights near 2^120 against activations near 2^-100: the products stay
    // normal, so the relative bound is tight. K = 288 runs four-unit and single-unit steps.
    const std::size_t n = 5, k = 288;
    for (const auto& [w_exp, a_exp] : {std::pair{-127, 100}, std::pair{120, -100}}) {
        std::vector<float> wv = random_values(n * k, 61);
        for (float& x : wv) x = std::ldexp(x, w_exp);
        for (weight_format f : {weight_format::mxint4, weight_format::mxfp4, weight_format::mxint8}) {
            const mixed_matrix w = mixed_matrix::quantize(wv, n, k, f);
            if (w_exp < 0) CHECK(w.segment(0, 0).scales[0] <= 1); // the scale range's bottom is reached
            for (activation_format act : {activation_format::f32, activation_format::mxint8}) {
                for (std::size_t m : {std::size_t{1}, std::size_t{5}}) {
                    std::vector<float> a = random_values(m * k, 62);
                    for (float& x : a) x = std::ldexp(x, a_exp);
                    std::vector<float> c(m * n), ref(m * n);
                    std::vector<double> magnitude(m * n);
                    const gemm_options options{.activations = act};
                    detail::gemm_with<TestType>(m, a, k, w, c, n, options);
                    gemm_reference(m, a, k, w, ref, n, options, magnitude);
                    INFO(to_string(f) << " x " << to_string(act) << " M=" << m << " 2^" << w_exp);
                    for (std::size_t i = 0; i < m * n; ++i) {
                        REQUIRE(std::isnormal(ref[i]));
                        CHECK(std::fabs(static_cast<double>(c[i]) - ref[i]) <=
                              (static_cast<double>(k) + 16.0) * std::ldexp(1.0, -24) * magnitude[i]);
                    }
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: BF16 weights at the ends of the exponent range against integer activations", "[gemm]",
                   MPQ_TEST_GEMM_KERNELS) {
    // The AVX-512 BF16 kernels sum pairs of code x weight products with vdpbf16ps, which
    // flushes subnormal inputs and results to zero; a BF16 run takes it only when every
    // weight's exponent lies within +-bf16_pair_exponent_limit, where no sum can be subnormal
    // or overflow. The weights here come in pairs (2^E, -(2^E + one BF16 ulp)) that cancel
    // to one ulp against equal codes (small sums: the test fails if E = -120 .. -127 took the
    // pair product), or (1.99 * 2^E, 1.99 * 2^E) against the largest codes (E = 120 would
    // overflow in a pair). Activations: 1.0 opens each block (its weight 0 fixes the scale
    // at 2^0 and contributes nothing), the others code 1 (1/64 in MXINT8, 1/4 in MXINT4), or
    // for the large weights the largest code times 2^-10.
    const std::size_t n = 3, k = 96, m = 2;
    constexpr int limit = mixed_matrix::bf16_pair_exponent_limit;
    for (int e : {-limit, -limit - 1, -126, -127, limit, limit + 1}) {
        const bool small = e < 0;
        std::vector<float> wv(n * k);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t i = 0; i < k; i += 2) {
                const bool opens_block = i % 32 == 0;
                const float lo = small ? std::ldexp(1.0f, e) : std::ldexp(1.9921875f, e);
                const float hi = small ? -(lo + std::ldexp(1.0f, std::max(e, -126) - 7)) : lo; // next BF16 up
                const float sign = r + 1 == n ? -1.0f : 1.0f; // the last row: no cancellation, or negative
                wv[r * k + i] = opens_block ? 0.0f : (small ? lo : sign * lo);
                wv[r * k + i + 1] = opens_block ? 0.0f : sign * hi;
            }
        const mixed_matrix w = mixed_matrix::quantize(wv, n, k, weight_format::bf16);
        for (std::size_t i = 0; i < n * k; ++i) {
            INFO("E " << e << " i " << i << " " << std::hexfloat << wv[i] << " " << w.value(i / k, i % k));
            REQUIRE(w.value(i / k, i % k) == wv[i]); // exact in BF16
        }
        CHECK(w.row(0).runs[0].bf16_pair_safe == (std::abs(e) <= limit));
        for (activation_format act : {activation_format::mxint8, activation_format::mxint4}) {
            const bool int8 = act == activation_format::mxint8;
            std::vector<float> a(m * k);
            for (std::size_t i = 0; i < m * k; ++i)
                a[i] = small ? (i % 32 == 0 ? 1.0f : (int8 ? 1.0f / 64 : 0.25f))
                             : std::ldexp(int8 ? 127.0f / 64 : 7.0f / 4, -10);
            std::vector<float> c(m * n), ref(m * n);
            std::vector<double> magnitude(m * n);
            const gemm_options options{.activations = act};
            detail::gemm_with<TestType>(m, a, k, w, c, n, options);
            gemm_reference(m, a, k, w, ref, n, options, magnitude);
            INFO("E = " << e << " " << to_string(act));
            for (std::size_t i = 0; i < m * n; ++i) {
                REQUIRE(std::isfinite(ref[i]));
                REQUIRE(ref[i] != 0.0);
                CHECK(std::fabs(static_cast<double>(c[i]) - ref[i]) <=
                      (static_cast<double>(k) + 16.0) * std::ldexp(1.0, -24) * magnitude[i]);
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: decode shapes of a small model (K 64 and 172, M 1..5, blocks of rows)", "[gemm]",
                   MPQ_TEST_GEMM_KERNELS) {
    // The shapes of stories260K's layers plus ragged N, through every activation grouping
    // (M = 1..5) and both thread counts, uniform and block-wise maps.
    std::uint32_t seed = 300;
    for (std::size_t k : {64, 172}) {
        for (std::size_t n : {64, 172, 37, 9}) {
            const std::vector<float> w = random_values(n * k, seed);
            const std::array maps{precision_map::uniform(n, k, weight_format::mxint4),
                                  precision_map::uniform(n, k, weight_format::mxint8),
                                  precision_map::random_blockwise(n, k, 16, 32, weight_format::mxint4, weight_format::bf16,
                                                                  0.9, seed),
                                  precision_map::random_blockwise(n, k, 3, 64, weight_format::nvfp4, weight_format::fp16,
                                                                  0.5, seed)};
            for (const precision_map& map : maps) {
                for (activation_format act : {activation_format::f32, activation_format::mxint4, activation_format::mxint8}) {
                    for (std::size_t m : {1, 2, 3, 5}) {
                        for (std::size_t threads : {1, 2}) {
                            INFO("K=" << k << " N=" << n << " tile rows " << map.tile_rows() << " Qr " << map.qr() << " "
                                      << to_string(act) << " M=" << m << " threads " << threads);
                            check_gemm<TestType>(m, w, map, act, threads, seed + static_cast<std::uint32_t>(m));
                        }
                    }
                }
            }
            ++seed;
        }
    }
}

#if MPQ_GEMM_HAVE_AVX512
TEST_CASE("gemm (AVX-512 kernels): the 6 x 32 panel micro-kernel gives the AVX2 6 x 16 kernel's bits", "[gemm]") {
    // Both run the same fused multiply-adds per output in the same order; only the panel
    // width differs. Ragged N (not a multiple of 32 or 16), ragged M, K across two KC chunks,
    // accumulate into C with a bias.
    const std::size_t n = 83, k = 300, m = 140;
    const std::vector<float> wv = random_values(n * k, 51);
    const std::vector<float> a = random_values(m * k, 52);
    const std::vector<float> bias = random_values(n, 53);
    for (const precision_map& map : {precision_map::uniform(n, k, weight_format::mxint4),
                                     precision_map::random_blockwise(n, k, 7, 64, weight_format::nvfp4, weight_format::bf16, 0.5, 4)}) {
        const mixed_matrix w = mixed_matrix::quantize(wv, map);
        for (std::size_t threads : {1, 2}) {
            gemm_options options;
            options.bias = bias;
            options.accumulate = true;
            options.threads = threads;
            std::vector<float> wide(m * n, 0.5f), narrow(m * n, 0.5f);
            REQUIRE(m >= detail::panel_min_rows);
            detail::gemm_with<detail::avx512_vnni>(m, a, k, w, wide, n, options);
            detail::gemm_with<xsimd::fma3<xsimd::avx2>>(m, a, k, w, narrow, n, options);
            INFO("threads " << threads);
            for (std::size_t i = 0; i < wide.size(); ++i) REQUIRE(bits(wide[i]) == bits(narrow[i]));
        }
    }
}

TEST_CASE("gemm (AVX-512 kernels): prefetching the next rows (W from DRAM) changes no result", "[gemm]") {
    // Prefetching is only turned on for W of several MiB; here it is forced on small W of
    // every layout it meets: one run per group (also across groups of the same format: Qr 1
    // tiles, groups of 8 and of 12 rows), one-run groups of either format one after the other
    // (K-blocks as wide as K), several runs per group and next groups of other row lengths
    // (where the fixed distance lands about, not exactly, on the next block), groups shorter
    // than a block of rows, 16-bit-only groups (one row at a time), and ragged N; M = 1, 3
    // and 5 take blocks of 8 and 4 rows.
    const std::size_t k = 300;
    const std::size_t default_min_bytes = detail::avx512_prefetch_min_bytes;
    for (const std::size_t n : {std::size_t{70}, std::size_t{61}}) {
        const std::vector<float> wv = random_values(n * k, 51);
        for (const precision_map& map : {precision_map::uniform(n, k, weight_format::mxint4),
                                         precision_map::uniform(n, k, weight_format::bf16),
                                         precision_map::random_blockwise(n, k, 16, 64, weight_format::mxint4, weight_format::bf16, 0.9, 5),
                                         precision_map::random_blockwise(n, k, 5, 32, weight_format::mxfp4, weight_format::bf16, 0.5, 6),
                                         precision_map::random_blockwise(n, k, 3, 96, weight_format::nvfp4, weight_format::mxint8, 0.7, 7),
                                         precision_map::random_blockwise(n, k, 8, 64, weight_format::mxint4, weight_format::bf16, 1.0, 8),
                                         precision_map::random_blockwise(n, k, 12, 64, weight_format::mxfp4, weight_format::bf16, 1.0, 9),
                                         precision_map::random_blockwise(n, k, 8, 320, weight_format::mxint4, weight_format::mxint8, 0.5, 10)}) {
            const mixed_matrix w = mixed_matrix::quantize(wv, map);
            for (activation_format act : {activation_format::f32, activation_format::mxint8}) {
                for (std::size_t m : {1, 3, 5}) {
                    const std::vector<float> a = random_values(m * k, 52);
                    gemm_options options;
                    options.activations = act;
                    std::vector<float> plain(m * n), prefetched(m * n);
                    detail::avx512_prefetch_min_bytes = default_min_bytes;
                    detail::gemm_with<detail::avx512_vnni>(m, a, k, w, plain, n, options);
                    detail::avx512_prefetch_min_bytes = 0;
                    detail::gemm_with<detail::avx512_vnni>(m, a, k, w, prefetched, n, options);
                    INFO("N=" << n << " " << to_string(act) << " M=" << m << " runs of group 0: " << w.row(0).run_count);
                    for (std::size_t i = 0; i < plain.size(); ++i) REQUIRE(bits(plain[i]) == bits(prefetched[i]));
                    check_gemm<detail::avx512_vnni>(m, wv, map, act, 1, 53);
                }
            }
        }
    }
    detail::avx512_prefetch_min_bytes = default_min_bytes;
}

TEST_CASE("gemm (AVX-512 kernels): MX 4-bit scales built from their bits equal the exact ones", "[gemm]") {
    // The four-unit float steps build a run's scales from their E8M0 bits when all of them,
    // in every row of the row group, are normal floats (block_run::scales_normal), and
    // otherwise by vscalefps. Row 7 of each W here, in the same row group and the same block
    // of 8 rows as rows 0..6, has a block whose scale is subnormal (codes 0 to 2), or NaN: the
    // other rows then take the exact path and must give the bits they give with row 7 tame.
    const std::size_t n = 8, k = 416; // 13 units: three four-unit steps and one single unit
    const std::vector<float> tame = random_values(n * k, 71);
    const std::vector<float> a = random_values(3 * k, 72);
    for (const float row7_scale : {0x1p-127f, 0x1p-124f, std::numeric_limits<float>::quiet_NaN()}) {
        std::vector<float> wild = tame;
        for (std::size_t j = 64; j < 96; ++j) // row 7, unit 2: largest magnitude 7/8 of row7_scale
            wild[7 * k + j] = row7_scale * static_cast<float>(1 + j % 7) / (j % 2 == 0 ? 8.0f : -8.0f);
        for (weight_format f : {weight_format::mxint4, weight_format::mxfp4}) {
            const mixed_matrix w_tame = mixed_matrix::quantize(tame, n, k, f);
            const mixed_matrix w_wild = mixed_matrix::quantize(wild, n, k, f);
            const std::uint8_t code = w_wild.segment(7, 0).scales[2];
            CHECK((code < 3 || code == 255)); // outside the bits path for both formats
            // The run's flag, set at quantization, is what picks the path.
            CHECK(w_tame.row(0).runs[0].scales_normal);
            CHECK_FALSE(w_wild.row(0).runs[0].scales_normal);
            for (std::size_t m : {std::size_t{1}, std::size_t{3}}) {
                std::vector<float> c_tame(m * n), c_wild(m * n);
                detail::gemm_with<detail::avx512_vnni>(m, a, k, w_tame, c_tame, n, {});
                detail::gemm_with<detail::avx512_vnni>(m, a, k, w_wild, c_wild, n, {});
                INFO(to_string(f) << " row 7 scaled by " << row7_scale << " M=" << m);
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t j = 0; j < 7; ++j) REQUIRE(bits(c_tame[i * n + j]) == bits(c_wild[i * n + j]));
                for (std::size_t i = 0; i < m; ++i) CHECK(std::isnan(c_wild[i * n + 7]) == std::isnan(row7_scale));
                // Row 7 itself, through the exact path, against the reference.
                if (!std::isnan(row7_scale))
                    check_gemm<detail::avx512_vnni>(m, wild, precision_map::uniform(n, k, f), activation_format::f32, 1, 73);
            }
        }
    }
}

TEST_CASE("gemm (AVX-512 kernels): a row of C does not depend on M or the other rows", "[gemm]") {
    // The model's linear layers promise that a sequence gives the same numbers fed token by
    // token (M = 1) or all at once: each output's operation sequence must ignore the grouping
    // of activation rows and the blocking of weight rows.
    const std::size_t n = 45, k = 172, m = 11;
    const std::vector<float> wv = random_values(n * k, 41);
    const std::vector<float> a = random_values(m * k, 42);
    // 16-bit-only row groups run the GEMV one row at a time, the others 8 rows at a time.
    for (const precision_map& map : {precision_map::uniform(n, k, weight_format::mxint4),
                                     precision_map::uniform(n, k, weight_format::bf16),
                                     precision_map::random_blockwise(n, k, 5, 32, weight_format::fp16, weight_format::bf16, 0.5, 4),
                                     precision_map::random_blockwise(n, k, 5, 32, weight_format::mxfp4, weight_format::bf16, 0.9, 3)}) {
        const mixed_matrix w = mixed_matrix::quantize(wv, map);
        for (activation_format act : {activation_format::f32, activation_format::mxint4, activation_format::mxint8}) {
            gemm_options options;
            options.activations = act;
            std::vector<float> all(m * n), one(n);
            detail::gemm_with<detail::avx512_vnni>(m, a, k, w, all, n, options);
            for (std::size_t i = 0; i < m; ++i) {
                detail::gemm_with<detail::avx512_vnni>(1, std::span<const float>(a).subspan(i * k, k), k, w, one, n, options);
                INFO(to_string(act) << " row " << i);
                for (std::size_t j = 0; j < n; ++j) REQUIRE(bits(one[j]) == bits(all[i * n + j]));
            }
        }
    }
}
#endif

TEST_CASE("gemm_bf16: BF16 activations give gemm's result on their float32 values", "[gemm]") {
    const std::size_t n = 37, k = 172, m = 5, lda = 180, ldc = 40;
    const std::vector<float> wv = random_values(n * k, 51);
    const auto map = precision_map::random_blockwise(n, k, 16, 32, weight_format::mxint4, weight_format::bf16, 0.9, 5);
    const mixed_matrix w = mixed_matrix::quantize(wv, map);
    const std::vector<float> values = random_values(m * lda, 52);
    std::vector<bf16> a(m * lda);
    std::vector<float> widened(m * lda);
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = bf16::from_bits(bf16::encode(values[i]));
        widened[i] = bf16::decode(a[i].code());
    }
    for (activation_format act : {activation_format::f32, activation_format::mxint4}) {
        gemm_options options;
        options.activations = act;
        std::vector<float> c(m * ldc, 3.0f), expected(m * ldc, 3.0f);
        gemm_bf16(m, a, lda, w, c, ldc, options);
        gemm(m, widened, lda, w, expected, ldc, options);
        for (std::size_t i = 0; i < c.size(); ++i) REQUIRE(bits(c[i]) == bits(expected[i]));
    }
    std::vector<float> c(m * ldc);
    CHECK_THROWS_AS(gemm_bf16(m, std::span<const bf16>(a).first((m - 1) * lda + k - 1), lda, w, c, ldc),
                    std::invalid_argument);
    CHECK_THROWS_AS(gemm_bf16(m, a, k - 1, w, c, ldc), std::invalid_argument);
    CHECK_NOTHROW(gemm_bf16(0, {}, k, w, {}, n));
}
