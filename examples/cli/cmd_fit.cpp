// mpq fit: fits the mixed-quantization scaling laws (weak, strong, exp, power, kumar) to the
// embedded digitized data of Cao et al. or to a CSV file; prints parameters ± SE, 95 % intervals,
// R² and status as a table or JSON, and draws an SVG plot of data and fitted curves.
#include "cli/args.hpp"
#include "cli/command.hpp"
#include "cli/fit_data.hpp"
#include "cli/svg_plot.hpp"

#include <mpq/fit/laws.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" const unsigned char mpq_cao2024_csv_begin[], mpq_cao2024_csv_end[];

namespace {
using namespace mpq::cli;
namespace laws = mpq::fit::laws;

/// One fitted group, ready to print, serialise and plot.
struct record {
    std::string law, group, note;
    std::size_t points = 0;
    std::vector<std::string> names;
    std::vector<double> value, se, lo, hi;
    double r2 = 0, r2_linear = 0, rmse = 0;
    bool success = false, covariance = false;
    std::string status, covariance_note;
    std::size_t input_count = 0;
    std::vector<double> x, y; // the data (inputs row-major, response)
    std::function<double(std::span<const double>)> predict;
};

template <class Law>
record fit_group(const std::string& group, std::vector<double> x, std::vector<double> y) {
    const auto f = laws::fit_law<Law>(x, y);
    record r;
    r.law = std::string(Law::name);
    r.group = group;
    r.points = y.size();
    for (std::size_t j = 0; j < Law::parameter_count; ++j) {
        r.names.emplace_back(Law::parameter_names[j]);
        r.value.push_back(f.fit.parameters[j]);
        r.se.push_back(f.fit.stats.standard_error[j]);
        r.lo.push_back(f.fit.stats.ci_lower[j]);
        r.hi.push_back(f.fit.stats.ci_upper[j]);
    }
    r.r2 = f.fit.stats.r_squared;
    r.r2_linear = f.r_squared_linear;
    r.rmse = f.fit.stats.rmse;
    r.success = f.fit.success();
    r.status = std::string(mpq::fit::to_string(f.fit.solve.stop));
    r.covariance = f.fit.stats.covariance_available;
    r.covariance_note = f.fit.stats.covariance_note;
    r.input_count = Law::input_count;
    r.x = std::move(x);
    r.y = std::move(y);
    r.predict = [f](std::span<const double> in) { return f.predict(in); };
    return r;
}

std::string fmt_num(double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.5g}", v); }

void print_table(const std::vector<record>& records) {
    for (const auto& r : records) {
        fmt::print("{} law, {} ({} points)\n", r.law, r.group, r.points);
        fmt::print("  {:<11} {:>12} {:>11} {:>25}\n", "parameter", "value", "SE", "95% interval");
        for (std::size_t j = 0; j < r.names.size(); ++j)
            fmt::print("  {:<11} {:>12} {:>11} {:>25}\n", r.names[j], fmt_num(r.value[j]), fmt_num(r.se[j]),
                       std::isnan(r.lo[j]) ? std::string("n/a")
                                           : fmt::format("[{}, {}]", fmt_num(r.lo[j]), fmt_num(r.hi[j])));
        fmt::print("  R2(log) {:.4f}  R2(linear) {:.4f}  RMSE(log) {:.4g}  status: {}\n", r.r2, r.r2_linear, r.rmse,
                   r.status);
        if (!r.covariance) fmt::print("  covariance unavailable: {}\n", r.covariance_note);
        if (!r.note.empty()) fmt::print("  {}\n", r.note);
        fmt::print("\n");
    }
}

nlohmann::json to_json(const std::vector<record>& records, const std::vector<std::string>& dropped) {
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records) {
        nlohmann::json params = nlohmann::json::object();
        for (std::size_t j = 0; j < r.names.size(); ++j)
            params[r.names[j]] = {{"value", num(r.value[j])}, {"se", num(r.se[j])},
                                  {"ci95", {num(r.lo[j]), num(r.hi[j])}}};
        out.push_back({{"law", r.law}, {"group", r.group}, {"points", r.points}, {"parameters", params},
                       {"r_squared_log", num(r.r2)}, {"r_squared_linear", num(r.r2_linear)}, {"rmse_log", num(r.rmse)},
                       {"status", r.status}, {"success", r.success}, {"covariance_available", r.covariance},
                       {"covariance_note", r.covariance_note}, {"note", r.note}});
    }
    return {{"fits", out}, {"dropped_points", dropped}};
}

/// Data and fitted values against the "N"-like input (or the first), one series per
/// combination of the other inputs, on log axes.
void plot_records(const std::vector<record>& records, const std::string& path, const std::string& x_name,
                  const std::vector<std::string>& input_names, const std::string& y_name) {
    const record& r = records.front();
    if (r.law == "exp" && records.size() > 1) { // one data series and fitted line per budget/method
        svg::plot p;
        p.title = "exp law N = e^(k(1-Qr_max)+c): fits per loss budget";
        p.x_label = "Qr_max (largest quantization ratio within the budget)";
        p.y_label = "N (billions of parameters)";
        p.y_scale = svg::scale::log;
        for (std::size_t k = 0; k < records.size(); ++k) {
            const auto& rec = records[k];
            const std::string color(svg::detail::palette(k));
            svg::series data{.label = rec.group, .x = rec.x, .y = rec.y, .style = svg::mark::points, .color = color};
            svg::series fit{.label = "", .style = svg::mark::line, .color = color, .dashed = true};
            for (double q = 0.45; q <= 1.0001; q += 0.01) {
                const std::array<double, 1> in = {q};
                fit.x.push_back(q);
                fit.y.push_back(rec.predict(in));
            }
            p.series.push_back(std::move(data));
            p.series.push_back(std::move(fit));
        }
        p.series.push_back({.label = "fits (dashed)", .style = svg::mark::line, .color = "#555", .dashed = true});
        svg::write_file(p, path);
        return;
    }
    svg::plot p;
    p.title = r.law + " law: " + r.group + (records.size() > 1 ? " (first of " + std::to_string(records.size()) + " fits)" : "");
    std::size_t xi = 0;
    for (std::size_t k = 0; k < input_names.size(); ++k)
        if (input_names[k] == x_name) xi = k;
    p.x_label = input_names[xi] == "N" ? "N (billions of parameters)" : input_names[xi];
    p.y_label = y_name;
    p.x_scale = (input_names[xi] == "Qr" || input_names[xi] == "Qr_max" || input_names[xi] == "P") ? svg::scale::linear
                                                                                                    : svg::scale::log;
    p.y_scale = svg::scale::log;
    std::map<std::string, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < r.points; ++i) {
        std::string key;
        for (std::size_t k = 0; k < r.input_count; ++k)
            if (k != xi && input_names[k] != "Qb") key += (key.empty() ? "" : ", ") + input_names[k] + "=" + fmt::format("{:g}", r.x[i * r.input_count + k]);
        groups[key].push_back(i);
    }
    std::size_t color = 0;
    for (auto& [key, idx] : groups) {
        std::sort(idx.begin(), idx.end(), [&](auto a, auto b) {
            return r.x[a * r.input_count + xi] < r.x[b * r.input_count + xi];
        });
        svg::series data{.label = key.empty() ? "data" : key, .style = svg::mark::points,
                         .color = std::string(svg::detail::palette(color))};
        svg::series fit{.label = "", .style = svg::mark::line, .color = data.color, .dashed = true};
        for (auto i : idx) {
            const std::span<const double> in(r.x.data() + i * r.input_count, r.input_count);
            data.x.push_back(in[xi]);
            data.y.push_back(r.y[i]);
            fit.x.push_back(in[xi]);
            fit.y.push_back(r.predict(in));
        }
        p.series.push_back(std::move(data));
        p.series.push_back(std::move(fit));
        ++color;
    }
    p.series.push_back({.label = "fitted law (dashed)", .style = svg::mark::line, .color = "#555", .dashed = true});
    svg::write_file(p, path);
}

/// The paper's published Law-1 fits (cao2024v1_exp_fits.csv: Sec. 4.2 p. 7, Fig. 6).
struct published_exp {
    double budget, k, c;
};
constexpr published_exp paper_exp_fits[] = {{5, -11.68, 4.83}, {10, -11.27, 3.35}, {20, -12.84, 1.86}};

template <class Law>
std::vector<record> fit_csv(const fitdata::table& t, const std::vector<std::size_t>& rows,
                            const std::vector<std::string>& x_cols, const std::string& y_col) {
    if (x_cols.size() != Law::input_count) {
        std::string names;
        for (auto n : Law::input_names) names += (names.empty() ? "" : ",") + std::string(n);
        throw usage_error("--law " + std::string(Law::name) + " needs --x with " + std::to_string(Law::input_count) +
                          " column(s), in the order " + names);
    }
    std::vector<std::size_t> xc;
    for (const auto& c : x_cols) xc.push_back(t.column(c));
    const std::size_t yc = t.column(y_col);
    std::vector<double> x, y;
    for (auto r : rows) {
        for (auto c : xc) x.push_back(t.number(r, c));
        y.push_back(t.number(r, yc));
    }
    if (y.size() < Law::parameter_count)
        throw usage_error(t.source + ": " + std::to_string(y.size()) + " points for the " +
                          std::to_string(Law::parameter_count) + " parameters of the " + std::string(Law::name) + " law");
    try {
        return {fit_group<Law>(t.source, std::move(x), std::move(y))};
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
}

int run(std::span<const std::string> args) {
    const parsed_args a(args, {"law", "csv", "x", "y", "filter", "plot", "budgets"}, {"json"});
    if (!a.positional().empty()) throw usage_error("unexpected argument '" + a.positional().front() + "'");
    const std::string law = a.require("law");
    static const std::set<std::string> known = {"weak", "strong", "exp", "power", "kumar"};
    if (!known.contains(law)) throw usage_error("unknown --law '" + law + "' (weak, strong, exp, power, kumar)");

    std::vector<record> records;
    std::vector<std::string> dropped, input_names;
    std::string x_name, y_name;
    if (auto csv = a.get("csv")) {
        std::ifstream file(*csv, std::ios::binary);
        if (!file) throw usage_error("cannot open '" + *csv + "'");
        std::ostringstream text;
        text << file.rdbuf();
        const auto t = fitdata::parse_csv(text.str(), *csv);
        const auto rows = a.has("filter") ? fitdata::filter_rows(t, *a.get("filter")) : [&] {
            std::vector<std::size_t> all(t.rows.size());
            for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
            return all;
        }();
        const auto x_cols = split_list(a.require("x"));
        y_name = a.require("y");
        input_names = x_cols;
        if (law == "weak") records = fit_csv<laws::weak>(t, rows, x_cols, y_name);
        else if (law == "strong") records = fit_csv<laws::strong>(t, rows, x_cols, y_name);
        else if (law == "exp") records = fit_csv<laws::exponential>(t, rows, x_cols, y_name);
        else if (law == "power") records = fit_csv<laws::power>(t, rows, x_cols, y_name);
        else records = fit_csv<laws::kumar>(t, rows, x_cols, y_name);
        x_name = x_cols.size() > 1 ? x_cols[1] : x_cols[0];
    } else {
        if (a.has("x") || a.has("y")) throw usage_error("--x and --y need --csv (the embedded data has fixed columns)");
        if (law == "power" || law == "kumar")
            throw usage_error("the embedded data (Cao et al. Figs. 9-18) has no " +
                              std::string(law == "power" ? "block-size sweep" : "training-token or precision sweep") +
                              " for the " + law + " law; give --csv FILE --x COLS --y COL");
        const std::string_view text(reinterpret_cast<const char*>(mpq_cao2024_csv_begin),
                                    static_cast<std::size_t>(mpq_cao2024_csv_end - mpq_cao2024_csv_begin));
        const auto t = fitdata::parse_csv(text, "embedded cao2024v1_digitized_fig9-18.csv");
        std::vector<std::size_t> rows;
        if (a.has("filter")) rows = fitdata::filter_rows(t, *a.get("filter"));
        else for (std::size_t i = 0; i < t.rows.size(); ++i) rows.push_back(i);
        const auto data = fitdata::prepare_cao(t, rows);
        dropped = data.dropped;
        y_name = "delta (% degradation)";
        x_name = "N";
        if (law == "weak") {
            input_names = {"Qr", "N"};
            std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> groups;
            for (const auto& p : data.points) {
                auto& [x, y] = groups[p.figure + " " + p.family + " " + p.eval_set + " " + p.granularity];
                x.insert(x.end(), {p.qr, p.params_b});
                y.push_back(p.delta);
            }
            for (auto& [g, xy] : groups) records.push_back(fit_group<laws::weak>(g, xy.first, xy.second));
        } else if (law == "strong") {
            input_names = {"Qr", "N", "Qb"};
            std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> groups;
            for (const auto& p : data.points) {
                if (p.figure == "Fig. 18") continue; // the same panel as Fig. 10 (duplicate points)
                for (const std::string& g : std::array<std::string, 2>{"all figures", p.family + " " + p.eval_set}) {
                    auto& [x, y] = groups[g];
                    x.insert(x.end(), {p.qr, p.params_b, p.qb});
                    y.push_back(p.delta);
                }
            }
            for (auto& [g, xy] : groups) {
                if (xy.second.size() < laws::strong::parameter_count) continue;
                records.push_back(fit_group<laws::strong>(g, xy.first, xy.second));
            }
        } else { // exp: the paper's Law 1 at fixed budgets, from Fig. 9 unless filtered
            input_names = {"Qr_max"};
            x_name = "Qr_max";
            y_name = "N (billions of parameters)";
            std::vector<double> budgets = {5, 10, 20};
            if (a.has("budgets")) {
                budgets.clear();
                for (const auto& b : split_list(*a.get("budgets"))) budgets.push_back(parsed_args::parse_number("budgets", b));
            }
            std::map<double, std::vector<std::pair<double, double>>> by_size;
            for (const auto& p : data.points)
                if (a.has("filter") || p.figure == "Fig. 9") by_size[p.params_b].emplace_back(p.qr, p.delta);
            for (double budget : budgets) {
                if (!(budget > 0)) throw usage_error("--budgets values must be positive percentages");
                for (bool interp : {false, true}) {
                    std::vector<double> x, y;
                    for (const auto& [n, pts] : by_size) {
                        const double q = fitdata::max_ratio_within(pts, budget, interp);
                        if (std::isnan(q)) continue;
                        x.push_back(q);
                        y.push_back(n);
                    }
                    const std::string how = interp ? "interpolated crossing" : "thresholding";
                    if (y.size() < 2) {
                        fmt::print(stderr, "mpq fit: budget {}%: too few model sizes reach it ({})\n", budget, how);
                        continue;
                    }
                    auto r = fit_group<laws::exponential>(fmt::format("budget {}% ({})", budget, how), x, y);
                    for (const auto& pub : paper_exp_fits)
                        if (pub.budget == budget)
                            r.note = fmt::format("paper (Sec. 4.2): k = {}, c = {}", pub.k, pub.c);
                    records.push_back(std::move(r));
                }
            }
            if (records.empty()) throw usage_error("no budget could be fitted");
        }
    }

    if (a.flag("json")) fmt::print("{}\n", to_json(records, dropped).dump(2));
    else {
        print_table(records);
        if (!dropped.empty()) {
            fmt::print("{} point(s) left out (delta <= 0 cannot enter a fit on log delta):\n", dropped.size());
            for (const auto& d : dropped) fmt::print("  {}\n", d);
        }
    }
    if (auto plot = a.get("plot")) plot_records(records, *plot, x_name, input_names, y_name);
    return 0;
}

const bool registered = register_command(
    {"fit", "fit --law weak|strong|exp|power|kumar [--csv FILE --x COLS --y COL] [--filter col=v,...] [--budgets 5,10,20] [--plot OUT.svg] [--json]",
     "fit a scaling law (default data: Cao et al. 2024 Figs. 9-18) with SE, 95% CI, R2; SVG plot", &run});

} // namespace
