// Optional {fmt} formatters for mpq's element types (needs {fmt}; the core headers do not).
// An element prints as its exact value; "{:x}" prints its raw code in hex instead.
#pragma once

#include <mpq/numeric.hpp>

#include <fmt/format.h>

namespace mpq::detail {

struct element_formatter_base {
    bool hex = false;
    constexpr auto parse(fmt::format_parse_context& ctx) {
        auto it = ctx.begin();
        if (it != ctx.end() && *it == 'x') {
            hex = true;
            ++it;
        }
        return it;
    }
    template <class Code, class Context>
    auto write(Code code, float value, Context& ctx) const {
        if (hex) return fmt::format_to(ctx.out(), "0x{:0{}x}", static_cast<unsigned>(code), sizeof(Code) * 2);
        return fmt::format_to(ctx.out(), "{}", value);
    }
};

} // namespace mpq::detail

template <class Layout>
struct fmt::formatter<mpq::minifloat<Layout>> : mpq::detail::element_formatter_base {
    auto format(mpq::minifloat<Layout> v, fmt::format_context& ctx) const { return write(v.code(), v.to_float(), ctx); }
};

template <int Bits, int FractionBits, mpq::int_range Range>
struct fmt::formatter<mpq::scaled_int<Bits, FractionBits, Range>> : mpq::detail::element_formatter_base {
    auto format(mpq::scaled_int<Bits, FractionBits, Range> v, fmt::format_context& ctx) const {
        return write(v.code(), v.to_float(), ctx);
    }
};

template <>
struct fmt::formatter<mpq::e8m0> : mpq::detail::element_formatter_base {
    auto format(mpq::e8m0 v, fmt::format_context& ctx) const { return write(v.code(), v.to_float(), ctx); }
};
