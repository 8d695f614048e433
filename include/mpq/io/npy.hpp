// NumPy .npy reader (format versions 1.0, 2.0 and 3.0): one little-endian float array.
//
// Layout: "\x93NUMPY", major and minor version bytes, the header length (u16 in version 1,
// u32 in versions 2 and 3), then the header — a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a newline
// (version 3 allows UTF-8 in it) — then the raw array data.
// Read dtypes: '<f4' (float32), '<f2' (float16), '<f8' (float64, rounded to float32); '='
// (native) is accepted as little-endian. Big-endian ('>'), integer, complex, structured and
// object arrays are rejected. A Fortran-order array is transposed into C order, so the result
// is always row-major with the shape the file states.
#pragma once

#include <mpq/io/detail/bytes.hpp>
#include <mpq/io/tensor.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mpq::io {

namespace detail {

/// The parsed .npy header dict.
struct npy_header {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::size_t> shape;
};

/// A bounded parser for the small Python-literal dict of a .npy header.
class npy_header_parser {
public:
    explicit npy_header_parser(std::string_view text) : s_(text) {}

    npy_header parse() {
        npy_header h;
        bool have_descr = false, have_order = false, have_shape = false;
        expect('{');
        while (true) {
            skip_space();
            if (peek() == '}') { ++i_; break; }
            const std::string key = string_literal();
            expect(':');
            if (key == "descr") {
                h.descr = string_literal();
                have_descr = true;
            } else if (key == "fortran_order") {
                h.fortran_order = boolean();
                have_order = true;
            } else if (key == "shape") {
                h.shape = tuple();
                have_shape = true;
            } else {
                fail("unknown key '" + key + "'");
            }
            skip_space();
            if (peek() == ',') { ++i_; continue; }
            expect('}');
            break;
        }
        if (!have_descr || !have_order || !have_shape)
            fail("header lacks one of 'descr', 'fortran_order', 'shape'");
        return h;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw bad_file("npy: bad header at character " + std::to_string(i_) + ": " + what);
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    void expect(char c) {
        skip_space();
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }
    std::string string_literal() {
        skip_space();
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail("expected a string");
        const std::size_t end = s_.find(quote, i_ + 1);
        if (end == std::string_view::npos) fail("unterminated string");
        std::string out(s_.substr(i_ + 1, end - i_ - 1));
        i_ = end + 1;
        return out;
    }
    bool boolean() {
        skip_space();
        if (s_.substr(i_, 4) == "True") { i_ += 4; return true; }
        if (s_.substr(i_, 5) == "False") { i_ += 5; return false; }
        fail("expected True or False");
    }
    std::vector<std::size_t> tuple() {
        std::vector<std::size_t> dims;
        expect('(');
        while (true) {
            skip_space();
            if (peek() == ')') { ++i_; break; }
            if (peek() < '0' || peek() > '9') fail("expected a dimension");
            std::uint64_t value = 0;
            while (peek() >= '0' && peek() <= '9') {
                value = value * 10 + static_cast<std::uint64_t>(peek() - '0');
                if (value > max_elements) fail("dimension is absurdly large");
                ++i_;
            }
            dims.push_back(static_cast<std::size_t>(value));
            if (dims.size() > 32) fail("more than 32 dimensions");
            skip_space();
            if (peek() == ',') { ++i_; continue; }
            expect(')');
            break;
        }
        return dims;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

/// Reorders a column-major array of `shape` into row-major order.
inline std::vector<float> fortran_to_c(const std::vector<float>& in, const std::vector<std::size_t>& shape) {
    std::vector<float> out(in.size());
    if (in.empty()) return out;
    const std::size_t rank = shape.size();
    std::vector<std::size_t> index(rank, 0);
    // Walk the C-order destination; track the Fortran-order source offset incrementally.
    std::vector<std::size_t> f_stride(rank, 1);
    for (std::size_t d = 1; d < rank; ++d) f_stride[d] = f_stride[d - 1] * shape[d - 1];
    std::size_t src = 0;
    for (std::size_t dst = 0; dst < out.size(); ++dst) {
        out[dst] = in[src];
        for (std::size_t d = rank; d-- > 0;) {
            if (++index[d] < shape[d]) { src += f_stride[d]; break; }
            src -= (shape[d] - 1) * f_stride[d];
            index[d] = 0;
        }
    }
    return out;
}

} // namespace detail

/// Parses a .npy file held in memory into one tensor called `name`. Throws mpq::io::bad_file
/// for a wrong magic, a version other than 1, 2 or 3, a truncated or malformed header, an
/// unsupported dtype (named), or data shorter or longer than the shape implies.
inline tensor read_npy(std::span<const unsigned char> bytes, std::string name = "array") {
    detail::cursor in(bytes, "npy");
    const auto magic = in.take(6, "magic");
    static constexpr unsigned char expected[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    for (int i = 0; i < 6; ++i)
        if (magic[static_cast<std::size_t>(i)] != expected[i])
            throw bad_file("npy: wrong magic (expected \"\\x93NUMPY\")");
    const auto major = in.read<std::uint8_t>("major version");
    in.read<std::uint8_t>("minor version");
    if (major < 1 || major > 3)
        throw bad_file("npy: unsupported format version " + std::to_string(major) + " (1 to 3 are read)");
    const std::uint64_t header_length = major == 1 ? in.read<std::uint16_t>("header length")
                                                   : in.read<std::uint32_t>("header length");
    const auto header_bytes = in.take(header_length, "header");
    const std::string_view header_text(reinterpret_cast<const char*>(header_bytes.data()), header_bytes.size());
    const detail::npy_header h = detail::npy_header_parser(header_text).parse();

    detail::stored_type type;
    if (h.descr == "<f4" || h.descr == "=f4") type = detail::stored_type::f32;
    else if (h.descr == "<f2" || h.descr == "=f2") type = detail::stored_type::f16;
    else if (h.descr == "<f8" || h.descr == "=f8") type = detail::stored_type::f64;
    else
        throw bad_file("npy: dtype '" + h.descr +
                       "' is not supported (read: '<f4', '<f2', '<f8'; big-endian and non-float "
                       "arrays are not)");
    const std::uint64_t count = detail::element_count(h.shape, "npy");
    const std::uint64_t nbytes = detail::checked_mul(count, detail::stored_size(type), "npy");
    if (in.remaining() != nbytes)
        throw bad_file("npy: data is " + std::to_string(in.remaining()) + " bytes but shape and dtype imply " +
                       std::to_string(nbytes));
    std::vector<float> values = detail::convert(in.take(nbytes, "data"), type, count);
    if (h.fortran_order && h.shape.size() > 1) values = detail::fortran_to_c(values, h.shape);
    return {std::move(name), h.shape, std::move(values)};
}

/// Reads the .npy file at `path`; the tensor is named after the file name without directory
/// and extension.
inline tensor read_npy_file(const std::string& path) {
    const auto bytes = detail::read_file(path);
    std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    return read_npy(bytes, stem);
}

} // namespace mpq::io
