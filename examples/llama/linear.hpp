// The one interface every matrix multiplication of the model goes through.
//
// A linear layer computes y = W x for a weight matrix W of n rows (outputs) and k columns
// (inputs), stored row-major, applied to m input vectors at once. The model builds each of
// its layers through a `linear_factory`, so a different number format, a precision plan or a
// different GEMM changes only the factory, never the model code.
#pragma once

// xsimd through mpq: mpq reads GCC's intrinsic headers with their false warnings off.
#include <mpq/kernel/compat.hpp>

#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpq::llama {

/// Which matrix of a transformer layer (or the classifier) a linear layer computes.
enum class linear_role { wq, wk, wv, wo, w1, w2, w3, classifier };

inline constexpr linear_role all_layer_roles[] = {linear_role::wq, linear_role::wk,
                                                  linear_role::wv, linear_role::wo,
                                                  linear_role::w1, linear_role::w2,
                                                  linear_role::w3};

inline const char* role_name(linear_role r) {
    switch (r) {
    case linear_role::wq: return "wq";
    case linear_role::wk: return "wk";
    case linear_role::wv: return "wv";
    case linear_role::wo: return "wo";
    case linear_role::w1: return "w1";
    case linear_role::w2: return "w2";
    case linear_role::w3: return "w3";
    case linear_role::classifier: return "classifier";
    }
    return "?";
}

/// Where a linear layer sits in the model: its transformer layer and role. The classifier
/// has layer == n_layers (it comes after the last transformer layer).
struct linear_site {
    std::size_t layer = 0;
    linear_role role = linear_role::wq;
    std::size_t rows = 0; ///< n, output features
    std::size_t cols = 0; ///< k, input features (the dimension quantization blocks run along)

    /// "layers.3.w1" or "classifier".
    std::string name() const {
        if (role == linear_role::classifier) return "classifier";
        return "layers." + std::to_string(layer) + "." + role_name(role);
    }
};

/// y = W x for an n × k matrix W, on m input vectors at once.
class linear_layer {
public:
    virtual ~linear_layer() = default;

    virtual std::size_t rows() const = 0; ///< n
    virtual std::size_t cols() const = 0; ///< k

    /// For each of the m rows x_t of `x` (m × k, row-major) writes y_t = W x_t into row t of
    /// `y` (m × n, row-major). Must be safe to call concurrently from several threads. The
    /// result of one row must not depend on m or on the other rows (so a sequence gives the
    /// same numbers whether it is fed token by token or all at once). Throws
    /// std::invalid_argument when the spans do not hold m rows.
    virtual void forward(std::span<const float> x, std::span<float> y, std::size_t m) const = 0;

protected:
    void check_shapes(std::span<const float> x, std::span<float> y, std::size_t m) const {
        if (x.size() != m * cols() || y.size() != m * rows())
            throw std::invalid_argument("linear_layer: " + std::to_string(m) + " rows need x of " +
                                        std::to_string(m * cols()) + " and y of " +
                                        std::to_string(m * rows()) + " values, got " +
                                        std::to_string(x.size()) + " and " +
                                        std::to_string(y.size()));
    }
};

/// Makes the linear layer of `site` from its float32 weights (site.rows × site.cols,
/// row-major). The weights are only valid during the call; layers keep their own copy.
using linear_factory =
    std::function<std::unique_ptr<linear_layer>(const linear_site& site, std::span<const float> weights)>;

namespace detail {

/// Y rows of Tile inputs against outputs [i, i + Chunks·width) of a transposed weight matrix
/// wt (k × n, row-major): every output is a chain of fused multiply-adds over j = 0 .. k-1 in
/// order, so SIMD lanes, tiles and the scalar tail all give the same bits.
template <std::size_t Tile, std::size_t Chunks>
inline void product_block(const float* wt, std::size_t n, std::size_t k, const float* const* x,
                          float* const* y, std::size_t i) {
    using batch = xsimd::batch<float>;
    constexpr std::size_t width = batch::size;
    batch acc[Tile][Chunks];
    for (auto& row : acc)
        for (auto& a : row) a = batch(0.0f);
    for (std::size_t j = 0; j < k; ++j) {
        batch w[Chunks];
        for (std::size_t c = 0; c < Chunks; ++c) w[c] = batch::load_unaligned(wt + j * n + i + c * width);
        for (std::size_t t = 0; t < Tile; ++t) {
            const batch xj(x[t][j]);
            for (std::size_t c = 0; c < Chunks; ++c) acc[t][c] = xsimd::fma(xj, w[c], acc[t][c]);
        }
    }
    for (std::size_t t = 0; t < Tile; ++t)
        for (std::size_t c = 0; c < Chunks; ++c) acc[t][c].store_unaligned(y[t] + i + c * width);
}

template <std::size_t Tile>
inline void product_rows(const float* wt, std::size_t n, std::size_t k, const float* const* x,
                         float* const* y) {
    constexpr std::size_t width = xsimd::batch<float>::size;
    std::size_t i = 0;
    // Enough independent accumulator chains to hide the multiply-add latency.
    if constexpr (Tile < 4)
        for (; i + 4 * width <= n; i += 4 * width) product_block<Tile, 4>(wt, n, k, x, y, i);
    for (; i + 2 * width <= n; i += 2 * width) product_block<Tile, 2>(wt, n, k, x, y, i);
    for (; i + width <= n; i += width) product_block<Tile, 1>(wt, n, k, x, y, i);
    for (; i < n; ++i)
        for (std::size_t t = 0; t < Tile; ++t) {
            float acc = 0.0f;
            for (std::size_t j = 0; j < k; ++j) acc = std::fma(x[t][j], wt[j * n + i], acc);
            y[t][i] = acc;
        }
}

} // namespace detail

/// Y = X Wᵀ in float32 from the transposed weights wt (k × n, row-major): the reference every
/// quantized path is measured against.
///
/// Inputs are taken four at a time and outputs two SIMD vectors at a time, so each weight
/// row of wt is loaded once per four inputs and no horizontal sums are needed. Each output
/// is the in-order fused multiply-add chain over k, whatever m, the tiling or the SIMD width.
inline void matmul_transposed_f32(std::span<const float> wt, std::size_t n, std::size_t k,
                                  std::span<const float> x, std::span<float> y, std::size_t m) {
    constexpr std::size_t tile = 4;
    std::size_t t0 = 0;
    for (; t0 + tile <= m; t0 += tile) {
        const float* xs[tile] = {&x[t0 * k], &x[(t0 + 1) * k], &x[(t0 + 2) * k], &x[(t0 + 3) * k]};
        float* ys[tile] = {&y[t0 * n], &y[(t0 + 1) * n], &y[(t0 + 2) * n], &y[(t0 + 3) * n]};
        detail::product_rows<tile>(wt.data(), n, k, xs, ys);
    }
    for (; t0 < m; ++t0) {
        const float* xs[1] = {&x[t0 * k]};
        float* ys[1] = {&y[t0 * n]};
        detail::product_rows<1>(wt.data(), n, k, xs, ys);
    }
}

/// The transpose of a row-major rows × cols matrix.
inline std::vector<float> transposed(std::span<const float> w, std::size_t rows, std::size_t cols) {
    std::vector<float> t(w.size());
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) t[j * rows + i] = w[i * cols + j];
    return t;
}

/// The float32 linear layer: keeps W (and its transpose, the layout its product reads).
class float32_linear final : public linear_layer {
public:
    /// Throws std::invalid_argument unless `weights` holds rows × cols values (both > 0).
    float32_linear(std::span<const float> weights, std::size_t rows, std::size_t cols)
        : weights_(weights.begin(), weights.end()), rows_(rows), cols_(cols) {
        if (rows == 0 || cols == 0 || weights.size() != rows * cols)
            throw std::invalid_argument("float32_linear: " + std::to_string(weights.size()) +
                                        " weights for a " + std::to_string(rows) + " x " +
                                        std::to_string(cols) + " matrix");
        transposed_ = transposed(weights_, rows, cols);
    }
    std::size_t rows() const override { return rows_; }
    std::size_t cols() const override { return cols_; }
    void forward(std::span<const float> x, std::span<float> y, std::size_t m) const override {
        check_shapes(x, y, m);
        matmul_transposed_f32(transposed_, rows_, cols_, x, y, m);
    }
    std::span<const float> weights() const { return weights_; }

private:
    std::vector<float> weights_, transposed_;
    std::size_t rows_, cols_;
};

/// The default factory: every layer in float32.
inline std::unique_ptr<linear_layer> make_float32_linear(const linear_site& site,
                                                         std::span<const float> weights) {
    return std::make_unique<float32_linear>(weights, site.rows, site.cols);
}

/// Quantize-then-dequantize of one row of values along K (`in` and `out` have the same
/// length, which is the row length k). Empty means "leave in float32".
using row_fake_quantizer = std::function<void(std::span<const float> in, std::span<float> out)>;

/// Quantize-then-dequantize of a whole row-major rows × cols weight matrix (so formats with
/// one scale per tensor, or plans that split a matrix in blocks, can be expressed). Empty
/// means "leave in float32".
using matrix_fake_quantizer = std::function<void(std::span<const float> in, std::span<float> out,
                                                 std::size_t rows, std::size_t cols)>;

/// A matrix quantizer that applies `row` to every row on its own.
inline matrix_fake_quantizer row_by_row(row_fake_quantizer row) {
    if (!row) return {};
    return [row = std::move(row)](std::span<const float> in, std::span<float> out, std::size_t rows,
                                  std::size_t cols) {
        for (std::size_t i = 0; i < rows; ++i) row(in.subspan(i * cols, cols), out.subspan(i * cols, cols));
    };
}

/// The number formats one linear layer is emulated in.
struct fake_quant_choice {
    matrix_fake_quantizer weights;  ///< applied once to W
    row_fake_quantizer activations; ///< applied to every input row x_t on every call
};

/// A linear layer whose weights and/or inputs pass through a quantize-dequantize round trip
/// before a float32 product: numerically what a mixed-precision GEMM computes (up to the
/// order of accumulation), at float32 speed. Used to run experiments before the real
/// quantized GEMM exists, and as its reference afterwards.
class fake_quantized_linear final : public linear_layer {
public:
    fake_quantized_linear(std::span<const float> weights, std::size_t rows, std::size_t cols,
                          fake_quant_choice choice)
        : product_(quantize_weights(weights, rows, cols, choice.weights), rows, cols),
          activations_(std::move(choice.activations)) {}

    std::size_t rows() const override { return product_.rows(); }
    std::size_t cols() const override { return product_.cols(); }
    void forward(std::span<const float> x, std::span<float> y, std::size_t m) const override {
        check_shapes(x, y, m);
        if (!activations_) {
            product_.forward(x, y, m);
            return;
        }
        // One scratch buffer per thread: forward stays const and thread-safe without
        // allocating on every call once the buffer has grown.
        thread_local std::vector<float> quantized_x;
        quantized_x.resize(x.size());
        const std::size_t k = cols();
        for (std::size_t t = 0; t < m; ++t)
            activations_(x.subspan(t * k, k), std::span<float>(quantized_x).subspan(t * k, k));
        product_.forward(quantized_x, y, m);
    }
    /// The weights after their round trip.
    std::span<const float> weights() const { return product_.weights(); }

private:
    static std::vector<float> quantize_weights(std::span<const float> w, std::size_t rows,
                                               std::size_t cols, const matrix_fake_quantizer& q) {
        if (rows == 0 || cols == 0 || w.size() != rows * cols)
            throw std::invalid_argument("fake_quantized_linear: " + std::to_string(w.size()) +
                                        " weights for a " + std::to_string(rows) + " x " +
                                        std::to_string(cols) + " matrix");
        std::vector<float> out(w.begin(), w.end());
        if (q) q(w, out, rows, cols);
        return out;
    }

    float32_linear product_;
    row_fake_quantizer activations_;
};

/// A factory that asks `plan` for the formats of each layer and builds a fake-quantized
/// layer, or a float32 one where the plan leaves both weights and activations empty.
inline linear_factory fake_quantized_factory(
    std::function<fake_quant_choice(const linear_site&)> plan) {
    return [plan = std::move(plan)](const linear_site& site, std::span<const float> weights)
               -> std::unique_ptr<linear_layer> {
        fake_quant_choice choice = plan(site);
        if (!choice.weights && !choice.activations) return make_float32_linear(site, weights);
        return std::make_unique<fake_quantized_linear>(weights, site.rows, site.cols,
                                                       std::move(choice));
    };
}

} // namespace mpq::llama
