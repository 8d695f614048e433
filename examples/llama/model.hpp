// A Llama-architecture transformer (the llama2.c model family): token embedding, n layers of
// [RMSNorm → grouped-query attention with RoPE and a KV cache → residual, RMSNorm → SwiGLU
// feed-forward → residual], a final RMSNorm and a classifier (tied to the embedding when the
// checkpoint says so).
//
// The model is split in two: `transformer` holds the weights and is immutable once built (so
// several threads can share it), `inference_state` holds one sequence's KV cache and scratch.
// Every matrix product goes through a linear_layer made by the factory given at construction.
#pragma once

#include "llama/checkpoint.hpp"
#include "llama/linear.hpp"
#include "llama/ops.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::llama {

class transformer {
public:
    struct layer {
        std::vector<float> attention_norm, ffn_norm;
        std::unique_ptr<linear_layer> wq, wk, wv, wo, w1, w2, w3;

        const linear_layer& get(linear_role r) const {
            switch (r) {
            case linear_role::wq: return *wq;
            case linear_role::wk: return *wk;
            case linear_role::wv: return *wv;
            case linear_role::wo: return *wo;
            case linear_role::w1: return *w1;
            case linear_role::w2: return *w2;
            case linear_role::w3: return *w3;
            case linear_role::classifier: break;
            }
            throw std::invalid_argument("transformer::layer: the classifier is not a layer matrix");
        }
    };

    /// Builds the model from a checkpoint; `factory` makes every linear layer (float32 by
    /// default). Throws std::invalid_argument if the checkpoint's arrays do not match its
    /// config or the factory returns a layer of the wrong shape.
    explicit transformer(const checkpoint& ck, const linear_factory& factory = make_float32_linear)
        : cfg_(ck.cfg), token_embedding_(ck.token_embedding), final_norm_(ck.final_norm) {
        cfg_.validate();
        const std::size_t d = cfg_.dim, h = cfg_.hidden_dim, kv = cfg_.kv_dim();
        expect(token_embedding_.size(), cfg_.vocab_size * d, "token_embedding");
        expect(final_norm_.size(), d, "final_norm");
        expect(ck.layers.size(), cfg_.n_layers, "layers");
        layers_.resize(cfg_.n_layers);
        for (std::size_t i = 0; i < cfg_.n_layers; ++i) {
            const layer_weights& w = ck.layers[i];
            layer& l = layers_[i];
            l.attention_norm = w.attention_norm;
            l.ffn_norm = w.ffn_norm;
            expect(l.attention_norm.size(), d, "attention_norm");
            expect(l.ffn_norm.size(), d, "ffn_norm");
            l.wq = make(factory, {i, linear_role::wq, d, d}, w.wq);
            l.wk = make(factory, {i, linear_role::wk, kv, d}, w.wk);
            l.wv = make(factory, {i, linear_role::wv, kv, d}, w.wv);
            l.wo = make(factory, {i, linear_role::wo, d, d}, w.wo);
            l.w1 = make(factory, {i, linear_role::w1, h, d}, w.w1);
            l.w2 = make(factory, {i, linear_role::w2, d, h}, w.w2);
            l.w3 = make(factory, {i, linear_role::w3, h, d}, w.w3);
        }
        classifier_ = make(factory, {cfg_.n_layers, linear_role::classifier, cfg_.vocab_size, d},
                           ck.classifier_weights());
    }

    const config& cfg() const { return cfg_; }
    const std::vector<layer>& layers() const { return layers_; }
    const linear_layer& classifier() const { return *classifier_; }
    std::span<const float> token_embedding() const { return token_embedding_; }
    std::span<const float> final_norm() const { return final_norm_; }

    /// Every linear site of the model, in forward order (layer by layer, then the classifier).
    std::vector<linear_site> sites() const {
        std::vector<linear_site> s;
        for (std::size_t i = 0; i < cfg_.n_layers; ++i)
            for (linear_role r : all_layer_roles) {
                const linear_layer& l = layers_[i].get(r);
                s.push_back({i, r, l.rows(), l.cols()});
            }
        s.push_back({cfg_.n_layers, linear_role::classifier, classifier_->rows(), classifier_->cols()});
        return s;
    }

private:
    static void expect(std::size_t got, std::size_t want, const char* what) {
        if (got != want)
            throw std::invalid_argument(std::string("transformer: ") + what + " has " +
                                        std::to_string(got) + " elements, expected " +
                                        std::to_string(want));
    }
    static std::unique_ptr<linear_layer> make(const linear_factory& factory, const linear_site& site,
                                              std::span<const float> weights) {
        expect(weights.size(), site.rows * site.cols, "a weight matrix");
        auto l = factory(site, weights);
        if (!l || l->rows() != site.rows || l->cols() != site.cols)
            throw std::invalid_argument("transformer: the factory made a wrong layer for " +
                                        site.name());
        return l;
    }

    config cfg_;
    std::vector<float> token_embedding_, final_norm_;
    std::vector<layer> layers_;
    std::unique_ptr<linear_layer> classifier_;
};

/// One sequence's KV cache and scratch buffers. Positions are filled in order; `reset`
/// starts a new sequence without freeing memory.
class inference_state {
public:
    /// Room for `max_positions` positions (at most the model's seq_len; 0 means seq_len).
    explicit inference_state(const config& cfg, std::size_t max_positions = 0)
        : cfg_(cfg), capacity_(max_positions == 0 ? cfg.seq_len : max_positions) {
        if (capacity_ > cfg.seq_len)
            throw std::invalid_argument("inference_state: " + std::to_string(capacity_) +
                                        " positions exceed the model's context of " +
                                        std::to_string(cfg.seq_len));
        key_cache_.assign(cfg.n_layers * capacity_ * cfg.kv_dim(), 0.0f);
        value_cache_.assign(key_cache_.size(), 0.0f);
    }

    std::size_t capacity() const { return capacity_; }
    /// Number of positions already in the cache.
    std::size_t length() const { return length_; }
    void reset() { length_ = 0; }

private:
    friend class forward_pass;

    void reserve_batch(std::size_t m) {
        if (m <= batch_) return;
        const std::size_t d = cfg_.dim, h = cfg_.hidden_dim, kv = cfg_.kv_dim();
        x_.resize(m * d);
        normed_.resize(m * d);
        q_.resize(m * d);
        k_.resize(m * kv);
        v_.resize(m * kv);
        attention_out_.resize(m * d);
        projected_.resize(m * d);
        gate_.resize(m * h);
        up_.resize(m * h);
        logits_.resize(m * cfg_.vocab_size);
        scores_.resize(capacity_);
        batch_ = m;
    }

    config cfg_;
    std::size_t capacity_;
    std::size_t length_ = 0;
    std::size_t batch_ = 0;
    std::vector<float> key_cache_, value_cache_; ///< [layer][position][kv_dim]
    std::vector<float> x_, normed_, q_, k_, v_, attention_out_, projected_, gate_, up_, logits_,
        scores_;
};

/// The forward computation; a class only to share the private buffers of inference_state.
class forward_pass {
public:
    /// Feeds `tokens` at the next positions of `state` (length() .. length() + m - 1) and
    /// returns their logits, m rows of vocab_size, valid until the next call on `state`.
    /// Row t predicts the token after tokens[t]. Feeding a sequence in one call or token by
    /// token gives the same numbers.
    /// Throws std::invalid_argument for a token id outside the vocabulary, an empty batch,
    /// or a batch that would overflow the state's capacity.
    static std::span<const float> run(const transformer& model, inference_state& s,
                                      std::span<const int> tokens) {
        const config& c = model.cfg();
        if (c.dim != s.cfg_.dim || c.n_layers != s.cfg_.n_layers || c.kv_dim() != s.cfg_.kv_dim() ||
            c.hidden_dim != s.cfg_.hidden_dim || c.vocab_size != s.cfg_.vocab_size)
            throw std::invalid_argument("forward: the inference state was made for another model");
        const std::size_t m = tokens.size();
        if (m == 0) throw std::invalid_argument("forward: no tokens");
        if (s.length_ + m > s.capacity_)
            throw std::invalid_argument("forward: positions " + std::to_string(s.length_) + " + " +
                                        std::to_string(m) + " exceed the capacity " +
                                        std::to_string(s.capacity_));
        for (int t : tokens)
            if (t < 0 || static_cast<std::size_t>(t) >= c.vocab_size)
                throw std::invalid_argument("forward: token id " + std::to_string(t) +
                                            " is outside [0, " + std::to_string(c.vocab_size) + ")");
        s.reserve_batch(m);

        const std::size_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), hs = c.head_size();
        const std::size_t start = s.length_;
        const std::size_t group = c.n_heads / c.n_kv_heads; // query heads per key/value head
        auto rows = [](std::vector<float>& v, std::size_t n) { return std::span<float>(v).first(n); };
        auto row = [](std::vector<float>& v, std::size_t t, std::size_t n) {
            return std::span<float>(v).subspan(t * n, n);
        };

        for (std::size_t t = 0; t < m; ++t) {
            const auto e = model.token_embedding().subspan(static_cast<std::size_t>(tokens[t]) * d, d);
            std::copy(e.begin(), e.end(), s.x_.begin() + static_cast<std::ptrdiff_t>(t * d));
        }

        for (std::size_t li = 0; li < c.n_layers; ++li) {
            const transformer::layer& l = model.layers()[li];
            const std::size_t cache_offset = li * s.capacity_ * kv;
            auto keys = std::span<float>(s.key_cache_).subspan(cache_offset, s.capacity_ * kv);
            auto values = std::span<float>(s.value_cache_).subspan(cache_offset, s.capacity_ * kv);

            // Attention block.
            for (std::size_t t = 0; t < m; ++t) rmsnorm(row(s.normed_, t, d), row(s.x_, t, d), l.attention_norm);
            l.wq->forward(rows(s.normed_, m * d), rows(s.q_, m * d), m);
            l.wk->forward(rows(s.normed_, m * d), rows(s.k_, m * kv), m);
            l.wv->forward(rows(s.normed_, m * d), rows(s.v_, m * kv), m);
            for (std::size_t t = 0; t < m; ++t) {
                const std::size_t pos = start + t;
                rope(row(s.q_, t, d), hs, pos);
                rope(row(s.k_, t, kv), hs, pos);
                std::copy_n(&s.k_[t * kv], kv, &keys[pos * kv]);
                std::copy_n(&s.v_[t * kv], kv, &values[pos * kv]);
            }
            for (std::size_t t = 0; t < m; ++t) {
                const std::size_t length = start + t + 1; // causal: up to and including itself
                for (std::size_t head = 0; head < c.n_heads; ++head) {
                    const std::size_t kv_offset = (head / group) * hs;
                    attend(row(s.attention_out_, t, d).subspan(head * hs, hs),
                           row(s.q_, t, d).subspan(head * hs, hs), keys, values, kv, kv_offset,
                           length, s.scores_);
                }
            }
            l.wo->forward(rows(s.attention_out_, m * d), rows(s.projected_, m * d), m);
            for (std::size_t i = 0; i < m * d; ++i) s.x_[i] += s.projected_[i];

            // Feed-forward block.
            for (std::size_t t = 0; t < m; ++t) rmsnorm(row(s.normed_, t, d), row(s.x_, t, d), l.ffn_norm);
            l.w1->forward(rows(s.normed_, m * d), rows(s.gate_, m * h), m);
            l.w3->forward(rows(s.normed_, m * d), rows(s.up_, m * h), m);
            swiglu(rows(s.gate_, m * h), rows(s.up_, m * h));
            l.w2->forward(rows(s.gate_, m * h), rows(s.projected_, m * d), m);
            for (std::size_t i = 0; i < m * d; ++i) s.x_[i] += s.projected_[i];
        }

        for (std::size_t t = 0; t < m; ++t) rmsnorm(row(s.normed_, t, d), row(s.x_, t, d), model.final_norm());
        const std::size_t vocab = c.vocab_size;
        model.classifier().forward(rows(s.normed_, m * d), rows(s.logits_, m * vocab), m);
        s.length_ += m;
        return std::span<const float>(s.logits_).first(m * vocab);
    }
};

/// Feeds one token at the next position; returns its vocab_size logits.
inline std::span<const float> forward(const transformer& model, inference_state& state, int token) {
    const std::array<int, 1> one{token};
    return forward_pass::run(model, state, one);
}

/// Feeds a run of tokens at the next positions; returns m × vocab_size logits.
inline std::span<const float> forward(const transformer& model, inference_state& state,
                                      std::span<const int> tokens) {
    return forward_pass::run(model, state, tokens);
}

} // namespace mpq::llama
