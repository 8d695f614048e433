// A precision map: which format each tile of an N x K weight matrix is stored in. A tile is
// `tile_rows` consecutive rows by one K-block of `block_k` columns (the last row group and
// the last K-block may be shorter). One format for every tile is the matmul-wise case.
#pragma once

#include <mpq/gemm/weight_format.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq {

class precision_map {
public:
    precision_map() = default;

    /// A rows x cols map of tiles tile_rows x block_k, every tile in `fill`. Throws
    /// std::invalid_argument if rows or cols is 0, tile_rows is 0, or block_k is not a
    /// positive multiple of 32 (the GEMM's code unit and the MX block).
    precision_map(std::size_t rows, std::size_t cols, std::size_t tile_rows, std::size_t block_k,
                  weight_format fill)
        : rows_(rows), cols_(cols), tile_rows_(tile_rows), block_k_(block_k) {
        if (rows == 0 || cols == 0)
            throw std::invalid_argument("mpq: precision_map of " + std::to_string(rows) + " x " +
                                        std::to_string(cols) + " weights is empty");
        if (tile_rows == 0) throw std::invalid_argument("mpq: precision_map tile_rows must be positive, got 0");
        if (block_k == 0 || block_k % detail::gemm_unit != 0)
            throw std::invalid_argument("mpq: precision_map block_k must be a positive multiple of 32, got " +
                                        std::to_string(block_k));
        formats_.assign(row_groups() * k_blocks(), fill);
    }

    /// Every tile in one format, with one K-block spanning the whole (32-padded) row.
    static precision_map uniform(std::size_t rows, std::size_t cols, weight_format f) {
        return precision_map(rows, cols, rows == 0 ? 1 : rows,
                             std::max<std::size_t>(detail::round_up(cols, detail::gemm_unit), 32), f);
    }

    /// A block-wise map with round(qr * tiles) tiles in `low` and the rest in `high`, the low
    /// tiles chosen uniformly at random (std::mt19937_64 seeded with `seed`). Throws
    /// std::invalid_argument for qr outside [0, 1] and for the reasons of the constructor.
    static precision_map random_blockwise(std::size_t rows, std::size_t cols, std::size_t tile_rows,
                                          std::size_t block_k, weight_format low, weight_format high,
                                          double qr, std::uint64_t seed) {
        if (!(qr >= 0.0 && qr <= 1.0))
            throw std::invalid_argument("mpq: Qr must lie in [0, 1], got " + std::to_string(qr));
        precision_map map(rows, cols, tile_rows, block_k, high);
        std::vector<std::size_t> order(map.formats_.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::mt19937_64 engine(seed);
        std::shuffle(order.begin(), order.end(), engine);
        const auto low_count = static_cast<std::size_t>(qr * static_cast<double>(order.size()) + 0.5);
        for (std::size_t i = 0; i < low_count; ++i) map.formats_[order[i]] = low;
        return map;
    }

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }
    std::size_t tile_rows() const { return tile_rows_; }
    std::size_t block_k() const { return block_k_; }
    /// Number of row groups and of K-blocks (tiles per row group).
    std::size_t row_groups() const { return (rows_ + tile_rows_ - 1) / tile_rows_; }
    std::size_t k_blocks() const { return (cols_ + block_k_ - 1) / block_k_; }
    /// Rows of row group g and columns of K-block b (the last ones may be short).
    std::size_t group_rows(std::size_t g) const { return std::min(tile_rows_, rows_ - g * tile_rows_); }
    std::size_t block_cols(std::size_t b) const { return std::min(block_k_, cols_ - b * block_k_); }

    /// Format of tile (row group g, K-block b); throws std::invalid_argument when out of range.
    weight_format at(std::size_t g, std::size_t b) const { return formats_[index(g, b)]; }
    void set(std::size_t g, std::size_t b, weight_format f) { formats_[index(g, b)] = f; }
    /// Format of weight (row n, column k).
    weight_format format_of(std::size_t n, std::size_t k) const { return at(n / tile_rows_, k / block_k_); }
    /// Formats row-major over [row group][K-block].
    const std::vector<weight_format>& formats() const { return formats_; }

    /// Qr: the share of the weights (parameters) held in a low-precision format.
    double qr() const {
        double low = 0.0;
        for_each_tile([&](std::size_t, std::size_t, std::size_t count, weight_format f) {
            if (info(f).low_precision) low += static_cast<double>(count);
        });
        return low / static_cast<double>(rows_ * cols_);
    }
    /// Nominal bits per weight: element bits plus scale bits per element, averaged over the
    /// weights (per-vector formats count one float32 per row; NVFP4's tensor scale is not
    /// counted). mixed_matrix::storage_bytes gives the bytes actually stored.
    double bits_per_weight() const {
        double bits = 0.0;
        for_each_tile([&](std::size_t, std::size_t, std::size_t count, weight_format f) {
            bits += static_cast<double>(count) * nominal_bits_per_weight(f, cols_);
        });
        return bits / static_cast<double>(rows_ * cols_);
    }
    /// True if every tile has the same format.
    bool is_uniform() const {
        return std::all_of(formats_.begin(), formats_.end(), [&](weight_format f) { return f == formats_[0]; });
    }

    /// Calls fn(g, b, weights in the tile, format) for every tile.
    template <class Fn>
    void for_each_tile(Fn fn) const {
        for (std::size_t g = 0; g < row_groups(); ++g)
            for (std::size_t b = 0; b < k_blocks(); ++b)
                fn(g, b, group_rows(g) * block_cols(b), formats_[g * k_blocks() + b]);
    }

private:
    std::size_t index(std::size_t g, std::size_t b) const {
        if (g >= row_groups() || b >= k_blocks())
            throw std::invalid_argument("mpq: tile (" + std::to_string(g) + ", " + std::to_string(b) +
                                        ") outside a precision map of " + std::to_string(row_groups()) +
                                        " x " + std::to_string(k_blocks()) + " tiles");
        return g * k_blocks() + b;
    }

    std::size_t rows_ = 0;
    std::size_t cols_ = 0;
    std::size_t tile_rows_ = 1;
    std::size_t block_k_ = 32;
    std::vector<weight_format> formats_;
};

} // namespace mpq
