// Data handling for `mpq fit`: a small CSV reader with clear errors, row filters, and the
// preparation of the embedded digitized data of Cao et al. (arXiv 2410.06722 v1, Figs. 9–18).
#pragma once

#include "cli/args.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::cli::fitdata {

struct table {
    std::string source;
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;

    std::size_t column(const std::string& name) const {
        auto it = std::find(columns.begin(), columns.end(), name);
        if (it == columns.end()) {
            std::string known;
            for (const auto& c : columns) known += (known.empty() ? "" : ", ") + c;
            throw usage_error(source + ": no column '" + name + "' (columns: " + known + ")");
        }
        return static_cast<std::size_t>(it - columns.begin());
    }
    double number(std::size_t row, std::size_t col) const {
        const std::string& text = rows[row][col];
        double v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
            throw usage_error(source + ": line " + std::to_string(row + 2) + ", column '" + columns[col] +
                              "': '" + text + "' is not a number");
        return v;
    }
};

/// Parses CSV text (RFC 4180 quoting, first line = header). Throws usage_error on an empty
/// file, an unterminated quote or a row whose field count differs from the header's.
inline table parse_csv(std::string_view text, std::string source) {
    table t;
    t.source = std::move(source);
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false, any = false;
    std::size_t line = 1;
    auto end_row = [&] {
        fields.push_back(field);
        field.clear();
        if (t.columns.empty()) {
            t.columns = fields;
        } else if (!(fields.size() == 1 && fields[0].empty())) {
            if (fields.size() != t.columns.size())
                throw usage_error(t.source + ": line " + std::to_string(line) + " has " + std::to_string(fields.size()) +
                                  " fields, the header has " + std::to_string(t.columns.size()));
            t.rows.push_back(fields);
        }
        fields.clear();
        ++line;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        any = true;
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
            else if (c == '"') quoted = false;
            else field += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.push_back(field);
            field.clear();
        } else if (c == '\n') {
            end_row();
        } else if (c != '\r') {
            field += c;
        }
    }
    if (quoted) throw usage_error(t.source + ": unterminated quoted field");
    if (!field.empty() || !fields.empty()) end_row();
    if (!any || t.columns.empty()) throw usage_error(t.source + ": empty CSV file");
    if (t.rows.empty()) throw usage_error(t.source + ": no data rows");
    return t;
}

/// "col=value,col2=value2": keeps rows where every named column equals its value.
inline std::vector<std::size_t> filter_rows(const table& t, const std::string& spec) {
    std::vector<std::pair<std::size_t, std::string>> conds;
    for (const auto& part : split_list(spec)) {
        auto eq = part.find('=');
        if (eq == std::string::npos || eq == 0)
            throw usage_error("--filter expects col=value[,col=value...], got '" + part + "'");
        conds.emplace_back(t.column(part.substr(0, eq)), part.substr(eq + 1));
    }
    std::vector<std::size_t> keep;
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
        bool ok = true;
        for (const auto& [c, v] : conds) ok = ok && t.rows[r][c] == v;
        if (ok) keep.push_back(r);
    }
    if (keep.empty()) throw usage_error("--filter '" + spec + "' keeps no rows of " + t.source);
    return keep;
}

/// Decoder layers of the models in the embedded data (their public configurations), used to
/// turn a mixing granularity into a block size Qb = mean elements per mixing unit.
inline double decoder_layers(const std::string& family, double params_b) {
    static const std::map<std::pair<std::string, double>, double> layers = {
        {{"Qwen1.5", 0.5}, 24}, {{"Qwen1.5", 1.8}, 24}, {{"Qwen1.5", 4}, 40},  {{"Qwen1.5", 7}, 32},
        {{"Qwen1.5", 14}, 40},  {{"Qwen1.5", 32}, 64},  {{"Llama-2", 7}, 32},  {{"Llama-2", 13}, 40},
        {{"Llama-2", 70}, 80},  {{"Gemma-2", 2}, 26},   {{"Gemma-2", 9}, 42}};
    auto it = layers.find({family, params_b});
    if (it == layers.end())
        throw usage_error("no layer count known for " + family + " " + std::to_string(params_b) + "B");
    return it->second;
}

/// One usable point of the embedded data.
struct cao_point {
    std::string figure, family, eval_set, granularity, metric;
    double qr = 0, params_b = 0;
    double delta = 0; ///< degradation in percent: perplexity increase, or accuracy drop
    double qb = 0;    ///< mean elements per mixing unit in millions (matmul: layer/7; layer: N/layers)
};

struct cao_data {
    std::vector<cao_point> points;      ///< Qr > 0 and δ > 0
    std::vector<std::string> dropped;   ///< why each other Qr > 0 row was left out
    std::size_t rows = 0;
};

/// δ from the relative change read off the paper's panel (a); the Qr = 0 rows are the
/// reference and non-positive δ (quantization that measured as an improvement) cannot enter a
/// law fitted on log δ: both are dropped, the latter listed.
inline cao_data prepare_cao(const table& t, const std::vector<std::size_t>& selected) {
    cao_data out;
    out.rows = selected.size();
    const auto c_fig = t.column("figure"), c_fam = t.column("family"), c_eval = t.column("eval_set"),
               c_gran = t.column("granularity"), c_metric = t.column("metric"), c_qr = t.column("Qr"),
               c_n = t.column("params_B"), c_rel = t.column("rel_change_pct_from_a");
    for (auto r : selected) {
        cao_point p;
        p.figure = t.rows[r][c_fig];
        p.family = t.rows[r][c_fam];
        p.eval_set = t.rows[r][c_eval];
        p.granularity = t.rows[r][c_gran];
        p.metric = t.rows[r][c_metric];
        p.qr = t.number(r, c_qr);
        p.params_b = t.number(r, c_n);
        if (p.qr == 0) continue;
        const double rel = t.number(r, c_rel);
        p.delta = p.metric == "accuracy" ? -rel : rel;
        if (!(p.delta > 0)) {
            out.dropped.push_back(p.figure + " " + p.family + " " + p.eval_set + " " + p.granularity + " Qr=" +
                                  t.rows[r][c_qr] + " N=" + t.rows[r][c_n] + "B: delta " + std::to_string(p.delta) +
                                  "% <= 0");
            continue;
        }
        const double per_layer = p.params_b * 1e3 / decoder_layers(p.family, p.params_b); // millions
        p.qb = p.granularity == "matmul-wise" ? per_layer / 7 : per_layer;
        out.points.push_back(p);
    }
    return out;
}

/// Largest Qr with δ ≤ budget for one model, from its measured (Qr, δ) points sorted by Qr:
/// `interpolate` = false takes the largest measured Qr within budget (thresholding); true
/// finds the crossing by interpolating log δ linearly in Qr between the bracketing points.
/// Returns NaN when even the smallest measured Qr exceeds the budget.
inline double max_ratio_within(std::vector<std::pair<double, double>> qr_delta, double budget, bool interpolate) {
    std::sort(qr_delta.begin(), qr_delta.end());
    double best = std::nan("");
    for (std::size_t i = 0; i < qr_delta.size(); ++i) {
        if (qr_delta[i].second > budget) {
            if (interpolate && i > 0 && qr_delta[i - 1].second > 0) {
                const auto [q0, d0] = qr_delta[i - 1];
                const auto [q1, d1] = qr_delta[i];
                return q0 + (q1 - q0) * (std::log(budget) - std::log(d0)) / (std::log(d1) - std::log(d0));
            }
            return best;
        }
        best = qr_delta[i].first;
    }
    return best;
}

} // namespace mpq::cli::fitdata
