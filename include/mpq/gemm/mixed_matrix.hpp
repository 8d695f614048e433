// A mixed-precision weight matrix W (N x K, blocked along K), packed for the GEMM.
//
// Packed layout (all little-endian, no alignment assumed by the kernels):
// - Row group by row group, within a group row by row. A row holds the codes of all its
//   K-blocks one after the other, each block's codes padded with zero codes to a multiple of
//   32 elements, then the scales of all its K-blocks in the same order (one per group: 32
//   elements, 16 for NVFP4; none for BF16/FP16/FP32). All rows of a group share the tile
//   formats, so code and scale offsets within a row are one table entry per (group, K-block),
//   and consecutive K-blocks of one format form a single run of codes and a single run of
//   scales that the kernels traverse as one segment.
// - Codes: 8-bit formats one byte per element; BF16/FP16 two bytes; FP32 four. 4-bit codes
//   are repacked per 32-element unit: byte j (0..15) holds element j in its low nibble and
//   element j + 16 in its high nibble, so one 16-byte load splits into elements 0..15 and
//   16..31 with a shift and a mask.
// - Scales: MX as E8M0 bytes, NVFP4 as ue4m3 bytes (the float tensor scale is kept once per
//   matrix), per-vector formats as float32 (the row scale repeated per group of 32).
// - A padding group past the end of a row has a unit scale and zero codes (value 0).
// So every row reads contiguously over all of K, whatever the map: a GEMV streams W once.
//
// Semantics: tile (g, b) holds exactly what quantize(format, W) of the whole matrix holds
// for those elements: MX blocks of 32 restart at each row; NVFP4's tensor scale comes from
// the whole matrix; per-vector scales from the whole row; BF16/FP16 round to nearest-even
// and saturate. dequantize() reproduces the library's dequantize bit for bit.
#pragma once

#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/scaled.hpp>
#include <mpq/gemm/precision_map.hpp>
#include <mpq/numeric/half.hpp>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace mpq {

namespace detail {

/// Element value of code c of format f (before the group scale).
inline float decode_weight_code(weight_format f, std::uint32_t c) {
    switch (f) {
    case weight_format::mxint4: return mx_int4_element::decode(c);
    case weight_format::mxfp4:
    case weight_format::nvfp4:
    case weight_format::fp4_vector: return fp4_e2m1::decode(c);
    case weight_format::mxint8: return mx_int8_element::decode(c);
    case weight_format::mxfp8_e4m3: return fp8_e4m3::decode(c);
    case weight_format::mxfp8_e5m2: return fp8_e5m2::decode(c);
    case weight_format::int4_vector: return int4_element::decode(c);
    case weight_format::int8_vector: return int8_element::decode(c);
    case weight_format::bf16: return bf16::decode(c);
    case weight_format::fp16: return fp16::decode(c);
    case weight_format::fp32: return float_of(c);
    }
    return 0.0f;
}

/// Reads code i of a packed segment.
inline std::uint32_t segment_code(weight_format f, const std::uint8_t* codes, std::size_t i) {
    switch (info(f).code_bits) {
    case 4: {
        const std::uint8_t byte = codes[i / 32 * 16 + i % 16];
        return (i % 32 < 16) ? (byte & 0xFU) : (byte >> 4);
    }
    case 8: return codes[i];
    case 16: return std::uint32_t{codes[2 * i]} | (std::uint32_t{codes[2 * i + 1]} << 8);
    default: {
        std::uint32_t v;
        std::memcpy(&v, codes + 4 * i, 4);
        return v;
    }
    }
}

inline void set_segment_code(weight_format f, std::uint8_t* codes, std::size_t i, std::uint32_t c) {
    switch (info(f).code_bits) {
    case 4: {
        std::uint8_t& byte = codes[i / 32 * 16 + i % 16];
        if (i % 32 < 16) byte = static_cast<std::uint8_t>((byte & 0xF0U) | (c & 0xFU));
        else byte = static_cast<std::uint8_t>((byte & 0x0FU) | ((c & 0xFU) << 4));
        break;
    }
    case 8: codes[i] = static_cast<std::uint8_t>(c); break;
    case 16:
        codes[2 * i] = static_cast<std::uint8_t>(c);
        codes[2 * i + 1] = static_cast<std::uint8_t>(c >> 8);
        break;
    default: std::memcpy(codes + 4 * i, &c, 4); break;
    }
}

} // namespace detail

namespace detail {

/// The whole N x K matrix quantized with the format's scalar reference (bit-exact with
/// mpq::quantize, and independent of the SIMD kernels).
template <class Format>
quantized_tensor<Format> quantize_whole(const Format& format, std::span<const float> w, std::size_t n,
                                        std::size_t k, block_axis axis, const quantize_options& options) {
    quantized_tensor<Format> q(format, n, k, axis);
    quantize_ref(format, w, q.view(), options);
    return q;
}

} // namespace detail

/// One row of one tile, as the kernels see it.
struct weight_segment {
    weight_format format;
    const std::uint8_t* codes;  ///< packed codes, padded to a multiple of 32 elements
    const std::uint8_t* scales; ///< one scale per group (nullptr for unscaled formats)
    std::size_t length;         ///< real elements (the rest of the last unit is padding)
};

class mixed_matrix {
public:
    mixed_matrix() = default;

    /// Quantizes the row-major N x K float weights `w` tile by tile as `map` says (N, K
    /// taken from the map). Throws std::invalid_argument if w.size() != N * K.
    static mixed_matrix quantize(std::span<const float> w, const precision_map& map,
                                 const quantize_options& options = {}) {
        detail::require_size("mixed_matrix weights", w.size(), map.rows() * map.cols());
        mixed_matrix m(map);
        const std::size_t n = map.rows(), k = map.cols();
        for (weight_format f : all_weight_formats) {
            if (!m.uses(f)) continue;
            switch (f) {
            case weight_format::mxint4: m.fill_from(f, detail::quantize_whole(mxint4{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::mxfp4: m.fill_from(f, detail::quantize_whole(mxfp4{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::nvfp4: m.fill_from(f, detail::quantize_whole(nvfp4{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::mxint8: m.fill_from(f, detail::quantize_whole(mxint8{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::mxfp8_e4m3: m.fill_from(f, detail::quantize_whole(mxfp8_e4m3{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::mxfp8_e5m2: m.fill_from(f, detail::quantize_whole(mxfp8_e5m2{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::int4_vector: m.fill_from(f, detail::quantize_whole(int4_vector{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::fp4_vector: m.fill_from(f, detail::quantize_whole(fp4_e2m1_vector{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::int8_vector: m.fill_from(f, detail::quantize_whole(int8_vector{}, w, n, k, block_axis::rows, options)); break;
            case weight_format::bf16:
            case weight_format::fp16:
            case weight_format::fp32:
                m.fill_tiles(f, [&](std::size_t r, std::size_t c) {
                    const float x = w[r * k + c];
                    if (f == weight_format::bf16) return std::uint32_t{bf16::encode(x, options.round)};
                    if (f == weight_format::fp16) return std::uint32_t{fp16::encode(x, options.round)};
                    return detail::bits_of(x);
                }, [](std::size_t, std::size_t) { return std::uint32_t{0}; });
                break;
            }
        }
        m.mark_runs();
        return m;
    }

    /// Every tile in one format (block_k = the whole row): the matmul-wise case.
    static mixed_matrix quantize(std::span<const float> w, std::size_t rows, std::size_t cols,
                                 weight_format f, const quantize_options& options = {}) {
        return quantize(w, precision_map::uniform(rows, cols, f), options);
    }

    const precision_map& map() const { return map_; }
    std::size_t rows() const { return map_.rows(); }
    std::size_t cols() const { return map_.cols(); }
    /// Bytes the kernels read: packed codes and scales (padding included), without the
    /// tile index.
    std::size_t storage_bytes() const { return data_.size(); }
    /// NVFP4's tensor scale (1 if no tile is NVFP4).
    float nvfp4_tensor_scale() const { return nvfp4_tensor_scale_; }
    /// Decode multipliers of the 128 ue4m3 codes times the tensor scale times 1/2 (the
    /// kernels decode E2M1 codes to the integers 2v).
    const std::array<float, 128>& nvfp4_scale_table() const { return nvfp4_table_; }

    /// Row `r` of tile (g, b); r counts from the first row of the matrix.
    weight_segment segment(std::size_t r, std::size_t b) const { return row(r).segment(b); }

    /// Runs of consecutive K-blocks of one format: [first, end), with what a kernel needs to
    /// find the run's bytes in a row (a copy of the per-block tables' entries for `first`), so
    /// stepping through a row group's runs reads one small contiguous array: a GEMV streams W
    /// from DRAM, and every extra table line a run touches is a dependent miss.
    struct block_run {
        std::size_t first;
        std::size_t end;
        weight_format format = weight_format::fp32;
        std::size_t code_offset = 0;  ///< of block `first`, from the row's first byte
        std::size_t scale_offset = 0; ///< of block `first`, from the row's first byte
        /// The format stores scales (info(format).scale != none). Kept with the run because
        /// segment(run) is part of every run's set-up in the GEMM, inside block loops that
        /// already use every vector register: reading info()'s table there instead measured
        /// 5-10 % slower (Qr 0.9 map x MXINT8, M = 8 and 64, GCC 12 -O3).
        bool scaled = false;
        /// BF16 runs: every code in every row of the run is ±0, ±Inf, NaN, or normal with an
        /// exponent in [-bf16_pair_exponent_limit, +limit] (see bf16_pair_exponent_limit).
        bool bf16_pair_safe = false;
        /// E8M0-scaled runs: every scale of every row of the run, times the format's code
        /// multiplier, is a normal float32 (no NaN code 255, none so small that the product is
        /// subnormal or zero), so kernels may build those scales from their bits. Computed once
        /// here: checked by each kernel call instead, it cost up to 10 % of a block-wise map's
        /// time at M = 8 (Zen 4).
        bool scales_normal = false;
    };

    /// Why a BF16 run may take the kernels' BF16 pair dot product (vdpbf16ps), which treats
    /// subnormal inputs and results as zero: a product of an integer activation code
    /// (|c| <= 127) and a BF16 weight w = ±1.m · 2^E (7 fraction bits) is an integer multiple
    /// of 2^(E-7), so with |E| <= 119 every product, every exact sum of them and every float32
    /// rounding of such a sum is a multiple of 2^-126: zero or normal, never subnormal, and
    /// nothing overflows. The pair product then gives the IEEE result bit for bit.
    static constexpr int bf16_pair_exponent_limit = 119;
    /// Whether some run is a BF16 run with bf16_pair_safe set.
    bool has_bf16_pair_safe_runs() const { return has_bf16_pair_safe_runs_; }
    /// Whether some tile is in format f.
    bool uses(weight_format f) const { return uses_format_[static_cast<std::size_t>(f)]; }

    /// The segments of one row: cheap to step through K-block by K-block or run by run.
    struct row_view {
        const std::uint8_t* base;           ///< first byte of the row
        const std::size_t* code_offsets;    ///< per K-block, from the row's first byte
        const std::size_t* scale_offsets;   ///< per K-block, from the row's first byte
        const weight_format* formats;       ///< per K-block
        const block_run* runs;              ///< the row group's runs of one format
        std::size_t run_count;
        std::size_t block_k;
        std::size_t cols;
        std::size_t row_bytes;              ///< from this row to the next row of its group

        /// K-blocks [first, end) (all of one format) as one segment.
        weight_segment segment(std::size_t first, std::size_t end) const {
            const weight_format f = formats[first];
            return {f, base + code_offsets[first],
                    info(f).scale == scale_storage::none ? nullptr : base + scale_offsets[first],
                    std::min(cols, end * block_k) - first * block_k};
        }
        weight_segment segment(std::size_t b) const { return segment(b, b + 1); }
        /// One of the row group's runs as one segment (equal to segment(run.first, run.end)).
        weight_segment segment(const block_run& run) const {
            return {run.format, base + run.code_offset, run.scaled ? base + run.scale_offset : nullptr,
                    run_length(run)};
        }
        /// Elements of one row in a run (segment(run).length; small enough that compilers
        /// inline it into the kernels' per-run set-up even where they do not inline segment,
        /// whose out-of-line call would spill every vector register at each run).
        std::size_t run_length(const block_run& run) const {
            return std::min(cols, run.end * block_k) - run.first * block_k;
        }
    };
    row_view row(std::size_t r) const {
        const std::size_t g = r / map_.tile_rows();
        const std::size_t kb = map_.k_blocks();
        return {data_.data() + group_offset_[g] + (r - g * map_.tile_rows()) * group_row_bytes_[g],
                code_offset_.data() + g * kb,
                scale_offset_.data() + g * kb,
                map_.formats().data() + g * kb,
                runs_.data() + run_begin_[g],
                run_begin_[g + 1] - run_begin_[g],
                map_.block_k(),
                map_.cols(),
                group_row_bytes_[g]};
    }

    /// Asks the cache for the per-group table entries row(r) reads (a kernel calls it one row
    /// group ahead, so a GEMV streaming W from DRAM does not stall on them). No effect on
    /// results; r past the last row does nothing.
    void prefetch_row_tables(std::size_t r) const {
#if defined(__GNUC__)
        if (r >= rows()) return;
        const std::size_t g = r / map_.tile_rows();
        __builtin_prefetch(group_offset_.data() + g);
        __builtin_prefetch(group_row_bytes_.data() + g);
        __builtin_prefetch(run_begin_.data() + g);
#else
        (void)r;
#endif
    }

    /// Value of weight (r, c), decoded exactly as dequantize of its format does.
    float value(std::size_t r, std::size_t c) const {
        const std::size_t b = c / map_.block_k();
        const weight_segment s = segment(r, b);
        const std::size_t i = c - b * map_.block_k();
        return detail::decode_weight_code(s.format, detail::segment_code(s.format, s.codes, i)) *
               group_scale(s, i / info(s.format).group);
    }

    /// Decodes W into a row-major N x K float buffer; throws std::invalid_argument on size.
    void dequantize(std::span<float> out) const {
        detail::require_size("mixed_matrix dequantize output", out.size(), rows() * cols());
        for (std::size_t r = 0; r < rows(); ++r)
            for (std::size_t c = 0; c < cols(); ++c) out[r * cols() + c] = value(r, c);
    }

    /// Scale of group j of a segment as a float decode multiplier (1 for unscaled formats).
    float group_scale(const weight_segment& s, std::size_t j) const {
        switch (info(s.format).scale) {
        case scale_storage::none: return 1.0f;
        case scale_storage::e8m0: return e8m0::decode(s.scales[j]);
        case scale_storage::ue4m3: return ue4m3::decode(s.scales[j]) * nvfp4_tensor_scale_;
        case scale_storage::f32: {
            float v;
            std::memcpy(&v, s.scales + 4 * j, 4);
            return v;
        }
        }
        return 1.0f;
    }

private:
    explicit mixed_matrix(const precision_map& map) : map_(map) {
        for (weight_format f : map.formats()) uses_format_[static_cast<std::size_t>(f)] = true;
        const std::size_t kb = map.k_blocks();
        group_offset_.resize(map.row_groups());
        group_row_bytes_.resize(map.row_groups());
        code_offset_.resize(map.row_groups() * kb);
        scale_offset_.resize(map.row_groups() * kb);
        run_begin_.assign(1, 0);
        std::size_t offset = 0;
        for (std::size_t g = 0; g < map.row_groups(); ++g) {
            std::size_t code_bytes = 0, scale_bytes = 0;
            for (std::size_t b = 0; b < kb; ++b) {
                const weight_format f = map.at(g, b);
                code_offset_[g * kb + b] = code_bytes;
                code_bytes += detail::segment_code_bytes(f, map.block_cols(b));
                if (b == 0 || f != map.at(g, b - 1)) runs_.push_back({b, b + 1});
                else runs_.back().end = b + 1;
            }
            for (std::size_t b = 0; b < kb; ++b) {
                const weight_format f = map.at(g, b);
                scale_offset_[g * kb + b] = code_bytes + scale_bytes;
                scale_bytes += detail::segment_bytes(f, map.block_cols(b)) - detail::segment_code_bytes(f, map.block_cols(b));
            }
            for (std::size_t r = run_begin_.back(); r < runs_.size(); ++r) {
                runs_[r].format = map.at(g, runs_[r].first);
                runs_[r].scaled = info(runs_[r].format).scale != scale_storage::none;
                runs_[r].code_offset = code_offset_[g * kb + runs_[r].first];
                runs_[r].scale_offset = scale_offset_[g * kb + runs_[r].first];
            }
            run_begin_.push_back(runs_.size());
            group_offset_[g] = offset;
            group_row_bytes_[g] = code_bytes + scale_bytes;
            offset += group_row_bytes_[g] * map.group_rows(g);
        }
        data_.assign(offset, 0);
        set_nvfp4_tensor_scale(1.0f);
    }

    void set_nvfp4_tensor_scale(float s) {
        nvfp4_tensor_scale_ = s;
        for (std::uint32_t c = 0; c < 128; ++c) nvfp4_table_[c] = ue4m3::decode(c) * s * 0.5f;
    }

    /// Writes every tile of format f: code(r, c) and raw_scale(r, first column of group).
    template <class Code, class Scale>
    void fill_tiles(weight_format f, Code code, Scale raw_scale) {
        const std::size_t group = info(f).group;
        for (std::size_t g = 0; g < map_.row_groups(); ++g) {
            for (std::size_t b = 0; b < map_.k_blocks(); ++b) {
                if (map_.at(g, b) != f) continue;
                const std::size_t length = map_.block_cols(b), k0 = b * map_.block_k();
                const std::size_t padded = detail::round_up(length, detail::gemm_unit);
                for (std::size_t r = g * map_.tile_rows(); r < g * map_.tile_rows() + map_.group_rows(g); ++r) {
                    const weight_segment s = segment(r, b);
                    auto* codes = const_cast<std::uint8_t*>(s.codes);
                    auto* scales = const_cast<std::uint8_t*>(s.scales);
                    for (std::size_t i = 0; i < length; ++i) detail::set_segment_code(f, codes, i, code(r, k0 + i));
                    for (std::size_t j = 0; j < padded / group; ++j) {
                        // Groups wholly in the padding get a unit scale so 0 * scale stays 0.
                        const bool padding = j * group >= length;
                        const std::uint32_t raw = padding ? 0U : raw_scale(r, k0 + j * group);
                        switch (info(f).scale) {
                        case scale_storage::none: break;
                        case scale_storage::e8m0: scales[j] = padding ? 127 : static_cast<std::uint8_t>(raw); break;
                        case scale_storage::ue4m3: scales[j] = padding ? 0 : static_cast<std::uint8_t>(raw); break;
                        case scale_storage::f32: {
                            const std::uint32_t bits = padding ? detail::bits_of(1.0f) : raw;
                            std::memcpy(scales + 4 * j, &bits, 4);
                            break;
                        }
                        }
                    }
                }
            }
        }
    }

    /// Whether holds(segment) is true for the segment of every row of row group g in `run`.
    template <class Holds>
    bool every_row_of_run(std::size_t g, const block_run& run, Holds holds) const {
        for (std::size_t r = g * map_.tile_rows(); r < g * map_.tile_rows() + map_.group_rows(g); ++r)
            if (!holds(row(r).segment(run))) return false;
        return true;
    }

    /// Sets the per-run flags the kernels read, in one walk over every row group's runs:
    /// block_run::bf16_pair_safe on the BF16 runs whose codes all qualify, and
    /// block_run::scales_normal on the E8M0-scaled runs whose scales all do.
    void mark_runs() {
        auto pair_safe = [](const weight_segment& s) {
            for (std::size_t i = 0; i < s.length; ++i) {
                const float w = bf16::decode(detail::segment_code(weight_format::bf16, s.codes, i));
                if (w == 0.0f || !std::isfinite(w)) continue;
                if (!std::isnormal(w) || std::abs(std::ilogb(w)) > bf16_pair_exponent_limit) return false;
            }
            return true;
        };
        auto normal_scales = [](const weight_segment& s) {
            const float multiplier = info(s.format).code_multiplier;
            const std::size_t scales = detail::round_up(s.length, info(s.format).group) / info(s.format).group;
            for (std::size_t j = 0; j < scales; ++j) {
                const std::uint8_t e = s.scales[j];
                if (e == e8m0::nan_code || !std::isnormal(std::ldexp(multiplier, static_cast<int>(e) - e8m0::bias)))
                    return false;
            }
            return true;
        };
        for (std::size_t g = 0; g < map_.row_groups(); ++g) {
            for (std::size_t ri = run_begin_[g]; ri < run_begin_[g + 1]; ++ri) {
                block_run& run = runs_[ri];
                if (run.format == weight_format::bf16) {
                    run.bf16_pair_safe = every_row_of_run(g, run, pair_safe);
                    has_bf16_pair_safe_runs_ = has_bf16_pair_safe_runs_ || run.bf16_pair_safe;
                } else if (info(run.format).scale == scale_storage::e8m0) {
                    run.scales_normal = every_row_of_run(g, run, normal_scales);
                }
            }
        }
    }

    /// Copies the tiles of format f out of the whole matrix quantized in that format.
    template <class Format>
    void fill_from(weight_format f, const quantized_tensor<Format>& q) {
        const block_geometry geo = q.view().geometry();
        if constexpr (Format::has_tensor_scale) set_nvfp4_tensor_scale(q.tensor_scale());
        fill_tiles(f, [&](std::size_t r, std::size_t c) { return q.code(r, c); },
                   [&](std::size_t r, std::size_t c) -> std::uint32_t {
                       const auto s = q.scales()[geo.scale_index(r, c / geo.group)];
                       if constexpr (std::is_same_v<decltype(s), const float>) return detail::bits_of(s);
                       else return s;
                   });
    }

    precision_map map_;
    std::vector<std::uint8_t> data_;
    std::vector<std::size_t> group_offset_;    ///< first byte of each row group
    std::vector<std::size_t> group_row_bytes_; ///< bytes of one row of each row group
    std::vector<std::size_t> code_offset_;     ///< [group][K-block] codes' offset within a row
    std::vector<std::size_t> scale_offset_;    ///< [group][K-block] scales' offset within a row
    std::vector<block_run> runs_;              ///< runs of one format, row group by row group
    std::vector<std::size_t> run_begin_;       ///< first run of each row group (+ end)
    float nvfp4_tensor_scale_ = 1.0f;
    std::array<float, 128> nvfp4_table_{};
    bool has_bf16_pair_safe_runs_ = false;
    std::array<bool, all_weight_formats.size()> uses_format_{};
};

} // namespace mpq
