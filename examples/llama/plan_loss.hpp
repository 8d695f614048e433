// The loss of a precision plan on stories260K, in the form mpq's allocation searches take
// (mpq::mixed::loss_function): build the model under the plan, evaluate it on the
// evaluator's self-sampled sequences, return its mean cross-entropy (or KL divergence).
#pragma once

#include "llama/eval.hpp"
#include "llama/fake_quant.hpp"
#include "llama/gemm_linear.hpp"

#include <mpq/mixed/search.hpp>

namespace mpq::llama {

struct plan_loss_options {
    plan_emulation_options emulation; ///< activations and rounding options
    bool use_gemm = false;            ///< run the mixed-precision GEMM instead of the emulation
    bool kl_divergence = false;       ///< return the KL divergence instead of the cross-entropy
};

/// A loss function for mpq::mixed::random_search / guided_search. `ck` and `eval` must
/// outlive it. The searches may call it from several threads: each call builds its own
/// model and the evaluator is thread-safe, but give the evaluator threads = 1 when the search
/// runs its own threads, so the two do not multiply.
inline mpq::mixed::loss_function plan_loss(const checkpoint& ck, const evaluator& eval,
                                           const plan_loss_options& options = {}) {
    return [&ck, &eval, options](const mpq::mixed::precision_plan& plan) {
        const transformer model(ck, options.use_gemm ? gemm_plan_factory(plan, options.emulation)
                                                     : plan_factory(plan, options.emulation));
        const evaluation_result r = eval.evaluate(model);
        return options.kl_divergence ? r.kl_divergence : r.cross_entropy;
    };
}

} // namespace mpq::llama
