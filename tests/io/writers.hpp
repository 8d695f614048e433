// Writers for small tensor files in every format mpq reads, so the reader tests build their
// own valid and corrupted inputs.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mpq_test {

using bytes = std::vector<unsigned char>;

template <class T>
void put(bytes& b, T value) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
}

inline void put_raw(bytes& b, const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    b.insert(b.end(), c, c + n);
}

struct gguf_tensor_spec {
    std::string name;
    std::vector<std::uint64_t> ne; ///< ggml order: innermost first
    std::uint32_t ggml_type;       ///< 0 F32, 1 F16, 30 BF16
    bytes data;
};

/// A GGUF file of `version` with one string, one u32 and one array metadata entry.
inline bytes make_gguf(std::uint32_t version, const std::vector<gguf_tensor_spec>& tensors,
                       std::uint32_t alignment = 32) {
    bytes b;
    auto count = [&](std::uint64_t n) {
        if (version == 1) put<std::uint32_t>(b, static_cast<std::uint32_t>(n));
        else put<std::uint64_t>(b, n);
    };
    auto str = [&](const std::string& s) {
        count(s.size());
        put_raw(b, s.data(), s.size());
    };
    put_raw(b, "GGUF", 4);
    put<std::uint32_t>(b, version);
    count(tensors.size());
    count(3);
    str("general.name");
    put<std::uint32_t>(b, 8);
    str("test model");
    str("general.alignment");
    put<std::uint32_t>(b, 4);
    put<std::uint32_t>(b, alignment);
    str("tokenizer.ggml.scores");
    put<std::uint32_t>(b, 9);
    put<std::uint32_t>(b, 6);
    count(3);
    for (float f : {0.5f, 1.5f, 2.5f}) put<float>(b, f);
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const auto& t : tensors) {
        str(t.name);
        put<std::uint32_t>(b, static_cast<std::uint32_t>(t.ne.size()));
        for (auto d : t.ne) count(d);
        put<std::uint32_t>(b, t.ggml_type);
        put<std::uint64_t>(b, offset);
        offsets.push_back(offset);
        offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    while (b.size() % alignment) b.push_back(0);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        put_raw(b, tensors[i].data.data(), tensors[i].data.size());
        if (i + 1 < tensors.size())
            while (b.size() % alignment) b.push_back(0);
    }
    return b;
}

inline bytes make_npy(const std::string& descr, bool fortran, const std::string& shape_text,
                      const bytes& data, int version = 1) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                         ", 'shape': " + shape_text + ", }";
    const std::size_t prefix = version == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64) header += ' ';
    header += '\n';
    bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(version), 0};
    if (version == 1) put<std::uint16_t>(b, static_cast<std::uint16_t>(header.size()));
    else put<std::uint32_t>(b, static_cast<std::uint32_t>(header.size()));
    put_raw(b, header.data(), header.size());
    put_raw(b, data.data(), data.size());
    return b;
}

inline bytes make_safetensors(const std::string& json, const bytes& data) {
    bytes b;
    put<std::uint64_t>(b, json.size());
    put_raw(b, json.data(), json.size());
    put_raw(b, data.data(), data.size());
    return b;
}

template <class T>
bytes as_bytes(const std::vector<T>& v) {
    bytes b;
    put_raw(b, v.data(), v.size() * sizeof(T));
    return b;
}

/// A llama2.c checkpoint whose float i (counting from the first array) is i * 0.001.
inline bytes make_llama2c(int dim, int hidden, int layers, int heads, int kv_heads, int vocab,
                          int seq, bool shared) {
    bytes b;
    for (int v : {dim, hidden, layers, heads, kv_heads, shared ? vocab : -vocab, seq}) put<std::int32_t>(b, v);
    const long kv_dim = static_cast<long>(dim) * kv_heads / heads;
    const long floats = long(vocab) * dim + long(layers) * (2L * dim + 2L * dim * dim + 2 * kv_dim * dim + 3L * hidden * dim) +
                        dim + long(seq) * (dim / heads) + (shared ? 0 : long(vocab) * dim);
    for (long i = 0; i < floats; ++i) put<float>(b, static_cast<float>(i) * 0.001f);
    return b;
}

} // namespace mpq_test
