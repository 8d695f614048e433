// Raw float32 reader: a headerless file of little-endian float32 values.
#pragma once

#include <mpq/io/detail/bytes.hpp>
#include <mpq/io/tensor.hpp>

#include <string>

namespace mpq::io {

/// Interprets `bytes` as little-endian float32 values forming one tensor called `name`. With
/// an empty `shape` the tensor is one-dimensional with as many values as the bytes hold;
/// otherwise the shape's element count must match. Throws mpq::io::bad_file if the size is not
/// a multiple of 4 or does not match `shape` (both sizes named).
inline tensor read_raw_f32(std::span<const unsigned char> bytes, std::string name = "raw",
                           std::vector<std::size_t> shape = {}) {
    if (bytes.size() % 4 != 0)
        throw bad_file("raw f32: size " + std::to_string(bytes.size()) + " bytes is not a multiple of 4");
    const std::uint64_t count = bytes.size() / 4;
    if (shape.empty()) {
        shape = {static_cast<std::size_t>(count)};
    } else if (detail::element_count(shape, "raw f32") != count) {
        throw bad_file("raw f32: file holds " + std::to_string(count) + " values but the shape asks for " +
                       std::to_string(detail::element_count(shape, "raw f32")));
    }
    return {std::move(name), std::move(shape), detail::convert(bytes, detail::stored_type::f32, count)};
}

/// Reads the raw float32 file at `path` (see the overload above); the tensor is named after
/// the file name without directory and extension.
inline tensor read_raw_f32_file(const std::string& path, std::vector<std::size_t> shape = {}) {
    const auto bytes = detail::read_file(path);
    std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    return read_raw_f32(bytes, stem, std::move(shape));
}

} // namespace mpq::io
