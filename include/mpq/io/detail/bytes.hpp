// Bounded little-endian reading for the tensor readers: every read is checked against the end
// of the buffer first, so a lying header yields mpq::io::bad_file, never an out-of-bounds read.
#pragma once

#include <mpq/io/tensor.hpp>
#include <mpq/numeric/half.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace mpq::io::detail {

static_assert(std::endian::native == std::endian::little,
              "mpq's tensor readers assume a little-endian host");

using byte_span = std::span<const unsigned char>;

/// Largest tensor a reader accepts, in elements (2^40): a bound that stops absurd headers from
/// requesting terabytes before any size check against the file can run.
inline constexpr std::uint64_t max_elements = std::uint64_t{1} << 40;

/// a * b, or bad_file("<what>: ...") if the product overflows 64 bits.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const std::string& what) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
        throw bad_file(what + ": size " + std::to_string(a) + " x " + std::to_string(b) +
                       " overflows");
    return a * b;
}

/// Product of `shape` with overflow and max_elements checks.
inline std::uint64_t element_count(const std::vector<std::size_t>& shape, const std::string& what) {
    std::uint64_t n = 1;
    for (std::size_t d : shape) n = checked_mul(n, d, what);
    if (n > max_elements)
        throw bad_file(what + ": " + std::to_string(n) + " elements is more than the reader accepts");
    return n;
}

/// A read position in a byte buffer. `format` prefixes every error message.
class cursor {
public:
    cursor(byte_span bytes, std::string format) : bytes_(bytes), format_(std::move(format)) {}

    std::size_t position() const { return pos_; }
    std::size_t remaining() const { return bytes_.size() - pos_; }
    byte_span bytes() const { return bytes_; }
    const std::string& format() const { return format_; }

    /// Throws bad_file unless `n` more bytes exist; `what` names the field being read.
    void require(std::uint64_t n, std::string_view what) const {
        if (n > remaining())
            throw bad_file(format_ + ": file truncated reading " + std::string(what) + " (needs " +
                           std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                           ", " + std::to_string(remaining()) + " left)");
    }
    void seek(std::uint64_t offset, std::string_view what) {
        if (offset > bytes_.size())
            throw bad_file(format_ + ": " + std::string(what) + " offset " +
                           std::to_string(offset) + " is past the end of the file (" +
                           std::to_string(bytes_.size()) + " bytes)");
        pos_ = static_cast<std::size_t>(offset);
    }
    void skip(std::uint64_t n, std::string_view what) {
        require(n, what);
        pos_ += static_cast<std::size_t>(n);
    }

    template <class T>
    T read(std::string_view what) {
        require(sizeof(T), what);
        T value;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return value;
    }

    /// `n` raw bytes as a span into the buffer.
    byte_span take(std::uint64_t n, std::string_view what) {
        require(n, what);
        byte_span s = bytes_.subspan(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }

private:
    byte_span bytes_;
    std::string format_;
    std::size_t pos_ = 0;
};

/// Element encodings the readers convert to float32.
enum class stored_type { f32, f16, bf16, f64 };

inline std::size_t stored_size(stored_type t) {
    switch (t) {
    case stored_type::f32: return 4;
    case stored_type::f16: return 2;
    case stored_type::bf16: return 2;
    case stored_type::f64: return 8;
    }
    return 0;
}

/// Converts `count` little-endian values of type `t` (exactly count * size bytes) to float.
/// f64 values round to nearest; magnitudes of 2^128 and more become ±Inf; NaN stays NaN.
inline std::vector<float> convert(byte_span raw, stored_type t, std::uint64_t count) {
    std::vector<float> out(static_cast<std::size_t>(count));
    const unsigned char* p = raw.data();
    switch (t) {
    case stored_type::f32:
        if (count) std::memcpy(out.data(), p, out.size() * 4);
        break;
    case stored_type::f16:
        for (std::size_t i = 0; i < out.size(); ++i) {
            std::uint16_t bits;
            std::memcpy(&bits, p + 2 * i, 2);
            out[i] = fp16::from_bits(bits).to_float();
        }
        break;
    case stored_type::bf16:
        for (std::size_t i = 0; i < out.size(); ++i) {
            std::uint16_t bits;
            std::memcpy(&bits, p + 2 * i, 2);
            out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
        }
        break;
    case stored_type::f64:
        for (std::size_t i = 0; i < out.size(); ++i) {
            double d;
            std::memcpy(&d, p + 8 * i, 8);
            // Out-of-range double-to-float conversion is undefined behaviour: map it to Inf.
            out[i] = std::fabs(d) < 0x1p128 || std::isnan(d)
                         ? static_cast<float>(d)
                         : (d > 0 ? 1.0f : -1.0f) * std::numeric_limits<float>::infinity();
        }
        break;
    }
    return out;
}

/// The whole content of the file at `path`; std::invalid_argument naming the path if it
/// cannot be opened or read.
inline std::vector<unsigned char> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot open '" + path + "'");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0) throw std::invalid_argument("cannot determine the size of '" + path + "'");
    in.seekg(0, std::ios::beg);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw std::invalid_argument("cannot read '" + path + "'");
    return bytes;
}

} // namespace mpq::io::detail
