// The building blocks of the Llama forward pass against naive double-precision references
// on small hand-made tensors.
#include "llama/linear.hpp"
#include "llama/ops.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

using namespace mpq::llama;

namespace {

std::vector<float> ramp(std::size_t n, float start, float step) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
    return v;
}

} // namespace

TEST_CASE("rmsnorm divides by the root mean square and scales by the weight", "[llama][ops]") {
    const std::vector<float> x{1.0f, -2.0f, 3.0f, -4.0f};
    const std::vector<float> w{1.0f, 0.5f, 2.0f, -1.0f};
    std::vector<float> out(4);
    rmsnorm(out, x, w, 0.0f);
    const double rms = std::sqrt((1.0 + 4.0 + 9.0 + 16.0) / 4.0); // sqrt(7.5)
    for (std::size_t i = 0; i < 4; ++i) CHECK(out[i] == Approx(w[i] * x[i] / rms).epsilon(1e-6));

    // eps keeps an all-zero vector finite.
    std::vector<float> zeros(4, 0.0f), z(4);
    rmsnorm(z, zeros, w);
    for (float v : z) CHECK(v == 0.0f);

    // In place, and with the default eps of 1e-5.
    std::vector<float> y = x;
    rmsnorm(y, y, w);
    for (std::size_t i = 0; i < 4; ++i) CHECK(y[i] == Approx(w[i] * x[i] / std::sqrt(7.5 + 1e-5)).epsilon(1e-6));

    std::vector<float> short_out(3);
    CHECK_THROWS_AS(rmsnorm(short_out, x, w), std::invalid_argument);
}

TEST_CASE("rope rotates adjacent pairs within each head by pos * 10000^(-2i/head_size)", "[llama][ops]") {
    const std::size_t head_size = 4, heads = 2, pos = 3;
    const std::vector<float> original = ramp(head_size * heads, 0.5f, 0.25f);
    std::vector<float> v = original;
    rope(v, head_size, pos);
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < head_size / 2; ++i) {
            const double theta = static_cast<double>(pos) *
                                 std::pow(10000.0, -2.0 * static_cast<double>(i) / head_size);
            const std::size_t a = h * head_size + 2 * i;
            const double x0 = original[a], x1 = original[a + 1];
            CHECK(v[a] == Approx(x0 * std::cos(theta) - x1 * std::sin(theta)).margin(1e-6));
            CHECK(v[a + 1] == Approx(x0 * std::sin(theta) + x1 * std::cos(theta)).margin(1e-6));
        }

    // Position 0 is the identity; rotations keep each pair's length.
    std::vector<float> same = original;
    rope(same, head_size, 0);
    CHECK(same == original);
    for (std::size_t a = 0; a < v.size(); a += 2)
        CHECK(std::hypot(v[a], v[a + 1]) == Approx(std::hypot(original[a], original[a + 1])));

    std::vector<float> odd(6);
    CHECK_THROWS_AS(rope(odd, 3, 1), std::invalid_argument);
    CHECK_THROWS_AS(rope(odd, 4, 1), std::invalid_argument);
}

TEST_CASE("softmax matches exp(x)/sum(exp(x)) and survives large logits", "[llama][ops]") {
    std::vector<float> x{1.0f, 2.0f, 3.0f, -1.0f};
    const double total = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(-1.0);
    const std::vector<float> original = x;
    softmax(x);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(std::exp(original[i]) / total));

    std::vector<float> big{1000.0f, 1000.0f};
    softmax(big);
    CHECK(big[0] == Approx(0.5));
    CHECK(big[1] == Approx(0.5));
}

TEST_CASE("attend: causal softmax attention of one head over a strided cache", "[llama][ops]") {
    // Three cached positions, rows of 6 floats holding two kv heads of size 3; use the second.
    const std::size_t stride = 6, offset = 3, head = 3, length = 3;
    const std::vector<float> keys{9, 9, 9, 1, 0, 0,    //
                                  9, 9, 9, 0, 1, 0,    //
                                  9, 9, 9, 1, 1, 1};
    const std::vector<float> values{9, 9, 9, 1, 2, 3, //
                                    9, 9, 9, -1, 0, 1, //
                                    9, 9, 9, 0, 4, 0};
    const std::vector<float> q{2.0f, -1.0f, 0.5f};
    std::vector<float> out(head), scores(length);
    attend(out, q, keys, values, stride, offset, length, scores);

    std::vector<double> s(length);
    double total = 0;
    for (std::size_t p = 0; p < length; ++p) {
        double dot = 0;
        for (std::size_t i = 0; i < head; ++i) dot += q[i] * keys[p * stride + offset + i];
        s[p] = std::exp(dot / std::sqrt(3.0));
        total += s[p];
    }
    for (std::size_t i = 0; i < head; ++i) {
        double expected = 0;
        for (std::size_t p = 0; p < length; ++p) expected += s[p] / total * values[p * stride + offset + i];
        CHECK(out[i] == Approx(expected).epsilon(1e-6));
    }
    for (std::size_t p = 0; p < length; ++p) CHECK(scores[p] == Approx(s[p] / total));

    // Length 1 returns the first value exactly.
    attend(out, q, keys, values, stride, offset, 1, scores);
    CHECK(out == std::vector<float>{1, 2, 3});

    CHECK_THROWS_AS(attend(out, q, keys, values, stride, 4, length, scores), std::invalid_argument);
    CHECK_THROWS_AS(attend(out, q, keys, values, stride, offset, 4, scores), std::invalid_argument);
}

TEST_CASE("swiglu is silu(gate) * up", "[llama][ops]") {
    std::vector<float> gate{-2.0f, 0.0f, 1.5f};
    const std::vector<float> up{3.0f, 5.0f, -2.0f};
    const std::vector<float> g0 = gate;
    swiglu(gate, up);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(gate[i] == Approx(g0[i] / (1.0 + std::exp(-g0[i])) * up[i]).margin(1e-7));
}

TEST_CASE("float32 linear layer matches a naive product for every batch size", "[llama][linear]") {
    // k = 19 exercises the SIMD body and the scalar tail; m up to 9 both the tile and the rest.
    const std::size_t n = 7, k = 19;
    std::vector<float> w(n * k);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
    const float32_linear layer(w, n, k);
    CHECK(layer.rows() == n);
    CHECK(layer.cols() == k);
    for (std::size_t m : {1u, 3u, 4u, 9u}) {
        std::vector<float> x(m * k), y(m * n);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i));
        layer.forward(x, y, m);
        for (std::size_t t = 0; t < m; ++t)
            for (std::size_t i = 0; i < n; ++i) {
                double expected = 0;
                for (std::size_t j = 0; j < k; ++j) expected += double(w[i * k + j]) * x[t * k + j];
                CHECK(y[t * n + i] == Approx(expected).margin(1e-5));
            }
        // Row t gives the same bits alone as inside a batch.
        for (std::size_t t = 0; t < m; ++t) {
            std::vector<float> one(n);
            layer.forward(std::span<const float>(x).subspan(t * k, k), one, 1);
            for (std::size_t i = 0; i < n; ++i) CHECK(one[i] == y[t * n + i]);
        }
    }
    std::vector<float> x(k), y(n + 1);
    CHECK_THROWS_AS(layer.forward(x, y, 1), std::invalid_argument);
    CHECK_THROWS_AS(float32_linear(w, n, k + 1), std::invalid_argument);
}

TEST_CASE("fake-quantized linear layer applies its row quantizers to W and to x", "[llama][linear]") {
    const std::size_t n = 2, k = 3;
    const std::vector<float> w{0.4f, 1.6f, -2.2f, 3.0f, -0.7f, 0.2f};
    auto round_row = [](std::span<const float> in, std::span<float> out) {
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = std::nearbyint(in[i]);
    };
    const std::vector<float> x{0.6f, -1.4f, 2.5f};

    fake_quantized_linear weights_only(w, n, k, {row_by_row(round_row), {}});
    CHECK(std::vector<float>(weights_only.weights().begin(), weights_only.weights().end()) ==
          std::vector<float>{0, 2, -2, 3, -1, 0});
    std::vector<float> y(n);
    weights_only.forward(x, y, 1);
    CHECK(y[0] == Approx(0 * 0.6 + 2 * -1.4 + -2 * 2.5));
    CHECK(y[1] == Approx(3 * 0.6 + -1 * -1.4 + 0 * 2.5));

    fake_quantized_linear both(w, n, k, {row_by_row(round_row), round_row}); // x -> {1, -1, 2}
    both.forward(x, y, 1);
    CHECK(y[0] == Approx(0 * 1 + 2 * -1 + -2 * 2));
    CHECK(y[1] == Approx(3 * 1 + -1 * -1 + 0 * 2));

    // The factory asks the plan per site and falls back to float32 where it says nothing.
    auto factory = fake_quantized_factory([&](const linear_site& site) {
        return site.role == linear_role::w1 ? fake_quant_choice{row_by_row(round_row), {}} : fake_quant_choice{};
    });
    auto plain = factory({0, linear_role::wq, n, k}, w);
    auto rounded = factory({0, linear_role::w1, n, k}, w);
    CHECK(dynamic_cast<float32_linear*>(plain.get()) != nullptr);
    CHECK(dynamic_cast<fake_quantized_linear*>(rounded.get()) != nullptr);
    CHECK(linear_site{2, linear_role::w3, n, k}.name() == "layers.2.w3");
    CHECK(linear_site{5, linear_role::classifier, n, k}.name() == "classifier");
}
