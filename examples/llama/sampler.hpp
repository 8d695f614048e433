// Choosing the next token from logits: greedy (temperature 0) or sampling from
// softmax(logits / T) with a seeded generator, so a seed always gives the same text.
#pragma once

#include "llama/model.hpp"
#include "llama/ops.hpp"
#include "llama/tokenizer.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::llama {

/// Index of the largest logit (the first one on ties). Throws std::invalid_argument if empty.
inline int argmax(std::span<const float> logits) {
    if (logits.empty()) throw std::invalid_argument("argmax: no logits");
    std::size_t best = 0;
    for (std::size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[best]) best = i;
    return static_cast<int>(best);
}

/// SplitMix64: a small generator whose output is fixed by its seed on every platform
/// (unlike the standard distributions, whose algorithms are implementation-defined).
class splitmix64 {
public:
    explicit splitmix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t state_;
};

class sampler {
public:
    /// Temperature 0 means greedy decoding. Throws std::invalid_argument for a negative or
    /// non-finite temperature.
    explicit sampler(float temperature, std::uint64_t seed = 0) : temperature_(temperature), rng_(seed) {
        if (!(temperature >= 0.0f) || !std::isfinite(temperature))
            throw std::invalid_argument("sampler: temperature " + std::to_string(temperature) +
                                        " must be finite and >= 0");
    }

    float temperature() const { return temperature_; }

    /// The next token: argmax at temperature 0, otherwise a draw from softmax(logits / T).
    int sample(std::span<const float> logits) {
        if (temperature_ == 0.0f) return argmax(logits);
        if (logits.empty()) throw std::invalid_argument("sampler: no logits");
        probabilities_.assign(logits.begin(), logits.end());
        for (float& p : probabilities_) p /= temperature_;
        softmax(probabilities_);
        const double r = rng_.uniform();
        double cumulative = 0.0;
        for (std::size_t i = 0; i < probabilities_.size(); ++i) {
            cumulative += probabilities_[i];
            if (r < cumulative) return static_cast<int>(i);
        }
        // Rounding left the total a hair below r: take the last token with any mass.
        for (std::size_t i = probabilities_.size(); i-- > 0;)
            if (probabilities_[i] > 0.0f) return static_cast<int>(i);
        return static_cast<int>(probabilities_.size() - 1);
    }

private:
    float temperature_;
    splitmix64 rng_;
    std::vector<float> probabilities_;
};

/// Generates up to `steps` tokens after BOS (BOS itself not included in the result). Stops
/// early when the model produces BOS (the end of a story in llama2.c models) if
/// `stop_at_bos`. `on_token(previous, token)` is called for each token as it is produced.
inline std::vector<int> generate(const transformer& model, inference_state& state, sampler& pick,
                                 std::size_t steps, bool stop_at_bos = true,
                                 const std::function<void(int, int)>& on_token = {}) {
    if (steps > state.capacity())
        throw std::invalid_argument("generate: " + std::to_string(steps) +
                                    " steps do not fit in a context of " +
                                    std::to_string(state.capacity()) + " positions");
    state.reset();
    std::vector<int> out;
    int token = bos_token;
    for (std::size_t i = 0; i < steps; ++i) {
        const int next = pick.sample(forward(model, state, token));
        if (stop_at_bos && next == bos_token) break;
        out.push_back(next);
        if (on_token) on_token(token, next);
        token = next;
    }
    return out;
}

} // namespace mpq::llama
