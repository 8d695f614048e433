// Interop layouts pinned with hand-made bytes, and lossless round trips.
#include <mpq/format.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <vector>

using namespace mpq;

TEST_CASE("ggml block_mxfp4 splits the halves of a block", "[format][interop]") {
    // Example 1 of the format specification: ggml's own quantizer rounds ties toward zero, so
    // build the tensor from the RNE codes and check the byte layout only.
    const std::vector<std::uint32_t> codes = {6, 0xE, 0, 2, 2, 4, 4, 6, 1, 9, 2, 0xC, 5, 6, 0, 0,
                                              0, 0xA, 7, 0xF, 1, 2, 3, 4, 5, 6, 0xD, 0, 0, 0xC, 5, 0xE};
    quantized_tensor<mxfp4> q(mxfp4{}, 1, 32);
    for (std::size_t i = 0; i < 32; ++i) q.view().set_code(0, i, codes[i]);
    q.scales()[0] = 0x7F;
    // OCP / torchao interleaved order is mpq's packing.
    CHECK(q.codes() == std::vector<std::uint8_t>{0xE6, 0x20, 0x42, 0x64, 0x91, 0xC2, 0x65, 0x00,
                                                 0xA0, 0xF7, 0x21, 0x43, 0x65, 0x0D, 0xC0, 0xE5});
    const auto g = to_ggml_mxfp4(q.view());
    REQUIRE(g.size() == 1);
    CHECK(g[0].e == 0x7F);
    const std::vector<std::uint8_t> expected = {0x06, 0xAE, 0x70, 0xF2, 0x12, 0x24, 0x34, 0x46,
                                                0x51, 0x69, 0xD2, 0x0C, 0x05, 0xC6, 0x50, 0xE0};
    CHECK(std::vector<std::uint8_t>(g[0].qs, g[0].qs + 16) == expected);
    const auto back = from_ggml_mxfp4(g, 1, 32);
    CHECK(back.codes() == q.codes());
    CHECK(back.scales() == q.scales());
}

TEST_CASE("gpt-oss blocks and scales", "[format][interop]") {
    // Byte 0x5A with scale 0x80 (2^1): element 2j = lut[0xA] * 2 = -2, element 2j+1 = lut[0x5] * 2 = 6.
    gpt_oss_mxfp4 w;
    w.rows = 1;
    w.groups = 1;
    w.blocks.assign(16, 0x00);
    w.blocks[3] = 0x5A;
    w.scales = {0x80};
    const auto q = from_gpt_oss(w);
    std::vector<float> y(32);
    dequantize(q, std::span<float>(y));
    CHECK(y[6] == -2.0f);
    CHECK(y[7] == 6.0f);
    const auto again = to_gpt_oss(q.view());
    CHECK(again.blocks == w.blocks);
    CHECK(again.scales == w.scales);
}

TEST_CASE("layouts convert losslessly on random tensors", "[format][interop]") {
    std::mt19937 rng(9);
    std::normal_distribution<float> dist;
    std::vector<float> x(4 * 96);
    for (auto& v : x) v = dist(rng);
    const auto q = quantize(mxfp4{}, std::span<const float>(x), 4, 96);
    const auto g = from_ggml_mxfp4(to_ggml_mxfp4(q.view()), 4, 96);
    CHECK(g.codes() == q.codes());
    CHECK(g.scales() == q.scales());
    const auto o = from_gpt_oss(to_gpt_oss(q.view()));
    CHECK(o.codes() == q.codes());
    CHECK(o.scales() == q.scales());
}

TEST_CASE("interop layouts reject shapes they cannot hold", "[format][interop]") {
    std::vector<float> x(40);
    const auto q = quantize(mxfp4{}, std::span<const float>(x), 1, 40);
    CHECK_THROWS_WITH(to_ggml_mxfp4(q.view()), Catch::Contains("40"));
    const auto q16 = quantize(mx_dynamic<fp4_e2m1>(16), std::span<const float>(x).first(32), 1, 32);
    CHECK_THROWS_WITH(to_gpt_oss(q16.view()), Catch::Contains("16"));
    std::vector<ggml_block_mxfp4> blocks(1);
    CHECK_THROWS_AS(from_ggml_mxfp4(blocks, 2, 32), std::invalid_argument);
    gpt_oss_mxfp4 w;
    w.rows = 2;
    w.groups = 1;
    w.blocks.assign(16, 0);
    w.scales.assign(2, 0);
    CHECK_THROWS_WITH(from_gpt_oss(w), Catch::Contains("16") && Catch::Contains("32"));
}
