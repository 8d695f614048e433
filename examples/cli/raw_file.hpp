// Raw little-endian float32 files for the mpq program.
#pragma once

#include "cli/args.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace mpq::cli {

/// Reads a whole file of little-endian float32; usage_error if unreadable or not 4-byte sized.
inline std::vector<float> read_f32_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error("cannot read '" + path + "'");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw usage_error("error reading '" + path + "'");
    if (bytes.size() % 4 != 0)
        throw usage_error("'" + path + "' is " + std::to_string(bytes.size()) +
                          " bytes, not a whole number of float32 values");
    static_assert(std::endian::native == std::endian::little, "mpq's raw files are little-endian");
    std::vector<float> values(bytes.size() / 4);
    if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
}

inline void write_f32_file(const std::string& path, const std::vector<float>& values) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw usage_error("cannot write '" + path + "'");
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
    if (!out) throw usage_error("error writing '" + path + "'");
}

} // namespace mpq::cli
