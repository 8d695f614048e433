// mpq sweep: quantization error and speed of every requested format x block size on real or
// synthetic tensors — the block-size (Qb) question of the mixed-quantization papers, answered
// for the user's own weights. Table on stdout, optional CSV and SVG plot, progress on stderr.
#include "cli/args.hpp"
#include "cli/command.hpp"
#include "cli/svg_plot.hpp"
#include "cli/sweep_sources.hpp"

#include <mpq/format.hpp>
#include <mpq/mixed/metrics.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using mpq::cli::usage_error;

/// One entry of --blocks: a block size, one scale per row ("row"), or one per tensor.
struct block_spec {
    enum class kind { size, row, tensor } type = kind::size;
    std::size_t size = 0;
    std::string label;
};

struct sweep_config {
    std::string family; ///< as given: mxint4, nvfp4, int8, ...
    block_spec block;
};

/// A tensor prepared for quantization: rows x cols row-major.
struct input_tensor {
    std::string name;
    std::size_t rows = 0, cols = 0;
    std::span<const float> values;
};

/// Totals over the tensors of one result row; pooled so several tensors give one row.
struct result {
    std::string tensor, family, block;
    std::size_t elements = 0, groups = 0, clipped = 0, flushed = 0, nan_outputs = 0, nonfinite = 0;
    double bits = 0, noise = 0, signal = 0, max_abs = 0, max_rel = 0;
    double quantize_seconds = 0, dequantize_seconds = 0;
    bool timed = false;
    std::map<int, std::size_t> exponents;
    std::size_t zero_scales = 0, nan_scales = 0;

    void add(const mpq::mixed::error_analysis& a, std::size_t n) {
        const auto& e = a.errors;
        elements += e.count;
        nonfinite += e.nonfinite_inputs;
        nan_outputs += e.nan_outputs;
        clipped += e.clipped;
        flushed += e.flushed;
        noise += e.mse * static_cast<double>(e.count);
        signal += e.mean_square * static_cast<double>(e.count);
        max_abs = std::max(max_abs, e.max_abs_error);
        max_rel = std::max(max_rel, e.max_rel_error);
        bits += a.bits_per_element * static_cast<double>(n);
        groups += a.scales.groups;
        zero_scales += a.scales.zero_scales;
        nan_scales += a.scales.nan_scales;
        for (auto [exponent, count] : a.scales.exponent_counts) exponents[exponent] += count;
    }
    std::size_t all_elements() const { return elements + nonfinite + nan_outputs; }
    double bits_per_weight() const { return bits / static_cast<double>(all_elements()); }
    double sqnr_db() const { return noise == 0 ? INFINITY : 10.0 * std::log10(signal / noise); }
    double mse() const { return elements ? noise / static_cast<double>(elements) : 0.0; }
    double per_scale() const { return groups ? static_cast<double>(all_elements()) / static_cast<double>(groups) : 0.0; }
    double share(std::size_t n) const { return elements ? static_cast<double>(n) / static_cast<double>(elements) : 0.0; }
    double gbps(double seconds) const { return timed && seconds > 0 ? 4.0 * static_cast<double>(all_elements()) / seconds / 1e9 : NAN; }
    std::string histogram() const {
        std::string h;
        for (auto [e, c] : exponents) h += (h.empty() ? "" : ";") + fmt::format("{}:{}", e, c);
        if (zero_scales) h += fmt::format("{}zero:{}", h.empty() ? "" : ";", zero_scales);
        if (nan_scales) h += fmt::format("{}nan:{}", h.empty() ? "" : ";", nan_scales);
        return h;
    }
};

std::vector<block_spec> parse_blocks(const std::string& text) {
    std::vector<block_spec> out;
    for (const auto& part : mpq::cli::split_list(text)) {
        if (part == "row" || part == "vector" || part == "per-vector") {
            out.push_back({block_spec::kind::row, 0, "row"});
        } else if (part == "tensor" || part == "per-tensor") {
            out.push_back({block_spec::kind::tensor, 0, "tensor"});
        } else {
            const auto n = mpq::cli::parsed_args::parse_integer("blocks", part, 1, 1 << 24);
            out.push_back({block_spec::kind::size, static_cast<std::size_t>(n), part});
        }
    }
    if (out.empty()) throw usage_error("--blocks is empty");
    return out;
}

/// The scaled (non-MX) element name of a family, or "" when the family is not one.
std::string scaled_element(const std::string& family) {
    for (std::string_view e : {"int8", "int4", "fp4_e2m1"}) {
        if (family == e || family == std::string(e) + "_vector" || family == std::string(e) + "_tensor") return std::string(e);
    }
    if (family == "fp4") return "fp4_e2m1";
    return "";
}

void check_family(const std::string& family) {
    if (family == "nvfp4" || !scaled_element(family).empty()) return;
    if (family.starts_with("mx")) {
        (void)mpq::make_format(family, 32); // throws std::invalid_argument for unknown names
        return;
    }
    throw usage_error("unknown format family '" + family +
                      "' (mxint8 mxint4 mxfp8_e4m3 mxfp8_e5m2 mxfp6_e3m2 mxfp6_e2m3 mxfp4 nvfp4 int8 int4 fp4)");
}

/// The format and the rows x cols view under which `t` is quantized for config `c`.
mpq::any_format format_for(const sweep_config& c, input_tensor& t) {
    const std::size_t n = t.rows * t.cols;
    if (c.block.type == block_spec::kind::tensor) {
        t.rows = 1; // one scale group for everything: the tensor as one row
        t.cols = n;
    }
    if (c.family == "nvfp4") return mpq::make_format("nvfp4");
    if (const std::string e = scaled_element(c.family); !e.empty()) {
        switch (c.block.type) {
        case block_spec::kind::size: return mpq::make_format(e + "_vector", c.block.size);
        case block_spec::kind::row: return mpq::make_format(e + "_vector", 0);
        case block_spec::kind::tensor: return mpq::make_format(e + "_tensor");
        }
    }
    switch (c.block.type) {
    case block_spec::kind::size: return mpq::make_format(c.family, c.block.size);
    case block_spec::kind::row: return mpq::make_format(c.family, t.cols);
    case block_spec::kind::tensor: return mpq::make_format(c.family, n);
    }
    throw usage_error("unreachable block kind");
}

/// Quantize and dequantize closures over preallocated storage, for timing.
struct timed_ops {
    std::vector<std::function<void()>> quantize, dequantize;

    void add(const mpq::any_format& format, const input_tensor& t, const mpq::quantize_options& options) {
        mpq::visit_format(format, [&](const auto& f) {
            using tensor_type = mpq::quantized_tensor<std::decay_t<decltype(f)>>;
            auto q = std::make_shared<tensor_type>(f, t.rows, t.cols);
            auto out = std::make_shared<std::vector<float>>(t.values.size());
            quantize.push_back([q, values = t.values, options] { mpq::quantize(values, q->view(), options); });
            dequantize.push_back([q, out] { mpq::dequantize(*q, std::span<float>(*out)); });
        });
    }
};

/// The fastest of repeated passes over `ops` (seconds per pass): at least 3 passes and at
/// least `budget` seconds, after one warm-up pass. The minimum is the least disturbed by
/// other processes sharing the machine.
double best_pass(const std::vector<std::function<void()>>& ops, double budget) {
    using clock = std::chrono::steady_clock;
    for (const auto& op : ops) op();
    double best = INFINITY;
    const auto start = clock::now();
    for (int passes = 0; passes < 3 || std::chrono::duration<double>(clock::now() - start).count() < budget; ++passes) {
        const auto t0 = clock::now();
        for (const auto& op : ops) op();
        best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
    }
    return best;
}

/// memcpy bandwidth over `bytes` bytes: the same-run baseline the GB/s columns compare with.
double copy_gbps(std::size_t bytes, double budget) {
    std::vector<char> from(bytes, 1), to(bytes);
    const double s = best_pass({[&] { std::memcpy(to.data(), from.data(), bytes); }}, budget);
    return static_cast<double>(bytes) / s / 1e9;
}

std::string fixed(double v, int digits) {
    if (std::isnan(v)) return "-";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.{}f}", v, digits);
}

void write_csv(const std::string& path, const std::vector<result>& rows) {
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
    out << "tensor,format,block,elements_per_scale,elements,bits_per_weight,sqnr_db,mse,rmse,max_abs_error,"
           "max_rel_error,clipped_share,flushed_share,nan_outputs,quantize_gbps,dequantize_gbps,scale_exponents\n";
    for (const auto& r : rows) {
        out << fmt::format("{},{},{},{:.6g},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{},{},{}\n",
                           r.tensor, r.family, r.block, r.per_scale(), r.all_elements(), r.bits_per_weight(),
                           r.sqnr_db(), r.mse(), std::sqrt(r.mse()), r.max_abs, r.max_rel, r.share(r.clipped),
                           r.share(r.flushed), r.nan_outputs,
                           r.timed ? fmt::format("{:.4g}", r.gbps(r.quantize_seconds)) : "",
                           r.timed ? fmt::format("{:.4g}", r.gbps(r.dequantize_seconds)) : "", r.histogram());
    }
    if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

/// Two plots stacked in one SVG: SQNR against elements per scale (the block size) for each
/// format, and SQNR against bits per weight (the Pareto view).
void write_plot(const std::string& path, const std::string& source, const std::vector<result>& pooled) {
    namespace svg = mpq::cli::svg;
    svg::plot by_block, pareto;
    by_block.title = "SQNR against block size — " + source;
    by_block.x_label = "elements per scale (block size)";
    by_block.y_label = "SQNR (dB)";
    by_block.x_scale = svg::scale::log;
    pareto.title = "SQNR against storage (Pareto view) — " + source;
    pareto.x_label = "bits per weight (scales included)";
    pareto.y_label = "SQNR (dB)";
    std::vector<std::string> families;
    for (const auto& r : pooled)
        if (std::find(families.begin(), families.end(), r.family) == families.end()) families.push_back(r.family);
    for (const auto& family : families) {
        std::vector<std::pair<double, double>> block_points, pareto_points;
        for (const auto& r : pooled) {
            if (r.family != family || !std::isfinite(r.sqnr_db())) continue;
            block_points.push_back({r.per_scale(), r.sqnr_db()});
            pareto_points.push_back({r.bits_per_weight(), r.sqnr_db()});
        }
        std::sort(block_points.begin(), block_points.end());
        svg::series a{family, {}, {}, svg::mark::line_points, "", false};
        for (auto [x, y] : block_points) a.x.push_back(x), a.y.push_back(y);
        svg::series b{family, {}, {}, svg::mark::points, "", false};
        for (auto [x, y] : pareto_points) b.x.push_back(x), b.y.push_back(y);
        if (!a.x.empty()) by_block.series.push_back(std::move(a));
        if (!b.x.empty()) pareto.series.push_back(std::move(b));
    }
    if (by_block.series.empty()) throw usage_error("nothing to plot: every SQNR is infinite (exact formats)");
    std::string top = svg::render(by_block), bottom = svg::render(pareto);
    bottom.replace(bottom.find("<svg "), 5, fmt::format("<svg x=\"0\" y=\"{}\" ", by_block.height));
    std::ofstream out(path, std::ios::binary);
    if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
    out << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n", by_block.width,
                       by_block.height + pareto.height)
        << top << bottom << "</svg>\n";
    if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

int run(std::span<const std::string> args) {
    const mpq::cli::parsed_args parsed(
        args, {"tensor", "formats", "blocks", "csv", "plot", "synthetic", "size", "cols", "seed", "layout",
               "scale-mode", "time-ms"},
        {"all", "no-timing", "progress", "quiet"});
    if (parsed.positional().size() > 1)
        throw usage_error("unexpected argument '" + parsed.positional()[1] + "'");
    if (parsed.has("tensor") && parsed.flag("all")) throw usage_error("--tensor and --all exclude each other");
    if (parsed.has("synthetic") && !parsed.positional().empty())
        throw usage_error("give a FILE or --synthetic, not both");

    std::vector<sweep_config> configs;
    const auto blocks = parse_blocks(parsed.get_or("blocks", "16,32,64,128,256,512,row,tensor"));
    for (const auto& family : mpq::cli::split_list(parsed.get_or("formats", "mxint8,mxint4,mxfp8_e4m3,mxfp6_e2m3,mxfp4,nvfp4,int4"))) {
        check_family(family);
        if (family == "nvfp4") {
            configs.push_back({family, {block_spec::kind::size, 16, "16"}}); // its block is fixed
            continue;
        }
        for (const auto& b : blocks) configs.push_back({family, b});
    }
    if (configs.empty()) throw usage_error("--formats is empty");
    mpq::quantize_options options;
    if (auto mode = parsed.get("scale-mode"); mode && !mpq::parse_scale_mode(*mode, options.scale))
        throw usage_error("unknown --scale-mode '" + *mode + "' (floor, ceil, even, rceil)");
    const bool flat = [&] {
        const std::string layout = parsed.get_or("layout", "rows");
        if (layout != "rows" && layout != "flat") throw usage_error("unknown --layout '" + layout + "' (rows, flat)");
        return layout == "flat";
    }();
    const bool timing = !parsed.flag("no-timing");
    const double budget = static_cast<double>(parsed.integer_or("time-ms", 20, 1, 60000)) / 1000.0;

    // The source.
    mpq::io::tensor_set set;
    std::string source;
    if (auto spec = parsed.get("synthetic")) {
        const auto size = static_cast<std::size_t>(parsed.integer_or("size", 1 << 18, 1, std::int64_t{1} << 32));
        const auto cols = static_cast<std::size_t>(parsed.integer_or("cols", 4096, 1, std::int64_t{1} << 32));
        if (size % cols != 0)
            throw usage_error(fmt::format("--size {} is not a whole number of rows of --cols {}", size, cols));
        const auto seed = static_cast<std::uint64_t>(parsed.integer_or("seed", 1, 0));
        set.tensors.push_back({*spec, {size / cols, cols}, mpq::cli::sweep::synthetic(*spec, size, seed)});
        source = fmt::format("{} ({} x {}, seed {})", *spec, size / cols, cols, seed);
    } else if (!parsed.positional().empty()) {
        source = parsed.positional()[0];
        set = mpq::io::read_tensors_file(source);
    } else {
        set = mpq::cli::sweep::embedded_stories260K();
        source = "stories260K (embedded)";
    }
    if (set.tensors.empty()) throw usage_error("the source holds no tensors");

    // The tensors: named ones, every one (--all, per-tensor rows), or by default every matrix
    // pooled into one row per configuration (all tensors when none has two dimensions).
    std::vector<const mpq::io::tensor*> chosen;
    if (auto names = parsed.get("tensor")) {
        for (const auto& name : mpq::cli::split_list(*names)) {
            const auto* t = set.find(name);
            if (!t) {
                std::string known;
                for (std::size_t i = 0; i < set.tensors.size() && i < 8; ++i) known += (i ? ", " : "") + set.tensors[i].name;
                throw usage_error("no tensor '" + name + "' in " + source + " (it has " +
                                  std::to_string(set.tensors.size()) + ": " + known +
                                  (set.tensors.size() > 8 ? ", ...)" : ")"));
            }
            chosen.push_back(t);
        }
    } else {
        for (const auto& t : set.tensors)
            if (t.shape.size() >= 2) chosen.push_back(&t);
        if (chosen.empty())
            for (const auto& t : set.tensors) chosen.push_back(&t);
    }
    std::erase_if(chosen, [](const auto* t) { return t->size() == 0; });
    if (chosen.empty()) throw usage_error("every selected tensor is empty");
    const bool per_tensor = parsed.has("tensor") || parsed.flag("all");

    std::size_t total_elements = 0;
    for (const auto* t : chosen) total_elements += t->size();
    const bool progress = parsed.flag("progress") || (isatty(fileno(stderr)) && !parsed.flag("quiet"));
    const std::string pooled_name = chosen.size() == 1 ? chosen[0]->name : fmt::format("{} tensors", chosen.size());

    std::vector<result> rows, pooled;
    const std::size_t steps = configs.size() * chosen.size();
    std::size_t step = 0;
    const auto started = std::chrono::steady_clock::now();
    for (const auto& c : configs) {
        result all;
        all.tensor = pooled_name, all.family = c.family, all.block = c.block.label;
        timed_ops pass;
        all.timed = timing;
        for (const auto* t : chosen) {
            input_tensor in{t->name, t->size() / t->row_length(), t->row_length(), t->values};
            if (flat) in.rows = 1, in.cols = t->size();
            const mpq::any_format format = format_for(c, in);
            const auto analysis = mpq::mixed::analyze(format, in.values, in.rows, in.cols, mpq::block_axis::rows, options);
            result one;
            one.tensor = t->name, one.family = c.family, one.block = c.block.label;
            one.timed = timing;
            one.add(analysis, t->size());
            all.add(analysis, t->size());
            if (timing) {
                pass.add(format, in, options);
                if (per_tensor) {
                    timed_ops single;
                    single.add(format, in, options);
                    const double share = budget / static_cast<double>(chosen.size());
                    one.quantize_seconds = best_pass(single.quantize, share);
                    one.dequantize_seconds = best_pass(single.dequantize, share);
                }
            }
            if (per_tensor) rows.push_back(std::move(one));
            ++step;
            if (progress)
                fmt::print(stderr, "\rsweep: {}/{} {} @ {} on {} ({:.1f} s)        ", step, steps, c.family, c.block.label,
                           t->name, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        }
        if (timing) {
            all.quantize_seconds = best_pass(pass.quantize, budget);
            all.dequantize_seconds = best_pass(pass.dequantize, budget);
        }
        pooled.push_back(all);
        if (!per_tensor) rows.push_back(std::move(all));
    }
    if (progress) fmt::print(stderr, "\r{:80}\r", "");

    // The table.
    fmt::print("mpq sweep: {} — {} tensor{}, {} values, blocks along {}{}\n", source, chosen.size(),
               chosen.size() == 1 ? "" : "s", total_elements, flat ? "the flattened tensor" : "rows",
               timing ? "" : " (no timing)");
    fmt::print("{:<28} {:<11} {:>6} {:>8} {:>7} {:>8} {:>10} {:>9} {:>7} {:>7} {:>7} {:>7}\n", "tensor", "format",
               "block", "el/scale", "bits/w", "SQNR dB", "MSE", "max err", "clip %", "flush %", "Q GB/s", "DQ GB/s");
    for (const auto& r : rows) {
        fmt::print("{:<28} {:<11} {:>6} {:>8} {:>7} {:>8} {:>10.3e} {:>9.3g} {:>7} {:>7} {:>7} {:>7}\n", r.tensor, r.family,
                   r.block, fixed(r.per_scale(), 1), fixed(r.bits_per_weight(), 3), fixed(r.sqnr_db(), 2), r.mse(),
                   r.max_abs, fixed(100 * r.share(r.clipped), 3), fixed(100 * r.share(r.flushed), 3),
                   fixed(r.gbps(r.quantize_seconds), 3), fixed(r.gbps(r.dequantize_seconds), 3));
    }
    if (timing)
        fmt::print("baseline: memcpy of the same {:.2f} MB runs at {:.2f} GB/s here; Q GB/s counts float32 input "
                   "bytes, DQ GB/s float32 output bytes, through mpq::quantize / mpq::dequantize\n",
                   4e-6 * static_cast<double>(total_elements), copy_gbps(4 * total_elements, budget));
    if (!flat) {
        std::size_t widest = 0;
        for (const auto* t : chosen) widest = std::max(widest, t->row_length());
        const bool larger = std::any_of(configs.begin(), configs.end(), [&](const sweep_config& c) {
            return c.block.type == block_spec::kind::size && c.block.size > widest;
        });
        if (larger)
            fmt::print("note: rows hold at most {} values and blocks restart at every row, so larger blocks act as "
                       "one scale per row (see el/scale); --layout flat blocks the flattened tensor\n", widest);
    }
    if (auto path = parsed.get("csv")) write_csv(*path, rows);
    if (auto path = parsed.get("plot")) write_plot(*path, source, pooled);
    return 0;
}

const bool registered = mpq::cli::register_command(
    {"sweep",
     "sweep [FILE] [--tensor NAME[,NAME...]|--all] [--formats LIST] [--blocks LIST] [--csv OUT] [--plot OUT.svg] "
     "[--synthetic gaussian|laplace|student-t:NU|outliers:P [--size N] [--cols C] [--seed S]] [--layout rows|flat] "
     "[--scale-mode M] [--time-ms T] [--no-timing] [--progress]",
     "quantization error (SQNR, MSE, max error, clipping, underflow, scale exponents), bits/weight and "
     "quantize/dequantize GB/s of formats x block sizes on a model's tensors (default: embedded stories260K)",
     &run});

} // namespace
