// How much a model's predictions degrade: the evaluation harness of the mixed-precision
// experiment.
//
// The evaluation data are sequences sampled from the float32 model itself (from BOS, at
// temperature 1 by default, with a fixed seed): text from the model's own distribution, so no
// data set has to ship with the program. On them a model is scored by
//   - the mean cross-entropy (nats per token) of each next token,
//   - the KL divergence KL(p_float32 || p_model) of its next-token distribution from the
//     float32 model's, averaged over the same positions;
// the degradation δ = loss_model − loss_float32.
#pragma once

#include "llama/model.hpp"
#include "llama/sampler.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mpq::llama {

struct evaluation_options {
    std::size_t sequences = 256; ///< number of sampled sequences
    std::size_t length = 256;    ///< predicted tokens per sequence (the sequence is BOS + length)
    std::uint64_t seed = 20240527;
    float temperature = 1.0f;    ///< 1 samples the model's own distribution
    std::size_t threads = 0;     ///< 0: one per hardware thread
    /// Keep the float32 logits of every position (sequences × length × vocab
    /// floats: 128 MiB for the defaults on stories260K) instead of recomputing them in every
    /// evaluate call.
    bool cache_reference = true;
};

struct evaluation_result {
    double cross_entropy = 0;           ///< mean −log p_model(next token), nats
    double reference_cross_entropy = 0; ///< the same for the float32 model
    double delta = 0;                   ///< cross_entropy − reference_cross_entropy
    double kl_divergence = 0;           ///< mean KL(p_float32 || p_model), nats
    double top1_agreement = 0;          ///< share of positions where both argmaxes agree
    std::size_t predictions = 0;        ///< positions averaged over
};

namespace detail {

/// Runs fn(index, worker) for index in [0, count) on `threads` workers (each index once);
/// rethrows the first exception after all workers stop. Results should be stored per index
/// so they do not depend on the schedule.
inline void parallel_for(std::size_t count, std::size_t threads,
                         const std::function<void(std::size_t, std::size_t)>& fn) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, std::max<std::size_t>(count, 1));
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&](std::size_t worker) {
        for (std::size_t i; (i = next.fetch_add(1)) < count;) {
            try {
                fn(i, worker);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next = count;
            }
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < threads; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

inline std::size_t worker_count(std::size_t requested) {
    return requested == 0 ? std::max(1u, std::thread::hardware_concurrency()) : requested;
}

/// log softmax of one row of logits, in double.
inline void log_softmax(std::span<const float> logits, std::span<double> out) {
    const float max_logit = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
    const double log_sum = std::log(sum) + max_logit;
    for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
}

} // namespace detail

/// Samples `options.sequences` sequences of BOS + `options.length` tokens from `model`.
/// Sequence i uses its own generator seeded from (seed, i), so the set does not depend on
/// the number of threads. A sampled BOS does not end a sequence (it starts a new story, as
/// in the training data). Throws std::invalid_argument for zero counts or a length that does
/// not fit the model's context.
inline std::vector<std::vector<int>> sample_sequences(const transformer& model,
                                                      const evaluation_options& options) {
    if (options.sequences == 0 || options.length == 0)
        throw std::invalid_argument("sample_sequences: " + std::to_string(options.sequences) +
                                    " sequences of " + std::to_string(options.length) +
                                    " tokens; both must be positive");
    if (options.length > model.cfg().seq_len)
        throw std::invalid_argument("sample_sequences: length " + std::to_string(options.length) +
                                    " exceeds the model's context of " +
                                    std::to_string(model.cfg().seq_len));
    std::vector<std::vector<int>> sequences(options.sequences);
    const std::size_t workers = detail::worker_count(options.threads);
    std::vector<inference_state> states;
    for (std::size_t w = 0; w < workers; ++w) states.emplace_back(model.cfg(), options.length);
    detail::parallel_for(options.sequences, workers, [&](std::size_t i, std::size_t w) {
        splitmix64 seeder(options.seed ^ (0xD1B54A32D192ED03ULL * (i + 1)));
        sampler pick(options.temperature, seeder.next());
        std::vector<int> tokens{bos_token};
        const auto generated = generate(model, states[w], pick, options.length, /*stop_at_bos=*/false);
        tokens.insert(tokens.end(), generated.begin(), generated.end());
        sequences[i] = std::move(tokens);
    });
    return sequences;
}

/// Scores models against the float32 reference on sequences sampled from the reference.
///
/// The reference transformer must outlive the evaluator when cache_reference is off.
/// evaluate() may be called for many models; results are deterministic whatever the number
/// of threads.
class evaluator {
public:
    /// Samples the evaluation sequences from `reference` and scores it (see
    /// sample_sequences for the errors).
    evaluator(const transformer& reference, const evaluation_options& options)
        : reference_(&reference), options_(options),
          sequences_(sample_sequences(reference, options)) {
        const std::size_t vocab = reference.cfg().vocab_size;
        if (options_.cache_reference) {
            reference_logits_.resize(options_.sequences * options_.length * vocab);
            const std::size_t workers = detail::worker_count(options_.threads);
            std::vector<inference_state> states;
            for (std::size_t w = 0; w < workers; ++w) states.emplace_back(reference.cfg(), options_.length);
            detail::parallel_for(options_.sequences, workers, [&](std::size_t i, std::size_t w) {
                states[w].reset();
                const auto logits = forward(reference, states[w], inputs(i));
                std::copy(logits.begin(), logits.end(),
                          reference_logits_.begin() + static_cast<std::ptrdiff_t>(i * options_.length * vocab));
            });
        }
        reference_cross_entropy_ = evaluate(reference).cross_entropy;
    }

    const std::vector<std::vector<int>>& sequences() const { return sequences_; }
    const evaluation_options& options() const { return options_; }
    /// Mean cross-entropy of the float32 model on its own samples (nats per token).
    double reference_cross_entropy() const { return reference_cross_entropy_; }

    /// Cross-entropy, KL divergence from the reference and top-1 agreement of `model`.
    /// Throws std::invalid_argument if its vocabulary or context differs from the reference's.
    evaluation_result evaluate(const transformer& model) const {
        const std::size_t vocab = reference_->cfg().vocab_size;
        if (model.cfg().vocab_size != vocab || model.cfg().seq_len < options_.length)
            throw std::invalid_argument("evaluator: the model's vocabulary (" +
                                        std::to_string(model.cfg().vocab_size) +
                                        ") or context does not match the reference");
        struct sums {
            double cross_entropy = 0, reference_cross_entropy = 0, kl = 0;
            std::size_t agree = 0;
        };
        std::vector<sums> per_sequence(options_.sequences);
        const std::size_t workers = detail::worker_count(options_.threads);
        std::vector<inference_state> states, reference_states;
        for (std::size_t w = 0; w < workers; ++w) {
            states.emplace_back(model.cfg(), options_.length);
            if (!options_.cache_reference) reference_states.emplace_back(reference_->cfg(), options_.length);
        }
        detail::parallel_for(options_.sequences, workers, [&](std::size_t i, std::size_t w) {
            states[w].reset();
            const auto logits = forward(model, states[w], inputs(i));
            std::span<const float> reference_logits;
            if (options_.cache_reference) {
                reference_logits = std::span<const float>(reference_logits_)
                                       .subspan(i * options_.length * vocab, options_.length * vocab);
            } else {
                reference_states[w].reset();
                reference_logits = forward(*reference_, reference_states[w], inputs(i));
            }
            std::vector<double> log_p(vocab), log_ref(vocab);
            sums s;
            for (std::size_t t = 0; t < options_.length; ++t) {
                detail::log_softmax(logits.subspan(t * vocab, vocab), log_p);
                detail::log_softmax(reference_logits.subspan(t * vocab, vocab), log_ref);
                const auto next = static_cast<std::size_t>(sequences_[i][t + 1]);
                s.cross_entropy -= log_p[next];
                s.reference_cross_entropy -= log_ref[next];
                double kl = 0;
                for (std::size_t v = 0; v < vocab; ++v) kl += std::exp(log_ref[v]) * (log_ref[v] - log_p[v]);
                s.kl += kl;
                const auto top = [](const std::vector<double>& x) {
                    return std::max_element(x.begin(), x.end()) - x.begin();
                };
                s.agree += top(log_p) == top(log_ref) ? 1 : 0;
            }
            per_sequence[i] = s;
        });
        sums total;
        for (const auto& s : per_sequence) {
            total.cross_entropy += s.cross_entropy;
            total.reference_cross_entropy += s.reference_cross_entropy;
            total.kl += s.kl;
            total.agree += s.agree;
        }
        evaluation_result r;
        r.predictions = options_.sequences * options_.length;
        const auto n = static_cast<double>(r.predictions);
        r.cross_entropy = total.cross_entropy / n;
        r.reference_cross_entropy = total.reference_cross_entropy / n;
        r.delta = r.cross_entropy - r.reference_cross_entropy;
        r.kl_divergence = total.kl / n;
        r.top1_agreement = static_cast<double>(total.agree) / n;
        return r;
    }

private:
    /// The tokens fed for sequence i: BOS and all but the last sampled token.
    std::span<const int> inputs(std::size_t i) const {
        return std::span<const int>(sequences_[i]).first(options_.length);
    }

    const transformer* reference_;
    evaluation_options options_;
    std::vector<std::vector<int>> sequences_;
    std::vector<float> reference_logits_; ///< [sequence][position][vocab], when cached
    double reference_cross_entropy_ = 0;
};

} // namespace mpq::llama
