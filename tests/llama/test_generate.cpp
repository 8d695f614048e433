// The float32 forward pass on the real stories260K model: the greedy sample pinned token by
// token, checked against the model's documented text and against an independent naive
// double-precision forward pass.
#include "llama/sampler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

using namespace mpq::llama;

namespace {

const std::string model_path = MPQ_SOURCE_DIR "/examples/data/stories260K.bin";
const std::string tokenizer_path = MPQ_SOURCE_DIR "/examples/data/tok512.bin";

const checkpoint& stories() {
    static const checkpoint ck = load_checkpoint(model_path);
    return ck;
}
const tokenizer& vocabulary() {
    static const tokenizer t = tokenizer::load(tokenizer_path);
    return t;
}

// The first 200 tokens of greedy decoding from BOS, produced by this forward pass in float32.
// Their text starts with llama2.c's documented sample for this model (checked below), so a
// change here means the forward pass changed, not the model.
const std::vector<int> pinned_greedy_tokens{
    403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
    410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
    266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415,
    426, 13, 438, 310, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267,
    265, 282, 295, 433, 426, 436, 317, 286, 296, 418, 269, 279, 292, 416, 439, 413, 409, 416, 327, 263,
    415, 294, 267, 400, 426, 338, 336, 432, 313, 442, 391, 267, 337, 335, 364, 420, 268, 388, 432, 398,
    359, 280, 303, 439, 413, 272, 417, 264, 312, 426, 436, 13, 438, 310, 286, 296, 418, 269, 279, 292,
    416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 338, 336, 432, 313, 442, 439, 423, 262,
    304, 420, 422, 432, 317, 426, 359, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400,
    426, 436, 13, 438, 310, 279, 292, 416, 439, 413, 391, 267, 281, 421, 427, 311, 357, 432, 384, 358,
};

// The model's documented greedy sample begins with this sentence (llama2.c's README and the
// data set's README); the independent source of truth for the pin.
const std::string documented_start = "Once upon a time, there was a little girl named Lily.";

// A deliberately plain forward pass in double precision, recomputing attention over the
// whole prefix at every position (no cache, no batching, no linear_layer): the logits of
// every position of `tokens`.
std::vector<std::vector<double>> naive_forward(const checkpoint& ck, const std::vector<int>& tokens) {
    const config& c = ck.cfg;
    const std::size_t d = c.dim, hs = c.head_size(), kvd = c.kv_dim(), T = tokens.size();
    using matrix = std::vector<std::vector<double>>;
    auto matvec = [](const std::vector<float>& w, std::size_t rows, std::size_t cols,
                     const std::vector<double>& x) {
        std::vector<double> y(rows, 0.0);
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) y[i] += double(w[i * cols + j]) * x[j];
        return y;
    };
    auto norm = [](const std::vector<double>& x, const std::vector<float>& w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        const double s = 1.0 / std::sqrt(ss / double(x.size()) + 1e-5);
        std::vector<double> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) y[i] = w[i] * x[i] * s;
        return y;
    };
    auto rotate = [hs](std::vector<double>& v, std::size_t pos) {
        for (std::size_t head = 0; head < v.size() / hs; ++head)
            for (std::size_t i = 0; i < hs / 2; ++i) {
                const double theta = double(pos) * std::pow(10000.0, -2.0 * double(i) / double(hs));
                double& a = v[head * hs + 2 * i];
                double& b = v[head * hs + 2 * i + 1];
                const double a0 = a, b0 = b;
                a = a0 * std::cos(theta) - b0 * std::sin(theta);
                b = a0 * std::sin(theta) + b0 * std::cos(theta);
            }
    };
    matrix x(T, std::vector<double>(d));
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < d; ++i) x[t][i] = ck.token_embedding[std::size_t(tokens[t]) * d + i];
    for (const layer_weights& l : ck.layers) {
        matrix q(T), k(T), v(T);
        for (std::size_t t = 0; t < T; ++t) {
            const auto xn = norm(x[t], l.attention_norm);
            q[t] = matvec(l.wq, d, d, xn);
            k[t] = matvec(l.wk, kvd, d, xn);
            v[t] = matvec(l.wv, kvd, d, xn);
            rotate(q[t], t);
            rotate(k[t], t);
        }
        for (std::size_t t = 0; t < T; ++t) {
            std::vector<double> attended(d, 0.0);
            for (std::size_t head = 0; head < c.n_heads; ++head) {
                const std::size_t kvh = head * c.n_kv_heads / c.n_heads;
                std::vector<double> w(t + 1);
                double total = 0;
                for (std::size_t p = 0; p <= t; ++p) {
                    double dot = 0;
                    for (std::size_t i = 0; i < hs; ++i) dot += q[t][head * hs + i] * k[p][kvh * hs + i];
                    w[p] = std::exp(dot / std::sqrt(double(hs)));
                    total += w[p];
                }
                for (std::size_t p = 0; p <= t; ++p)
                    for (std::size_t i = 0; i < hs; ++i)
                        attended[head * hs + i] += w[p] / total * v[p][kvh * hs + i];
            }
            const auto o = matvec(l.wo, d, d, attended);
            for (std::size_t i = 0; i < d; ++i) x[t][i] += o[i];
            const auto xn = norm(x[t], l.ffn_norm);
            auto gate = matvec(l.w1, c.hidden_dim, d, xn);
            const auto up = matvec(l.w3, c.hidden_dim, d, xn);
            for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
            const auto down = matvec(l.w2, d, c.hidden_dim, gate);
            for (std::size_t i = 0; i < d; ++i) x[t][i] += down[i];
        }
    }
    matrix logits(T);
    for (std::size_t t = 0; t < T; ++t)
        logits[t] = matvec(ck.token_embedding, c.vocab_size, d, norm(x[t], ck.final_norm));
    return logits;
}

} // namespace

TEST_CASE("the pinned token ids decode to the model's documented sample", "[llama][model]") {
    REQUIRE(pinned_greedy_tokens.size() == 200);
    const std::string text = vocabulary().decode(pinned_greedy_tokens);
    CHECK(text.starts_with(documented_start));
    CHECK(text.substr(documented_start.size()).starts_with(" She loved to play outside in the park."));
}

TEST_CASE("greedy decoding of stories260K in float32 reproduces the pinned 200 tokens", "[llama][model]") {
    const transformer model(stories());
    CHECK(stories().parameter_count() == 260032);
    inference_state state(model.cfg());
    sampler greedy(0.0f);
    const std::vector<int> tokens = generate(model, state, greedy, 200, /*stop_at_bos=*/false);
    CHECK(tokens == pinned_greedy_tokens);
    const std::string text = vocabulary().decode(tokens);
    CHECK(text.starts_with(documented_start));
    INFO(text);
    CHECK(text.find('\n') != std::string::npos); // the <0x0A> byte token decodes to a newline
}

TEST_CASE("float32 forward pass matches a naive double-precision forward pass", "[llama][model]") {
    std::vector<int> tokens{bos_token};
    tokens.insert(tokens.end(), pinned_greedy_tokens.begin(), pinned_greedy_tokens.begin() + 23);
    const auto expected = naive_forward(stories(), tokens);
    const transformer model(stories());
    inference_state state(model.cfg());
    const std::size_t vocab = model.cfg().vocab_size;
    const auto logits = forward(model, state, tokens);
    double worst = 0;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        for (std::size_t i = 0; i < vocab; ++i)
            worst = std::max(worst, std::abs(logits[t * vocab + i] - expected[t][i]));
        // The naive model agrees with the pin: greedy token t + 1 is the argmax at t.
        if (t + 1 < tokens.size())
            CHECK(std::max_element(expected[t].begin(), expected[t].end()) - expected[t].begin() ==
                  tokens[t + 1]);
    }
    CHECK(worst < 1e-3);
}

TEST_CASE("a sequence fed at once gives the same logits as fed token by token", "[llama][model]") {
    const transformer model(stories());
    const std::size_t vocab = model.cfg().vocab_size;
    std::vector<int> tokens{bos_token};
    tokens.insert(tokens.end(), pinned_greedy_tokens.begin(), pinned_greedy_tokens.begin() + 10);

    inference_state batched(model.cfg(), 32);
    const auto all = forward(model, batched, tokens);
    const std::vector<float> together(all.begin(), all.end());
    CHECK(batched.length() == tokens.size());

    inference_state stepwise(model.cfg(), 32);
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        const auto one = forward(model, stepwise, tokens[t]);
        CHECK(std::equal(one.begin(), one.end(), together.begin() + std::ptrdiff_t(t * vocab)));
    }
    // Mixed: a prefix at once, then the rest in two chunks.
    inference_state chunked(model.cfg(), 32);
    forward(model, chunked, std::span<const int>(tokens).first(4));
    forward(model, chunked, std::span<const int>(tokens).subspan(4, 3));
    const auto tail = forward(model, chunked, std::span<const int>(tokens).subspan(7));
    CHECK(std::equal(tail.begin(), tail.end(), together.begin() + std::ptrdiff_t(7 * vocab)));
}

TEST_CASE("the forward pass rejects bad tokens and overflowing contexts", "[llama][model]") {
    const transformer model(stories());
    inference_state state(model.cfg(), 4);
    CHECK_THROWS_AS(forward(model, state, 512), std::invalid_argument);
    CHECK_THROWS_AS(forward(model, state, -1), std::invalid_argument);
    const std::vector<int> five(5, 1);
    CHECK_THROWS_AS(forward(model, state, five), std::invalid_argument);
    CHECK(state.length() == 0);
    CHECK_THROWS_AS(inference_state(model.cfg(), 513), std::invalid_argument);
    sampler greedy(0.0f);
    CHECK_THROWS_AS(generate(model, state, greedy, 5), std::invalid_argument);
}

TEST_CASE("sampling with a temperature is reproducible for a seed", "[llama][sampler]") {
    const transformer model(stories());
    inference_state state(model.cfg());
    auto run = [&](std::uint64_t seed) {
        sampler s(1.0f, seed);
        return generate(model, state, s, 60, false);
    };
    const auto a = run(42), b = run(42), c = run(43);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a != std::vector<int>(pinned_greedy_tokens.begin(), pinned_greedy_tokens.begin() + 60));

    // Draw frequencies follow softmax(logits / T).
    const std::vector<float> logits{0.0f, std::log(3.0f), -100.0f};
    sampler s(1.0f, 7);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 20000; ++i) ++counts[s.sample(logits)];
    CHECK(counts[2] == 0);
    CHECK(counts[1] / 20000.0 == Approx(0.75).margin(0.015));
    // Temperature 2 flattens: weights 1 : sqrt(3).
    sampler hot(2.0f, 7);
    int hot_counts[3] = {0, 0, 0};
    for (int i = 0; i < 20000; ++i) ++hot_counts[hot.sample(logits)];
    CHECK(hot_counts[1] / 20000.0 == Approx(std::sqrt(3.0) / (1 + std::sqrt(3.0))).margin(0.015));

    CHECK(argmax(logits) == 1);
    CHECK_THROWS_AS(sampler(-1.0f), std::invalid_argument);
    CHECK_THROWS_AS(sampler(NAN), std::invalid_argument);
}
