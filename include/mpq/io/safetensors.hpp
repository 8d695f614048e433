// safetensors reader: the F32, F16 and BF16 tensors of a Hugging Face .safetensors file.
//
// OPTIONAL DEPENDENCY: this header parses the JSON header with nlohmann-json (Debian:
// nlohmann-json3-dev; CMake: find_package(nlohmann_json) and link nlohmann_json::nlohmann_json).
// It is not included by mpq/mpq.hpp or mpq/io.hpp; include it explicitly.
//
// Layout: a u64 little-endian header length N, N bytes of JSON — an object mapping each tensor
// name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, plus an optional
// "__metadata__" object of strings — then the data section; offsets are relative to its
// start. Tensors are returned in data-offset order (the JSON object order is not kept).
#pragma once

#include <mpq/io/detail/bytes.hpp>
#include <mpq/io/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

namespace mpq::io {

struct safetensors_file {
    std::map<std::string, std::string> metadata; ///< the "__metadata__" strings
    tensor_set tensors;
};

/// Largest JSON header accepted (100 MB): the format's own reference limit.
inline constexpr std::uint64_t safetensors_max_header = 100'000'000;

/// Parses a safetensors file held in memory. Throws mpq::io::bad_file for a header length
/// past the file end or above 100 MB, malformed JSON, an entry without a valid dtype / shape /
/// data_offsets, an unsupported dtype (named; F32, F16 and BF16 are read), offsets that are
/// reversed, outside the data section or disagree with shape x dtype size, or tensors whose
/// data overlap.
inline safetensors_file read_safetensors(std::span<const unsigned char> bytes) {
    detail::cursor in(bytes, "safetensors");
    const auto header_length = in.read<std::uint64_t>("header length");
    if (header_length > safetensors_max_header)
        throw bad_file("safetensors: header length " + std::to_string(header_length) + " exceeds 100 MB");
    const auto header = in.take(header_length, "JSON header");
    const std::uint64_t data_start = in.position();
    const std::uint64_t data_size = bytes.size() - data_start;

    const nlohmann::json j = nlohmann::json::parse(header.begin(), header.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw bad_file("safetensors: the header is not a JSON object");

    struct entry {
        std::string name;
        std::vector<std::size_t> shape;
        detail::stored_type type;
        std::uint64_t begin, end, count;
    };
    std::vector<entry> entries;
    safetensors_file file;
    for (const auto& [name, v] : j.items()) {
        if (name == "__metadata__") {
            if (!v.is_object()) throw bad_file("safetensors: __metadata__ is not an object");
            for (const auto& [k, value] : v.items())
                file.metadata[k] = value.is_string() ? value.get<std::string>() : value.dump();
            continue;
        }
        const std::string what = "safetensors: tensor '" + name + "'";
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
            !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() ||
            v["data_offsets"].size() != 2)
            throw bad_file(what + " lacks a valid dtype, shape or data_offsets");
        entry e;
        e.name = name;
        const std::string dtype = v["dtype"].get<std::string>();
        if (dtype == "F32") e.type = detail::stored_type::f32;
        else if (dtype == "F16") e.type = detail::stored_type::f16;
        else if (dtype == "BF16") e.type = detail::stored_type::bf16;
        else throw bad_file(what + " has dtype " + dtype + ", unsupported (F32, F16, BF16 are read)");
        if (v["shape"].size() > 32) throw bad_file(what + " has more than 32 dimensions");
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned()) throw bad_file(what + " has a shape entry that is not a non-negative integer");
            e.shape.push_back(d.get<std::size_t>());
        }
        for (const auto& o : v["data_offsets"])
            if (!o.is_number_unsigned()) throw bad_file(what + " has a data offset that is not a non-negative integer");
        e.begin = v["data_offsets"][0].get<std::uint64_t>();
        e.end = v["data_offsets"][1].get<std::uint64_t>();
        e.count = detail::element_count(e.shape, what);
        if (e.begin > e.end || e.end > data_size)
            throw bad_file(what + " data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                           "] fall outside the data section (" + std::to_string(data_size) + " bytes)");
        const std::uint64_t nbytes = detail::checked_mul(e.count, detail::stored_size(e.type), what);
        if (e.end - e.begin != nbytes)
            throw bad_file(what + " spans " + std::to_string(e.end - e.begin) + " bytes but shape and dtype imply " +
                           std::to_string(nbytes));
        entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) { return a.begin < b.begin; });
    for (std::size_t i = 1; i < entries.size(); ++i)
        if (entries[i].begin < entries[i - 1].end)
            throw bad_file("safetensors: tensors '" + entries[i - 1].name + "' and '" + entries[i].name +
                           "' overlap");
    for (auto& e : entries) {
        const auto raw = bytes.subspan(static_cast<std::size_t>(data_start + e.begin),
                                       static_cast<std::size_t>(e.end - e.begin));
        file.tensors.tensors.push_back({std::move(e.name), std::move(e.shape), detail::convert(raw, e.type, e.count)});
    }
    return file;
}

/// Reads the safetensors file at `path` (see the overload above).
inline safetensors_file read_safetensors_file(const std::string& path) {
    const auto bytes = detail::read_file(path);
    return read_safetensors(bytes);
}

} // namespace mpq::io
