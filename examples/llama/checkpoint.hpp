// Reading a llama2.c checkpoint: a header of seven int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len) followed by float32 arrays in llama2.c's order. A positive
// vocab_size means the classifier shares the token embedding; a negative one means a separate
// classifier matrix follows the (unused) precomputed RoPE tables.
//
// Every size is checked before it is used, so a truncated or corrupted file fails with a
// message instead of reading past the end of the buffer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::llama {

static_assert(std::endian::native == std::endian::little,
              "llama2.c checkpoints are little-endian; this reader does not byte-swap");

/// Shape of a Llama-architecture model.
struct config {
    std::size_t dim = 0;        ///< width of the residual stream
    std::size_t hidden_dim = 0; ///< width of the SwiGLU feed-forward layer
    std::size_t n_layers = 0;
    std::size_t n_heads = 0;    ///< query heads
    std::size_t n_kv_heads = 0; ///< key/value heads (grouped-query attention when < n_heads)
    std::size_t vocab_size = 0;
    std::size_t seq_len = 0;    ///< longest context the model was trained for
    bool shared_classifier = true; ///< the classifier is the token embedding matrix

    std::size_t head_size() const { return dim / n_heads; }
    std::size_t kv_dim() const { return head_size() * n_kv_heads; }

    /// Throws std::invalid_argument unless the shape is usable: all sizes positive and bounded,
    /// dim divisible by n_heads, n_heads divisible by n_kv_heads, an even head size (RoPE
    /// rotates pairs of dimensions).
    void validate() const {
        auto require = [](bool ok, const std::string& what) {
            if (!ok) throw std::invalid_argument("llama checkpoint: " + what);
        };
        constexpr std::size_t limit = std::size_t{1} << 20; // far above any model read here
        require(dim > 0 && dim <= limit, "dim " + std::to_string(dim) + " is not in [1, 2^20]");
        require(hidden_dim > 0 && hidden_dim <= limit,
                "hidden_dim " + std::to_string(hidden_dim) + " is not in [1, 2^20]");
        require(n_layers > 0 && n_layers <= 1024,
                "n_layers " + std::to_string(n_layers) + " is not in [1, 1024]");
        require(n_heads > 0 && dim % n_heads == 0,
                "n_heads " + std::to_string(n_heads) + " does not divide dim " + std::to_string(dim));
        require(n_kv_heads > 0 && n_kv_heads <= n_heads && n_heads % n_kv_heads == 0,
                "n_kv_heads " + std::to_string(n_kv_heads) + " does not divide n_heads " +
                    std::to_string(n_heads));
        require(head_size() % 2 == 0, "head size " + std::to_string(head_size()) + " is odd");
        require(vocab_size > 0 && vocab_size <= limit,
                "vocab_size " + std::to_string(vocab_size) + " is not in [1, 2^20]");
        require(seq_len > 0 && seq_len <= limit,
                "seq_len " + std::to_string(seq_len) + " is not in [1, 2^20]");
    }
};

/// Weights of one transformer layer; matrices are row-major [out × in] (y = W x).
struct layer_weights {
    std::vector<float> attention_norm; ///< [dim]
    std::vector<float> wq;             ///< [dim × dim]
    std::vector<float> wk;             ///< [kv_dim × dim]
    std::vector<float> wv;             ///< [kv_dim × dim]
    std::vector<float> wo;             ///< [dim × dim]
    std::vector<float> ffn_norm;       ///< [dim]
    std::vector<float> w1;             ///< [hidden × dim], gate
    std::vector<float> w2;             ///< [dim × hidden], down
    std::vector<float> w3;             ///< [hidden × dim], up
};

/// All weights of a model, as float32.
struct checkpoint {
    config cfg;
    std::vector<float> token_embedding; ///< [vocab × dim]
    std::vector<layer_weights> layers;
    std::vector<float> final_norm;      ///< [dim]
    std::vector<float> classifier;      ///< [vocab × dim]; empty when shared with the embedding

    /// The classifier matrix, whether shared or separate.
    std::span<const float> classifier_weights() const {
        return cfg.shared_classifier ? std::span<const float>(token_embedding)
                                     : std::span<const float>(classifier);
    }
    std::size_t parameter_count() const {
        std::size_t n = token_embedding.size() + final_norm.size() + classifier.size();
        for (const auto& l : layers)
            n += l.attention_norm.size() + l.wq.size() + l.wk.size() + l.wv.size() + l.wo.size() +
                 l.ffn_norm.size() + l.w1.size() + l.w2.size() + l.w3.size();
        return n;
    }
};

namespace detail {

/// A bounds-checked forward reader over a byte buffer.
class byte_reader {
public:
    byte_reader(std::span<const std::byte> bytes, std::string what)
        : bytes_(bytes), what_(std::move(what)) {}

    std::int32_t read_int32(const char* field) {
        std::int32_t v = 0;
        std::memcpy(&v, take(sizeof v, field).data(), sizeof v);
        return v;
    }
    float read_float(const char* field) {
        float v = 0;
        std::memcpy(&v, take(sizeof v, field).data(), sizeof v);
        return v;
    }
    std::vector<float> read_floats(std::size_t count, const char* field) {
        if (count > remaining() / sizeof(float)) truncated(field, count * sizeof(float));
        std::vector<float> v(count);
        std::memcpy(v.data(), take(count * sizeof(float), field).data(), count * sizeof(float));
        return v;
    }
    std::span<const std::byte> take(std::size_t n, const char* field) {
        if (n > remaining()) truncated(field, n);
        auto s = bytes_.subspan(offset_, n);
        offset_ += n;
        return s;
    }
    void skip(std::size_t n, const char* field) { take(n, field); }
    std::size_t remaining() const { return bytes_.size() - offset_; }
    std::size_t offset() const { return offset_; }

private:
    [[noreturn]] void truncated(const char* field, std::size_t needed) const {
        throw std::invalid_argument(what_ + ": truncated at byte " + std::to_string(offset_) +
                                    " reading " + field + " (needs " + std::to_string(needed) +
                                    " bytes, " + std::to_string(remaining()) + " left)");
    }
    std::span<const std::byte> bytes_;
    std::size_t offset_ = 0;
    std::string what_;
};

inline std::size_t positive_size(std::int32_t v, const char* field) {
    if (v <= 0)
        throw std::invalid_argument(std::string("llama checkpoint: ") + field + " is " +
                                    std::to_string(v) + ", expected a positive number");
    return static_cast<std::size_t>(v);
}

/// Reads a whole file; throws std::invalid_argument naming the path if it cannot be read.
inline std::vector<std::byte> read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw std::invalid_argument("cannot open '" + path + "'");
    const auto size = in.tellg();
    if (size < 0) throw std::invalid_argument("cannot read the size of '" + path + "'");
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
        throw std::invalid_argument("cannot read '" + path + "'");
    return bytes;
}

} // namespace detail

/// Parses a llama2.c checkpoint held in memory.
///
/// Throws std::invalid_argument for a bad header (non-positive or inconsistent sizes), a
/// truncated buffer, or trailing bytes (a sign of a different format or version).
inline checkpoint parse_checkpoint(std::span<const std::byte> bytes) {
    detail::byte_reader in(bytes, "llama checkpoint");
    checkpoint ck;
    config& c = ck.cfg;
    c.dim = detail::positive_size(in.read_int32("dim"), "dim");
    c.hidden_dim = detail::positive_size(in.read_int32("hidden_dim"), "hidden_dim");
    c.n_layers = detail::positive_size(in.read_int32("n_layers"), "n_layers");
    c.n_heads = detail::positive_size(in.read_int32("n_heads"), "n_heads");
    c.n_kv_heads = detail::positive_size(in.read_int32("n_kv_heads"), "n_kv_heads");
    const std::int32_t vocab = in.read_int32("vocab_size");
    if (vocab == 0 || vocab == INT32_MIN)
        throw std::invalid_argument("llama checkpoint: vocab_size is " + std::to_string(vocab));
    c.shared_classifier = vocab > 0;
    c.vocab_size = static_cast<std::size_t>(vocab > 0 ? vocab : -vocab);
    c.seq_len = detail::positive_size(in.read_int32("seq_len"), "seq_len");
    c.validate();

    const std::size_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers;
    ck.token_embedding = in.read_floats(c.vocab_size * d, "token_embedding");
    ck.layers.resize(L);
    // llama2.c stores each kind of tensor for all layers contiguously.
    for (auto& l : ck.layers) l.attention_norm = in.read_floats(d, "rms_att_weight");
    for (auto& l : ck.layers) l.wq = in.read_floats(d * d, "wq");
    for (auto& l : ck.layers) l.wk = in.read_floats(kv * d, "wk");
    for (auto& l : ck.layers) l.wv = in.read_floats(kv * d, "wv");
    for (auto& l : ck.layers) l.wo = in.read_floats(d * d, "wo");
    for (auto& l : ck.layers) l.ffn_norm = in.read_floats(d, "rms_ffn_weight");
    for (auto& l : ck.layers) l.w1 = in.read_floats(h * d, "w1");
    for (auto& l : ck.layers) l.w2 = in.read_floats(d * h, "w2");
    for (auto& l : ck.layers) l.w3 = in.read_floats(h * d, "w3");
    ck.final_norm = in.read_floats(d, "rms_final_weight");
    // Precomputed RoPE tables (real and imaginary parts); recomputed on the fly instead.
    in.skip(2 * c.seq_len * (c.head_size() / 2) * sizeof(float), "freq_cis");
    if (!c.shared_classifier) ck.classifier = in.read_floats(c.vocab_size * d, "wcls");
    if (in.remaining() != 0)
        throw std::invalid_argument("llama checkpoint: " + std::to_string(in.remaining()) +
                                    " unexpected trailing bytes after " +
                                    std::to_string(in.offset()) + " bytes of model");
    return ck;
}

/// Reads a llama2.c checkpoint file (see parse_checkpoint for the errors).
inline checkpoint load_checkpoint(const std::string& path) {
    const auto bytes = detail::read_file_bytes(path);
    try {
        return parse_checkpoint(bytes);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("'" + path + "': " + e.what());
    }
}

} // namespace mpq::llama
