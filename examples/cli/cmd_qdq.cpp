// mpq qdq: fake-quantizes a raw little-endian float32 file through a format.
#include "cli/args.hpp"
#include "cli/command.hpp"
#include "cli/raw_file.hpp"

#include <mpq/format.hpp>

#include <fmt/core.h>

namespace {

int run(std::span<const std::string> args) {
    const mpq::cli::parsed_args parsed(
        args, {"format", "block", "scale-mode", "round", "cols", "in", "out", "seed", "axis", "tensor-amax"});
    if (!parsed.positional().empty())
        throw mpq::cli::usage_error("unexpected argument '" + parsed.positional().front() + "'");
    const std::string name = parsed.require("format");
    const auto block = static_cast<std::size_t>(parsed.integer_or("block", 0, 1, 1 << 24));
    const mpq::any_format format = mpq::make_format(name, block);

    mpq::quantize_options options;
    if (auto mode = parsed.get("scale-mode"); mode && !mpq::parse_scale_mode(*mode, options.scale))
        throw mpq::cli::usage_error("unknown --scale-mode '" + *mode + "' (floor, ceil, even, rceil)");
    if (auto r = parsed.get("round"); r && !mpq::parse_rounding(*r, options.round))
        throw mpq::cli::usage_error("unknown --round '" + *r + "' (rne, away, zero, stochastic)");
    options.seed = static_cast<std::uint64_t>(parsed.integer_or("seed", 0, 0));
    if (parsed.get("tensor-amax")) options.tensor_amax = static_cast<float>(parsed.number_or("tensor-amax", 0.0));
    mpq::block_axis axis = mpq::block_axis::rows;
    if (auto a = parsed.get("axis")) {
        if (*a == "columns") axis = mpq::block_axis::columns;
        else if (*a != "rows") throw mpq::cli::usage_error("unknown --axis '" + *a + "' (rows, columns)");
    }

    const std::string in_path = parsed.require("in");
    const std::string out_path = parsed.require("out");
    std::vector<float> data = mpq::cli::read_f32_file(in_path);
    const auto cols = static_cast<std::size_t>(
        parsed.integer_or("cols", static_cast<std::int64_t>(data.size()), 1));
    if (!data.empty() && data.size() % cols != 0)
        throw mpq::cli::usage_error(fmt::format("{} holds {} values, not a whole number of rows of --cols {}",
                                                in_path, data.size(), cols));
    if (!data.empty()) {
        mpq::visit_format(format, [&](const auto& f) {
            mpq::fake_quantize(f, std::span<const float>(data), std::span<float>(data), options, cols, axis);
        });
    }
    mpq::cli::write_f32_file(out_path, data);
    return 0;
}

const bool registered = mpq::cli::register_command(
    {"qdq",
     "qdq --format NAME [--block N] [--scale-mode floor|ceil|even|rceil] [--round rne|away|zero|stochastic] "
     "[--seed S] [--cols C] [--axis rows|columns] [--tensor-amax A (nvfp4: calibrated tensor scale)] --in IN.f32 "
     "--out OUT.f32",
     "fake-quantize a raw float32 file (rows of C values; blocks restart at every row)", &run});

} // namespace
