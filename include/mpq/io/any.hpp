// Reads a tensor file of any supported format, recognised by its content.
//
// OPTIONAL DEPENDENCY: includes mpq/io/safetensors.hpp and so needs nlohmann-json.
#pragma once

#include <mpq/io/gguf.hpp>
#include <mpq/io/llama2c.hpp>
#include <mpq/io/npy.hpp>
#include <mpq/io/raw.hpp>
#include <mpq/io/safetensors.hpp>

#include <cstring>
#include <string>
#include <string_view>

namespace mpq::io {

enum class file_format { gguf, npy, safetensors, llama2c, raw_f32 };

inline std::string_view to_string(file_format f) {
    switch (f) {
    case file_format::gguf: return "gguf";
    case file_format::npy: return "npy";
    case file_format::safetensors: return "safetensors";
    case file_format::llama2c: return "llama2.c";
    case file_format::raw_f32: return "raw f32";
    }
    return "?";
}

/// Recognises the format of `bytes`: the magics "GGUF" and "\x93NUMPY"; safetensors when the
/// first u64 is a header length that fits the file and the header starts with '{'; llama2.c
/// when the 7-int32 header implies exactly the file size; otherwise raw float32 if the name
/// `path_hint` ends in ".f32" or ".raw". Throws mpq::io::bad_file when none matches.
inline file_format detect_format(std::span<const unsigned char> bytes, std::string_view path_hint = {}) {
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return file_format::gguf;
    if (bytes.size() >= 6 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0) return file_format::npy;
    if (bytes.size() >= 9) {
        std::uint64_t n;
        std::memcpy(&n, bytes.data(), 8);
        if (n <= bytes.size() - 8 && bytes[8] == '{') return file_format::safetensors;
    }
    if (const auto n = llama2c_implied_size(bytes); n != 0 && n == bytes.size()) return file_format::llama2c;
    if (path_hint.ends_with(".f32") || path_hint.ends_with(".raw")) return file_format::raw_f32;
    throw bad_file("unrecognised tensor file" +
                   (path_hint.empty() ? std::string() : " '" + std::string(path_hint) + "'") +
                   " (read: GGUF, .npy, safetensors, llama2.c checkpoints, raw float32 named *.f32 or *.raw)");
}

/// Reads every tensor of `bytes`, whatever its format (see detect_format); a .npy or raw file
/// gives one tensor named `single_name`. Throws mpq::io::bad_file as the format's reader does.
inline tensor_set read_tensors(std::span<const unsigned char> bytes, std::string_view path_hint = {},
                               std::string single_name = "tensor") {
    switch (detect_format(bytes, path_hint)) {
    case file_format::gguf: return read_gguf(bytes).tensors;
    case file_format::npy: return {{read_npy(bytes, single_name)}};
    case file_format::safetensors: return read_safetensors(bytes).tensors;
    case file_format::llama2c: return read_llama2c(bytes).tensors;
    case file_format::raw_f32: return {{read_raw_f32(bytes, single_name)}};
    }
    throw bad_file("unreachable file format");
}

/// Reads every tensor of the file at `path`; single tensors are named after the file stem.
inline tensor_set read_tensors_file(const std::string& path) {
    const auto bytes = detail::read_file(path);
    std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    return read_tensors(bytes, path, stem);
}

} // namespace mpq::io
