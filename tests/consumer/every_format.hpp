// What the two halves of the every_format consumer share (every_format.cpp: the formats and
// main; every_format_gemm.cpp: the GEMM). Two translation units, so that a parallel build
// compiles the two kernel families at once.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace every_format {

inline int failures = 0;

inline void fail(const std::string& what) {
    std::printf("FAIL: %s\n", what.c_str());
    ++failures;
}

inline bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

/// Values of both signs over several binades, with zeros and a ragged row length.
inline std::vector<float> sample_input(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float mantissa = static_cast<float>(static_cast<int>(i % 37) - 18) + 0.375f;
        v[i] = i % 29 == 0 ? 0.0f : std::ldexp(mantissa, static_cast<int>(i % 13) - 6);
    }
    return v;
}

void check_formats();
void check_gemm();

} // namespace every_format
