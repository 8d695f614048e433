// Where the scale groups of a 2-D tensor lie: blocks run along rows (the last axis, K for
// weights stored N x K) or down columns, restart at every row (column), and the last block
// of a row may be shorter (a ragged tail is a short block, never padded with data).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mpq {

/// The axis a scale group runs along.
enum class block_axis : std::uint8_t {
    rows,    ///< groups are runs of consecutive elements of one row (default; the K axis)
    columns, ///< groups are runs of consecutive elements of one column
};

/// Options shared by every quantize operation.
struct quantize_options;

/// Geometry of scale groups of length `group` over a rows x cols row-major tensor.
struct block_geometry {
    std::size_t rows = 0;
    std::size_t cols = 0;
    block_axis axis = block_axis::rows;
    std::size_t group = 1; ///< elements per group along the axis (> 0)

    /// Length of the blocked axis and number of independent vectors (lanes) across it.
    constexpr std::size_t axis_length() const { return axis == block_axis::rows ? cols : rows; }
    constexpr std::size_t lanes() const { return axis == block_axis::rows ? rows : cols; }
    constexpr std::size_t groups_per_lane() const { return (axis_length() + group - 1) / group; }
    constexpr std::size_t group_count() const { return lanes() * groups_per_lane(); }
    constexpr std::size_t size() const { return rows * cols; }

    /// Length of group g of a lane (the tail group may be short).
    constexpr std::size_t group_length(std::size_t g) const {
        return std::min(group, axis_length() - g * group);
    }
    /// Index of the scale of group g of `lane` in the scale array: row-axis scales are
    /// [row][group], column-axis scales are [group][column].
    constexpr std::size_t scale_index(std::size_t lane, std::size_t g) const {
        return axis == block_axis::rows ? lane * groups_per_lane() + g : g * cols + lane;
    }
    /// Row and column of element k of group g of `lane`.
    constexpr std::size_t row_of(std::size_t lane, std::size_t g, std::size_t k) const {
        return axis == block_axis::rows ? lane : g * group + k;
    }
    constexpr std::size_t col_of(std::size_t lane, std::size_t g, std::size_t k) const {
        return axis == block_axis::rows ? g * group + k : lane;
    }
};

namespace detail {

[[noreturn]] inline void throw_invalid(const std::string& what) { throw std::invalid_argument(what); }

inline void require_size(std::string_view what, std::size_t got, std::size_t expected) {
    if (got != expected) {
        throw_invalid("mpq: " + std::string(what) + " holds " + std::to_string(got) +
                      " elements, expected " + std::to_string(expected));
    }
}

} // namespace detail

} // namespace mpq
