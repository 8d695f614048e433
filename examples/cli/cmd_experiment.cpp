// mpq experiment: the mixed-quantization papers' experiment on the embedded stories260K model
// (see examples/llama/experiment.hpp): δ of the best random-search and guided-search plans
// per format, granularity, Qr and block size; fits of the weak law in Qr and of the strong
// law's block-size factor; CSV, SVG plots and tokens/s of float32 against the quantized paths.
#include "cli/args.hpp"
#include "cli/command.hpp"
#include "cli/svg_plot.hpp"

#include "llama/embedded.hpp"
#include "llama/eval.hpp"
#include "llama/experiment.hpp"
#include "llama/fake_quant.hpp"
#include "llama/gemm_linear.hpp"
#include "llama/model.hpp"
#include "llama/sampler.hpp"

#include <mpq/mixed/format_cost.hpp>
#include <mpq/mixed/search.hpp>

#include <fmt/core.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace ex = mpq::llama::experiment;
namespace mixed = mpq::mixed;
using mpq::llama::linear_factory;

/// What one run measures.
struct settings {
    std::string name;
    std::size_t sequences = 0, length = 0; ///< evaluation data: sampled sequences × tokens
    std::size_t trials = 0;                ///< random search trials per point
    std::size_t guided_budget = 0;         ///< guided search evaluations per point (at least components + 2)
    std::vector<ex::low_precision_setting> formats;
    std::vector<mixed::granularity> granularities;
    std::vector<double> qrs;               ///< the Qr sweep, at every format and granularity
    std::size_t qr_sweep_block = 32;       ///< Qb of the block granularity in the Qr sweep
    std::vector<std::size_t> qb_sweep;     ///< block sizes of the Qb sweep (scale and mixing block)
    std::vector<std::size_t> qb_formats;   ///< indices into formats swept over Qb (MX formats only)
    std::vector<double> qb_sweep_qrs;      ///< the Qr of the Qb sweep
    std::size_t speed_steps = 256, speed_repeats = 3;
};

/// The MX scale block: the Qb sweep's contexts at this block are the Qr sweep's own.
constexpr std::size_t mx_block = 32;

const std::vector<ex::low_precision_setting> paper_formats = {{"mxint4", true}, {"mxfp4", false}, {"nvfp4", false}};
const std::vector<mixed::granularity> all_granularities = {mixed::granularity::layer, mixed::granularity::matmul,
                                                           mixed::granularity::block};

settings full_settings() {
    return {"default", 32, 128, 50, 50, paper_formats, all_granularities,
            {0, 0.25, 0.5, 0.75, 0.9, 0.95, 1}, 32, {16, 32, 64, 128, 256}, {0, 1}, {0.5, 0.9, 0.95}, 256, 3};
}
settings quick_settings() {
    return {"quick", 12, 64, 6, 40, paper_formats, all_granularities, {0, 0.5, 0.9, 1}, 32, {16, 64}, {0, 1}, {0.9}, 64, 2};
}
/// For the sanitizer build of CI: every code path, tiny sizes.
settings smoke_settings() {
    return {"smoke", 3, 16, 3, 37, {{"mxint4", true}}, {mixed::granularity::layer, mixed::granularity::block},
            {0.5, 1}, 256, {128, 256}, {0}, {0.5}, 8, 1};
}

/// One measured point.
struct row {
    std::string sweep;  ///< "qr" or "qb"
    std::string format; ///< setting label of the format family ("mxint4 W+A")
    std::string low_format; ///< the low format itself, with its block ("mxint4@16")
    std::string granularity;
    std::size_t qb = 0; ///< block granularity only (0 otherwise)
    std::string search; ///< "random" or "guided"
    double target_qr = 0, achieved_qr = 0, bits_per_weight = 0;
    mpq::llama::evaluation_result result;
    std::size_t evaluations = 0; ///< loss evaluations the search asked for (cache hits included)
};

class progress_bar {
public:
    explicit progress_bar(std::size_t total) : total_(total), start_(std::chrono::steady_clock::now()) {}
    void step(std::size_t evaluations, const std::string& what) {
        ++done_;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const std::size_t width = 30, filled = total_ ? width * done_ / total_ : width;
        fmt::print(stderr, "\r[{}{}] {}/{} searches, {} model evaluations, {:.0f} s  {:<34}",
                   std::string(filled, '#'), std::string(width - filled, ' '), done_, total_, evaluations, seconds,
                   what.substr(0, 34));
        if (done_ == total_) fmt::print(stderr, "\n");
        std::fflush(stderr);
    }

private:
    std::size_t total_, done_ = 0;
    std::chrono::steady_clock::time_point start_;
};

/// Everything the searches of one format share: its round trips and the matmul-wise probes
/// that give block components their guided-search proxy.
struct format_context {
    std::string family; ///< label of the format without a block size ("mxint4 W+A")
    ex::round_trips trips;
    mixed::format_choice low; ///< the plan entry of the low format ("mxint4@16", bits per weight)
    std::vector<double> matmul_sensitivity; ///< filled on first use
};

class runner {
public:
    runner(const mpq::llama::checkpoint& ck, const mpq::llama::transformer& reference,
           const mpq::llama::evaluator& eval, const settings& s)
        : ck_(ck), reference_(reference), s_(s), scorer_(ck, eval), high_(mixed::plain_float_choice("bf16")),
          bar_(count_searches(s)) {}

    /// The best random and guided plans at one point.
    void point(format_context& f, mixed::granularity g, std::size_t qb, double qr, const std::string& sweep) {
        const mixed::model_desc desc = mpq::llama::describe(reference_, g == mixed::granularity::block ? qb : 0);
        const mixed::format_choice& low = f.low;
        const auto loss = scorer_.loss(f.trips);
        const std::string gname(mixed::to_string(g));
        const std::size_t qb_column = g == mixed::granularity::block ? qb : 0;

        mixed::search_options ro;
        ro.target_qr = qr;
        ro.trials = s_.trials;
        ro.seed = 1000 * static_cast<std::uint64_t>(qr * 100 + 0.5) + qb;
        const auto random = mixed::random_search(desc, g, high_, low, loss, ro);
        record(f, sweep, gname, qb_column, "random", qr, random);
        bar_.step(scorer_.evaluations(), f.trips.setting().label() + " " + gname + " Qr " + fmt::format("{}", qr));

        const auto comps = mixed::components(desc, g);
        mixed::guided_options go;
        go.target_qr = qr;
        std::vector<double> proxy;
        if (g == mixed::granularity::block) {
            // Greedy allocation by the proxy only: the library's swap refinement lists every
            // (low, high) pair of components, quadratic in thousands of blocks.
            proxy = block_proxy(f, comps);
            go.budget = 1;
        } else {
            go.budget = std::max(s_.guided_budget, comps.size() + 2);
        }
        const auto guided = mixed::guided_search(desc, g, high_, low, loss, go, proxy);
        record(f, sweep, gname, qb_column, "guided", qr, guided.search);
        bar_.step(scorer_.evaluations(), f.trips.setting().label() + " " + gname + " Qr " + fmt::format("{}", qr) + " guided");
    }

    std::vector<row> rows;
    std::size_t evaluations() const { return scorer_.evaluations(); }

    static std::size_t count_searches(const settings& s) {
        return 2 * (s.formats.size() * s.granularities.size() * s.qrs.size() +
                    s.qb_formats.size() * s.qb_sweep.size() * s.qb_sweep_qrs.size());
    }

private:
    /// Block components' guided proxy: each matmul's measured sensitivity (matmul-wise probes,
    /// shared with the matmul-wise guided search through the scorer's cache) split over its
    /// blocks by squared rounding error.
    std::vector<double> block_proxy(format_context& f, const std::vector<mixed::component>& blocks) {
        const mixed::model_desc matmul_desc = mpq::llama::describe(reference_, 0);
        const auto matmuls = mixed::components(matmul_desc, mixed::granularity::matmul);
        if (f.matmul_sensitivity.empty()) {
            auto plan = mixed::uniform_plan(matmul_desc, mixed::granularity::matmul, {high_, f.low}, 0);
            const double base = scorer_.score(f.trips, plan).cross_entropy;
            for (std::size_t i = 0; i < matmuls.size(); ++i) {
                plan.assignment.assign(matmuls.size(), 0);
                plan.assignment[i] = 1;
                f.matmul_sensitivity.push_back(scorer_.score(f.trips, plan).cross_entropy - base);
            }
        }
        return ex::block_proxy(matmuls, f.matmul_sensitivity, f.trips.squared_error(matmuls), blocks,
                               f.trips.squared_error(blocks));
    }

    void record(format_context& f, const std::string& sweep, const std::string& g, std::size_t qb,
                const std::string& search, double qr, const mixed::search_result& r) {
        row x;
        x.sweep = sweep;
        x.format = f.family;
        x.low_format = f.trips.setting().format;
        x.granularity = g;
        x.qb = qb;
        x.search = search;
        x.target_qr = qr;
        x.achieved_qr = r.achieved_qr;
        x.bits_per_weight = mixed::summarize(r.best).bits_per_weight;
        x.result = scorer_.score(f.trips, r.best);
        x.evaluations = std::max(r.loss_evaluations, r.trials.size());
        rows.push_back(x);
    }

    const mpq::llama::checkpoint& ck_;
    const mpq::llama::transformer& reference_;
    const settings& s_;
    ex::plan_scorer scorer_;
    mixed::format_choice high_;
    progress_bar bar_;
};

/// Decoding speed (greedy from BOS, one thread): the best of `repeats` runs of `steps` tokens.
double tokens_per_second(const mpq::llama::checkpoint& ck, const linear_factory& factory, std::size_t steps,
                         std::size_t repeats) {
    const mpq::llama::transformer model(ck, factory);
    mpq::llama::inference_state state(model.cfg(), steps);
    double best = 0;
    mpq::llama::sampler warm_up(0.0f);
    mpq::llama::generate(model, state, warm_up, steps, /*stop_at_bos=*/false); // caches, page faults
    for (std::size_t r = 0; r < repeats; ++r) {
        mpq::llama::sampler greedy(0.0f);
        const auto start = std::chrono::steady_clock::now();
        const auto tokens = mpq::llama::generate(model, state, greedy, steps, /*stop_at_bos=*/false);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, static_cast<double>(tokens.size()) / seconds);
    }
    return best;
}

/// A block-wise MXINT4/BF16 plan at Qr 0.9 in tiles of 16 whole rows (what the GEMM stores):
/// one random draw of the paper's search, for the speed comparison only.
mixed::precision_plan gemm_blockwise_plan(const mpq::llama::transformer& model) {
    mixed::model_desc desc;
    for (const auto& site : model.sites()) {
        if (site.role == mpq::llama::linear_role::classifier) continue;
        const auto [layer, matmul] = mpq::llama::plan_names(site);
        if (desc.layers.empty() || desc.layers.back().name != layer) desc.layers.push_back({layer, {}});
        desc.layers.back().matmuls.push_back(mixed::make_matmul(matmul, site.rows * site.cols, 16 * site.cols));
    }
    mixed::search_options o;
    o.target_qr = 0.9;
    o.trials = 1;
    o.seed = 9;
    return mixed::random_search(desc, mixed::granularity::block, mixed::plain_float_choice("bf16"),
                                mixed::format_choice_of("mxint4", 0, true),
                                [](const mixed::precision_plan&) { return 0.0; }, o)
        .best;
}

std::string file_name(std::string text) {
    for (char& c : text)
        if (c == ' ' || c == '+' || c == '/') c = '_';
    return text;
}

/// δ for plotting on a log axis: non-positive values are left out of the plot (not the CSV).
std::vector<double> plotted(const std::vector<double>& delta) {
    std::vector<double> out;
    for (double d : delta) out.push_back(d > 0 ? d : std::nan(""));
    return out;
}

void print_fit(const std::string& what, const ex::law_result& f) {
    fmt::print("  {:<34}", what);
    if (f.values.empty()) {
        fmt::print(" no fit: {}\n", f.note);
        return;
    }
    for (std::size_t i = 0; i < f.values.size(); ++i)
        fmt::print(" {}={:.4g}{}", f.names[i], f.values[i], i < f.at_bound.size() && f.at_bound[i] ? "(bound)" : "");
    fmt::print("  R2(log)={:.3f} R2={:.3f} n={}{}{}\n", f.r_squared_log, f.r_squared, f.points,
               f.converged ? "" : " NOT CONVERGED", f.note.empty() ? "" : "  (" + f.note + ")");
}

int run(std::span<const std::string> args) {
    const mpq::cli::parsed_args parsed(args, {"csv", "plot-dir", "sequences", "length", "trials", "threads"},
                                       {"quick", "smoke", "no-speed"});
    if (!parsed.positional().empty())
        throw mpq::cli::usage_error("unexpected argument '" + parsed.positional()[0] + "'");
    if (parsed.flag("quick") && parsed.flag("smoke")) throw mpq::cli::usage_error("--quick and --smoke exclude each other");
    settings s = parsed.flag("smoke") ? smoke_settings() : parsed.flag("quick") ? quick_settings() : full_settings();
    const auto wall_start = std::chrono::steady_clock::now();
    const mpq::llama::checkpoint ck = mpq::llama::embedded_stories260K();
    s.sequences = static_cast<std::size_t>(parsed.integer_or("sequences", static_cast<std::int64_t>(s.sequences), 1, 100000));
    s.length = static_cast<std::size_t>(
        parsed.integer_or("length", static_cast<std::int64_t>(s.length), 2, static_cast<std::int64_t>(ck.cfg.seq_len)));
    s.trials = static_cast<std::size_t>(parsed.integer_or("trials", static_cast<std::int64_t>(s.trials), 1, 100000));
    const auto threads = static_cast<std::size_t>(parsed.integer_or("threads", 0, 0, 256));

    const mpq::llama::transformer reference(ck);
    mpq::llama::evaluation_options eo;
    eo.sequences = s.sequences;
    eo.length = s.length;
    eo.threads = threads;
    const mpq::llama::evaluator eval(reference, eo);
    fmt::print("mpq experiment ({} settings): stories260K, evaluation data = {} sequences x {} tokens sampled from "
               "the float32 model itself (temperature 1, seed {}), i.e. the model's own distribution\n",
               s.name, s.sequences, s.length, eo.seed);
    fmt::print("float32 cross-entropy {:.4f} nats/token; plans emulated (BF16 high side; block-wise, Qb weights "
               "along a row share one precision and, for MX formats, one scale); random search {} trials, guided "
               "search budget {} (at least components + 2; block-wise: greedy by proxy, no refinement)\n",
               eval.reference_cross_entropy(), s.trials, s.guided_budget);
    fmt::print("Qr sweep: Qr in {{{}}} at every format and granularity (block: Qb {}); Qb sweep: Qb in {{{}}} at Qr "
               "{{{}}}, block-wise, for {}\n",
               fmt::join(s.qrs, ", "), s.qr_sweep_block, fmt::join(s.qb_sweep, ", "), fmt::join(s.qb_sweep_qrs, ", "),
               [&] {
                   std::string t;
                   for (std::size_t i : s.qb_formats) t += (t.empty() ? "" : ", ") + s.formats[i].label();
                   return t;
               }());

    std::list<format_context> contexts; // stable addresses: the scorer's cache keys on them
    std::vector<format_context*> base;
    auto make_context = [&](const std::string& family, const ex::low_precision_setting& low) -> format_context& {
        const auto q = mpq::llama::quantizer_for(low.format);
        return contexts.emplace_back(
            format_context{family, ex::round_trips(ck, low), mixed::format_choice_of(*q.block_format, true), {}});
    };
    for (const auto& f : s.formats) base.push_back(&make_context(f.label(), f));
    // The Qb sweep's low format has scale blocks of Qb (the base format's own block, 32 for
    // MX, is the Qr sweep's context and shares its cache).
    auto sweep_context = [&](std::size_t i, std::size_t qb) -> format_context& {
        if (qb == mx_block) return *base.at(i);
        ex::low_precision_setting low = s.formats.at(i);
        low.format += "@" + std::to_string(qb);
        for (auto& c : contexts)
            if (c.trips.setting().format == low.format && c.family == s.formats[i].label()) return c;
        return make_context(s.formats[i].label(), low);
    };
    runner go(ck, reference, eval, s);
    for (auto* f : base)
        for (auto g : s.granularities)
            for (double qr : s.qrs) go.point(*f, g, s.qr_sweep_block, qr, "qr");
    for (std::size_t i : s.qb_formats)
        for (double qr : s.qb_sweep_qrs)
            for (std::size_t qb : s.qb_sweep) go.point(sweep_context(i, qb), mixed::granularity::block, qb, qr, "qb");
    const double search_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    // The table.
    fmt::print("\n{:<5} {:<11} {:<7} {:>4} {:<7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>6} {:>5}\n", "sweep", "format",
               "gran", "Qb", "search", "Qr*", "Qr", "bits/w", "CE", "delta", "KL", "top1", "evals");
    for (const row& r : go.rows)
        fmt::print("{:<5} {:<11} {:<7} {:>4} {:<7} {:>6.2f} {:>6.3f} {:>6.2f} {:>8.4f} {:>8.4f} {:>8.4f} {:>6.3f} {:>5}\n",
                   r.sweep, r.format, r.granularity, r.qb ? std::to_string(r.qb) : "-", r.search, r.target_qr,
                   r.achieved_qr, r.bits_per_weight, r.result.cross_entropy, r.result.delta, r.result.kl_divergence,
                   r.result.top1_agreement, r.evaluations);

    // Fits: the weak law in Qr per format, granularity and search (achieved Qr > 0), and the
    // block-size factor per format and search.
    fmt::print("\nweak law at one size, delta = C*exp(A*Qr), fitted on log delta over the points with Qr > 0:\n");
    const std::vector<double> budgets = {0.05, 0.1};
    std::map<std::string, std::map<std::string, std::vector<double>>> qr_at_budget; // format -> granularity -> Qr per budget
    for (const auto& f : s.formats)
        for (auto g : s.granularities)
            for (std::string search : {"random", "guided"}) {
                std::vector<double> qr, delta;
                for (const row& r : go.rows)
                    if (r.sweep == "qr" && r.format == f.label() && r.granularity == mixed::to_string(g) &&
                        r.search == search && r.achieved_qr > 0) {
                        qr.push_back(r.achieved_qr);
                        delta.push_back(r.result.delta);
                    }
                const auto fit = ex::fit_weak_in_qr(qr, delta);
                print_fit(f.label() + " " + std::string(mixed::to_string(g)) + " " + search, fit);
                if (search == "random")
                    for (double b : budgets)
                        qr_at_budget[f.label()][std::string(mixed::to_string(g))].push_back(ex::max_ratio(fit, b));
            }
    fmt::print("largest Qr with delta <= {{{}}} nats by the random-search fits (finer granularity should admit "
               "more):\n",
               fmt::join(budgets, ", "));
    for (const auto& [format, by_g] : qr_at_budget) {
        fmt::print("  {:<11}", format);
        for (const auto& [g, q] : by_g) fmt::print(" {}={:.3f}", g, fmt::join(q, "/"));
        fmt::print("\n");
    }
    fmt::print("block size (block-wise, Qb = scale and mixing block), per Qr: the papers' power law delta = "
               "A*Qb^k, and the strong law's factor delta = C*(Qb + d)^gamma_c:\n");
    for (std::size_t i : s.qb_formats)
        for (double qr : s.qb_sweep_qrs)
            for (std::string search : {"random", "guided"}) {
                std::vector<double> qb, delta;
                for (const row& r : go.rows)
                    if (r.sweep == "qb" && r.format == s.formats[i].label() && r.search == search &&
                        r.target_qr == qr) {
                        qb.push_back(static_cast<double>(r.qb));
                        delta.push_back(r.result.delta);
                    }
                const std::string what = fmt::format("{} Qr {} {}", s.formats[i].label(), qr, search);
                print_fit(what, ex::fit_power_in_qb(qb, delta));
                print_fit(what, ex::fit_block_factor(qb, delta));
            }

    if (auto path = parsed.get("csv")) {
        std::ofstream out(*path);
        if (!out) throw mpq::cli::usage_error("cannot write CSV '" + *path + "'");
        out << "sweep,format,granularity,qb,search,target_qr,achieved_qr,bits_per_weight,cross_entropy,"
               "reference_cross_entropy,delta,kl,top1,search_evaluations,sequences,length,low_format\n";
        for (const row& r : go.rows)
            out << fmt::format("{},{},{},{},{},{},{:.6f},{:.4f},{:.6f},{:.6f},{:.6f},{:.6f},{:.5f},{},{},{},{}\n",
                               r.sweep, r.format, r.granularity, r.qb, r.search, r.target_qr, r.achieved_qr,
                               r.bits_per_weight, r.result.cross_entropy, r.result.reference_cross_entropy,
                               r.result.delta, r.result.kl_divergence, r.result.top1_agreement, r.evaluations,
                               s.sequences, s.length, r.low_format);
        if (!out) throw mpq::cli::usage_error("cannot write CSV '" + *path + "'");
        fmt::print("wrote {} rows to {}\n", go.rows.size(), *path);
    }

    if (auto dir = parsed.get("plot-dir")) {
        std::error_code ec;
        std::filesystem::create_directories(*dir, ec);
        if (ec) throw mpq::cli::usage_error("cannot create plot directory '" + *dir + "': " + ec.message());
        for (const auto& f : s.formats) {
            namespace svg = mpq::cli::svg;
            svg::plot p{"stories260K, " + f.label() + "/BF16: delta vs Qr (solid: random search, dashed: guided)",
                        "Qr (achieved)", "delta = CE_q - CE_fp32 (nats)", svg::scale::linear, svg::scale::log, {}};
            std::size_t color = 0;
            for (auto g : s.granularities) {
                for (std::string search : {"random", "guided"}) {
                    svg::series line;
                    line.label = std::string(mixed::to_string(g)) + " " + search;
                    std::vector<double> delta;
                    for (const row& r : go.rows)
                        if (r.sweep == "qr" && r.format == f.label() && r.granularity == mixed::to_string(g) &&
                            r.search == search) {
                            line.x.push_back(r.achieved_qr);
                            delta.push_back(r.result.delta);
                        }
                    line.y = plotted(delta);
                    line.style = svg::mark::line_points;
                    line.dashed = search == "guided";
                    line.color = std::string(svg::detail::palette(color));
                    p.series.push_back(line);
                }
                ++color;
            }
            const std::string path = *dir + "/delta_vs_qr_" + file_name(f.label()) + ".svg";
            svg::write_file(p, path);
            fmt::print("wrote {}\n", path);
        }
        for (std::size_t i : s.qb_formats) {
            namespace svg = mpq::cli::svg;
            const std::string family = s.formats[i].label();
            svg::plot p{"stories260K, " + family + "/BF16 block-wise: delta vs block size Qb (solid: random, dashed: guided)",
                        "Qb (weights per scale and mixing block)", "delta (nats)", svg::scale::log, svg::scale::log, {}};
            std::size_t color = 0;
            for (double qr : s.qb_sweep_qrs) {
                for (std::string search : {"random", "guided"}) {
                    svg::series line;
                    line.label = fmt::format("Qr {} {}", qr, search);
                    std::vector<double> delta;
                    for (const row& r : go.rows)
                        if (r.sweep == "qb" && r.format == family && r.search == search && r.target_qr == qr) {
                            line.x.push_back(static_cast<double>(r.qb));
                            delta.push_back(r.result.delta);
                        }
                    line.y = plotted(delta);
                    line.style = svg::mark::line_points;
                    line.dashed = search == "guided";
                    line.color = std::string(svg::detail::palette(color));
                    p.series.push_back(line);
                }
                ++color;
            }
            const std::string path = *dir + "/delta_vs_qb_" + file_name(family) + ".svg";
            svg::write_file(p, path);
            fmt::print("wrote {}\n", path);
        }
    }
    fmt::print("searches: {:.1f} s wall, {} model evaluations\n", search_seconds, go.evaluations());

    if (!parsed.flag("no-speed")) {
        // Decoding speed of every path in the same run (one thread, greedy, best of repeats).
        const std::size_t steps = s.speed_steps, reps = s.speed_repeats;
        const ex::round_trips mxint4_trips(ck, {"mxint4", true});
        const auto uniform_low = mixed::uniform_plan(mpq::llama::describe(reference), mixed::granularity::matmul,
                                                     {mixed::plain_float_choice("bf16"),
                                                      mixed::format_choice_of("mxint4", 0, true)},
                                                     1);
        const auto blockwise = gemm_blockwise_plan(reference);
        const double f32 = tokens_per_second(ck, mpq::llama::make_float32_linear, steps, reps);
        struct path {
            std::string name;
            linear_factory factory;
        };
        const std::vector<path> paths = {
            {"GEMM MXINT4 weights", mpq::llama::gemm_uniform_factory(mpq::weight_format::mxint4)},
            {"GEMM MXINT4 weights+activations",
             mpq::llama::gemm_uniform_factory(mpq::weight_format::mxint4, mpq::activation_format::mxint4)},
            {fmt::format("GEMM block-wise MXINT4/BF16 Qr {:.3f} (16-row tiles)", mixed::summarize(blockwise).qr),
             mpq::llama::gemm_plan_factory(blockwise)},
            {"emulation MXINT4 W+A (what the searches run)", mxint4_trips.factory(uniform_low)},
        };
        fmt::print("\ndecode speed, {} greedy tokens from BOS, one thread, best of {}:\n", steps, reps);
        fmt::print("  {:<52} {:>9.0f} tokens/s (baseline)\n", "float32", f32);
        for (const auto& p : paths) {
            const double t = tokens_per_second(ck, p.factory, steps, reps);
            fmt::print("  {:<52} {:>9.0f} tokens/s ({:.2f}x float32)\n", p.name, t, t / f32);
        }
    }
    fmt::print("total {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());
    return 0;
}

const bool registered = mpq::cli::register_command(
    {"experiment", "experiment [--quick|--smoke] [--csv FILE] [--plot-dir DIR] [--sequences N] [--length N] [--trials N]",
     "the mixed-quantization experiment on stories260K: delta vs Qr, granularity and block size, law fits, speed",
     &run});

} // namespace
