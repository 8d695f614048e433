// mpq formats: a table of every format's element, block, storage cost and range.
#include "cli/args.hpp"
#include "cli/command.hpp"

#include <mpq/format.hpp>

#include <fmt/core.h>

#include <string>

namespace {

template <class Element>
std::string element_specials() {
    if constexpr (requires { Element::exponent_bits; }) {
        if constexpr (Element::has_inf) return "IEEE Inf and NaN";
        else if constexpr (Element::has_nan) return "NaN S.1111.111, no Inf";
        else return "none (all finite)";
    } else {
        return "none (two's complement)";
    }
}

template <class Element>
std::string element_layout() {
    if constexpr (requires { Element::exponent_bits; }) {
        return fmt::format("E{}M{} bias {}", Element::exponent_bits, Element::mantissa_bits, Element::bias);
    } else {
        return fmt::format("INT{} q/2^{}", Element::bits, Element::fraction_bits);
    }
}

int run(std::span<const std::string> args) {
    mpq::cli::parsed_args parsed(args, {});
    if (!parsed.positional().empty()) throw mpq::cli::usage_error("formats takes no arguments");
    fmt::print("{:<16} {:<16} {:>5} {:>7} {:>9} {:>11} {:>11} {:>11}  {:<12} {}\n", "format", "element",
               "bits", "block", "bits/elem", "max", "min normal", "min subnorm", "scale", "special values");
    for (auto name : mpq::format_names) {
        const mpq::any_format format = mpq::make_format(name);
        mpq::visit_format(format, [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            using E = typename F::element;
            std::string block, scale, specials = element_specials<E>();
            if constexpr (mpq::is_mx_format_v<F>) {
                block = fmt::format("{}", f.block_size());
                scale = "E8M0";
                specials += "; scale 0xFF = NaN block";
            } else if constexpr (std::is_same_v<F, mpq::nvfp4>) {
                block = "16";
                scale = "UE4M3+FP32";
                specials += "; scale 0x7F = NaN block";
            } else if constexpr (requires { f.vector_length(); }) {
                block = "row";
                scale = "FP32/vector";
                specials += "; NaN scale = NaN vector";
            } else {
                block = "tensor";
                scale = "FP32/tensor";
                specials += "; NaN scale = NaN tensor";
            }
            const double bits = f.bits_per_element();
            fmt::print("{:<16} {:<16} {:>5} {:>7} {:>9.4g} {:>11.6g} {:>11.6g} {:>11.6g}  {:<12} {}\n", name,
                       element_layout<E>(), E::bits, block, bits, E::max_value(), E::min_normal(),
                       E::min_subnormal(), scale, specials);
        });
    }
    fmt::print("\nmax / min columns are element values; MX and NVFP4 values are multiplied by the block "
               "scale,\nper-tensor / per-vector INT codes by their float scale (INT8 codes are "
               "integers ±127).\nMX blocks default to 32 (any size with --block); bits/elem counts the "
               "scale overhead\n(per-vector: 32 bits per row, not counted here; NVFP4: the 32-bit tensor "
               "scale is not counted).\n");
    return 0;
}

const bool registered = mpq::cli::register_command(
    {"formats", "formats", "table of every format: bits, block, range, special values", &run});

} // namespace
