// A small, self-contained SVG plot writer for the mpq program: line and scatter series on
// linear or logarithmic axes, with ticks, grid, axis labels, title and legend. The output is
// one standalone .svg file (no scripts, no external fonts or styles) that any browser shows.
//
//   mpq::cli::svg::plot p;
//   p.title = "loss degradation"; p.x_label = "N (B)"; p.x_scale = svg::scale::log;
//   p.series.push_back({.label = "Qr = 0.5", .x = xs, .y = ys, .style = svg::mark::points});
//   svg::write_file(p, "out.svg");
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::cli::svg {

enum class scale { linear, log };

enum class mark {
    line,        ///< a polyline through the points in the given order
    points,      ///< one circle per point
    line_points, ///< both
};

struct series {
    std::string label;     ///< legend text; an empty label keeps the series out of the legend
    std::vector<double> x = {}; ///< abscissae (same length as y)
    std::vector<double> y = {};
    mark style = mark::line;
    std::string color;     ///< any SVG colour; empty picks the next colour of the palette
    bool dashed = false;   ///< dashed line (e.g. for a fitted curve next to its data)
};

struct plot {
    std::string title;
    std::string x_label;
    std::string y_label;
    scale x_scale = scale::linear;
    scale y_scale = scale::linear;
    std::vector<svg::series> series;
    int width = 760;  ///< pixels
    int height = 500; ///< pixels
};

namespace detail {

inline std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

/// Ten colours that stay distinguishable for most colour-vision types.
inline std::string_view palette(std::size_t i) {
    static constexpr std::string_view colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};
    return colors[i % std::size(colors)];
}

inline bool drawable(double v, scale s) { return std::isfinite(v) && (s == scale::linear || v > 0); }

/// One axis: data range, mapping to pixels, tick positions and labels.
struct axis {
    scale kind = scale::linear;
    double lo = 0, hi = 1; // in transformed units (log10 for log axes)

    double transform(double v) const { return kind == scale::log ? std::log10(v) : v; }

    void fit(double data_lo, double data_hi) {
        lo = transform(data_lo);
        hi = transform(data_hi);
        if (!(hi > lo)) { // a single value: open a window around it
            double pad = kind == scale::log ? 0.5 : (lo == 0 ? 1.0 : std::abs(lo) * 0.1);
            lo -= pad;
            hi += pad;
        } else {
            double pad = (hi - lo) * 0.04;
            lo -= pad;
            hi += pad;
        }
    }

    /// "Nice" tick values in data units.
    std::vector<double> ticks() const {
        std::vector<double> out;
        if (kind == scale::log) {
            double span = hi - lo;
            int first = static_cast<int>(std::floor(lo)), last = static_cast<int>(std::ceil(hi));
            int step = std::max(1, static_cast<int>(std::ceil(span / 8)));
            for (int e = first; e <= last; e += step) {
                for (double m : {1.0, 2.0, 5.0}) {
                    if (m != 1.0 && span > 2.5) continue;
                    double v = m * std::pow(10.0, e);
                    double t = std::log10(v);
                    if (t >= lo && t <= hi) out.push_back(v);
                }
            }
            if (out.size() < 2 && span <= 2.5) { // under a factor of ~3: use linear ticks
                axis lin{scale::linear, std::pow(10.0, lo), std::pow(10.0, hi)};
                return lin.ticks();
            }
            return out;
        }
        double raw = (hi - lo) / 6;
        double mag = std::pow(10.0, std::floor(std::log10(raw)));
        double norm = raw / mag;
        double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
        for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
            out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
        return out;
    }
};

inline std::string tick_label(double v) {
    double a = std::abs(v);
    if (a != 0 && (a >= 1e5 || a < 1e-3)) return fmt::format("{:.0e}", v);
    return fmt::format("{:g}", v);
}

} // namespace detail

/// The SVG text of `p`. Points that are not finite, or not positive on a log axis, are left
/// out (a series' line is broken there). Throws std::invalid_argument when a series has x and
/// y of different lengths or when no series has a single drawable point.
inline std::string render(const plot& p) {
    using detail::drawable;
    double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
    double y_min = x_min, y_max = -x_min;
    for (const auto& s : p.series) {
        if (s.x.size() != s.y.size())
            throw std::invalid_argument(fmt::format("svg plot: series '{}' has {} x values but {} y values",
                                                    s.label, s.x.size(), s.y.size()));
        for (std::size_t i = 0; i < s.x.size(); ++i) {
            if (!drawable(s.x[i], p.x_scale) || !drawable(s.y[i], p.y_scale)) continue;
            x_min = std::min(x_min, s.x[i]);
            x_max = std::max(x_max, s.x[i]);
            y_min = std::min(y_min, s.y[i]);
            y_max = std::max(y_max, s.y[i]);
        }
    }
    if (!(x_min <= x_max))
        throw std::invalid_argument("svg plot '" + p.title + "': no drawable point (log axes need positive values)");

    detail::axis ax{p.x_scale}, ay{p.y_scale};
    ax.fit(x_min, x_max);
    ay.fit(y_min, y_max);

    const double left = 78, right = 18, top = p.title.empty() ? 20 : 42, bottom = 58;
    const double pw = p.width - left - right, ph = p.height - top - bottom;
    auto px = [&](double x) { return left + (ax.transform(x) - ax.lo) / (ax.hi - ax.lo) * pw; };
    auto py = [&](double y) { return top + ph - (ay.transform(y) - ay.lo) / (ay.hi - ay.lo) * ph; };

    std::string out;
    out += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                       "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
                       p.width, p.height);
    out += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", p.width, p.height);
    if (!p.title.empty())
        out += fmt::format("<text x=\"{:.1f}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
                           "font-weight=\"bold\">{}</text>\n",
                           left + pw / 2, detail::escape(p.title));

    // Grid and ticks.
    for (double t : ax.ticks()) {
        double x = px(t);
        out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
                           "stroke=\"#e4e4e4\"/>\n", x, top, top + ph);
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x,
                           top + ph + 16, detail::escape(detail::tick_label(t)));
    }
    for (double t : ay.ticks()) {
        double y = py(t);
        out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" "
                           "stroke=\"#e4e4e4\"/>\n", left, y, left + pw);
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 6,
                           y + 4, detail::escape(detail::tick_label(t)));
    }
    out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
                       "stroke=\"#333\"/>\n", left, top, pw, ph);
    auto axis_name = [](const std::string& label, scale s) {
        return detail::escape(label) + (s == scale::log ? " (log scale)" : "");
    };
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2,
                       static_cast<double>(p.height) - 14, axis_name(p.x_label, p.x_scale));
    out += fmt::format("<text transform=\"translate(18 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                       top + ph / 2, axis_name(p.y_label, p.y_scale));

    // Data, clipped to the plot area.
    out += fmt::format("<clipPath id=\"area\"><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                       "height=\"{:.1f}\"/></clipPath>\n<g clip-path=\"url(#area)\">\n", left, top, pw, ph);
    for (std::size_t k = 0; k < p.series.size(); ++k) {
        const auto& s = p.series[k];
        std::string color = s.color.empty() ? std::string(detail::palette(k)) : s.color;
        if (s.style != mark::points) {
            std::string path;
            bool pen_down = false;
            for (std::size_t i = 0; i < s.x.size(); ++i) {
                if (!drawable(s.x[i], p.x_scale) || !drawable(s.y[i], p.y_scale)) {
                    pen_down = false;
                    continue;
                }
                path += fmt::format("{}{:.2f},{:.2f} ", pen_down ? 'L' : 'M', px(s.x[i]), py(s.y[i]));
                pen_down = true;
            }
            if (!path.empty())
                out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"{}/>\n", path,
                                   detail::escape(color), s.dashed ? " stroke-dasharray=\"6 4\"" : "");
        }
        if (s.style != mark::line) {
            for (std::size_t i = 0; i < s.x.size(); ++i) {
                if (!drawable(s.x[i], p.x_scale) || !drawable(s.y[i], p.y_scale)) continue;
                out += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n", px(s.x[i]),
                                   py(s.y[i]), detail::escape(color));
            }
        }
    }
    out += "</g>\n";

    // Legend inside the plot area on a translucent box.
    std::vector<std::size_t> shown;
    for (std::size_t k = 0; k < p.series.size(); ++k)
        if (!p.series[k].label.empty()) shown.push_back(k);
    if (!shown.empty()) {
        std::size_t longest = 0;
        for (auto k : shown) longest = std::max(longest, p.series[k].label.size());
        double lw = 40 + 6.6 * static_cast<double>(longest), lh = 8 + 16 * static_cast<double>(shown.size());
        // Put the legend in the corner that covers the fewest data points.
        double lx = left + 8, ly = top + 8;
        std::size_t fewest = std::numeric_limits<std::size_t>::max();
        for (int corner = 0; corner < 4; ++corner) {
            const double cx = corner % 2 == 0 ? left + 8 : left + pw - lw - 8;
            const double cy = corner < 2 ? top + 8 : top + ph - lh - 8;
            std::size_t covered = 0;
            for (const auto& s : p.series)
                for (std::size_t i = 0; i < s.x.size(); ++i) {
                    if (!drawable(s.x[i], p.x_scale) || !drawable(s.y[i], p.y_scale)) continue;
                    const double X = px(s.x[i]), Y = py(s.y[i]);
                    covered += X >= cx - 4 && X <= cx + lw + 4 && Y >= cy - 4 && Y <= cy + lh + 4;
                }
            if (covered < fewest) {
                fewest = covered;
                lx = cx;
                ly = cy;
            }
        }
        out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"white\" "
                           "fill-opacity=\"0.85\" stroke=\"#999\"/>\n", lx, ly, lw, lh);
        for (std::size_t j = 0; j < shown.size(); ++j) {
            const auto& s = p.series[shown[j]];
            std::string color = s.color.empty() ? std::string(detail::palette(shown[j])) : s.color;
            double y = ly + 14 + 16 * static_cast<double>(j);
            if (s.style != mark::points)
                out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
                                   "stroke-width=\"1.6\"{}/>\n", lx + 6, y - 4, lx + 28, y - 4, detail::escape(color),
                                   s.dashed ? " stroke-dasharray=\"6 4\"" : "");
            if (s.style != mark::line)
                out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", lx + 17, y - 4,
                                   detail::escape(color));
            out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 34, y, detail::escape(s.label));
        }
    }
    out += "</svg>\n";
    return out;
}

/// Writes render(p) to `path`; throws std::runtime_error if the file cannot be written.
inline void write_file(const plot& p, const std::string& path) {
    std::string text = render(p);
    std::ofstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot open '" + path + "' for writing");
    file << text;
    if (!file) throw std::runtime_error("cannot write '" + path + "'");
}

} // namespace mpq::cli::svg
