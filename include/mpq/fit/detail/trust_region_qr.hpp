// The linear algebra of a MINPACK-style Levenberg–Marquardt step: Householder QR with
// column pivoting, the least-squares solve of [J; √λ·D]·p ≈ [−f; 0] that reuses R, and Moré's
// iteration for the λ whose step just fits the trust region. All routines work in
// caller-provided storage (column-major matrices) and never allocate.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

namespace mpq::fit::detail {

inline double norm2(const double* v, std::size_t n) {
    // Two-pass scaled norm: avoids overflow/underflow for extreme residuals.
    double scale = 0;
    for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(v[i]));
    if (scale == 0 || !std::isfinite(scale)) return scale;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = v[i] / scale;
        sum += t * t;
    }
    return scale * std::sqrt(sum);
}

/// Factorises the m×n column-major matrix a (m ≥ n) as A·P = Q·R in place. On return the
/// strict upper triangle of a holds R's off-diagonal, `r_diagonal` its diagonal, and column j
/// below the diagonal the Householder vector v_j (v_j[0] = 1 implied) with factor `tau[j]`.
/// `permutation[j]` is the original index of the j-th pivoted column; `column_norms` receives
/// the norms of A's columns. `work` needs n entries.
inline void pivoted_qr(double* a, std::size_t m, std::size_t n, std::size_t* permutation, double* r_diagonal,
                       double* tau, double* column_norms, double* work) {
    double* partial = r_diagonal; // running norms of the not-yet-factorised parts, reused
    for (std::size_t j = 0; j < n; ++j) {
        column_norms[j] = norm2(a + j * m, m);
        partial[j] = column_norms[j];
        work[j] = column_norms[j];
        permutation[j] = j;
    }
    for (std::size_t j = 0; j < n; ++j) {
        // Bring the column with the largest remaining norm to position j.
        std::size_t best = j;
        for (std::size_t k = j + 1; k < n; ++k)
            if (partial[k] > partial[best]) best = k;
        if (best != j) {
            std::swap_ranges(a + j * m, a + j * m + m, a + best * m);
            std::swap(partial[j], partial[best]);
            std::swap(work[j], work[best]);
            std::swap(permutation[j], permutation[best]);
        }
        double* col = a + j * m;
        const double alpha = col[j];
        const double tail = norm2(col + j + 1, m - j - 1);
        if (tail == 0) { // already triangular in this column
            tau[j] = 0;
            r_diagonal[j] = alpha;
            continue;
        }
        const double beta = -std::copysign(std::hypot(alpha, tail), alpha);
        tau[j] = (beta - alpha) / beta;
        const double inv = 1 / (alpha - beta);
        for (std::size_t i = j + 1; i < m; ++i) col[i] *= inv;
        // Apply H_j = I − τ v vᵀ to the remaining columns and downdate their norms.
        for (std::size_t k = j + 1; k < n; ++k) {
            double* ck = a + k * m;
            double s = ck[j];
            for (std::size_t i = j + 1; i < m; ++i) s += col[i] * ck[i];
            s *= tau[j];
            ck[j] -= s;
            for (std::size_t i = j + 1; i < m; ++i) ck[i] -= s * col[i];
            if (partial[k] != 0) {
                double t = ck[j] / partial[k];
                t = std::max(0.0, 1 - t * t);
                const double ratio = partial[k] / work[k];
                if (t * ratio * ratio <= 1e-8) { // cancellation: recompute from scratch
                    partial[k] = norm2(ck + j + 1, m - j - 1);
                    work[k] = partial[k];
                } else {
                    partial[k] *= std::sqrt(t);
                }
            }
        }
        r_diagonal[j] = beta;
    }
}

/// Overwrites the m-vector v with Qᵀ·v using the reflectors stored by pivoted_qr.
inline void apply_qt(const double* a, std::size_t m, std::size_t n, const double* tau, double* v) {
    for (std::size_t j = 0; j < n; ++j) {
        if (tau[j] == 0) continue;
        const double* col = a + j * m;
        double s = v[j];
        for (std::size_t i = j + 1; i < m; ++i) s += col[i] * v[i];
        s *= tau[j];
        v[j] -= s;
        for (std::size_t i = j + 1; i < m; ++i) v[i] -= s * col[i];
    }
}

/// Given R (n×n, column-major in r: upper triangle incl. diagonal), the permutation, a
/// diagonal d and qtb = first n entries of Qᵀb, solves min ‖[A; D]·x − [b; 0]‖ for x.
/// On return the strict lower triangle of r and `s_diagonal` hold the triangular factor S
/// with Pᵀ(AᵀA + DᵀD)P = SᵀS; R's upper triangle is kept. `work` needs n entries.
inline void solve_damped(double* r, std::size_t n, const std::size_t* permutation, const double* d,
                         const double* qtb, double* x, double* s_diagonal, double* work) {
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = j; i < n; ++i) r[i + j * n] = r[j + i * n];
        x[j] = r[j + j * n];
        work[j] = qtb[j];
    }
    // Eliminate the diagonal D row by row with Givens rotations.
    for (std::size_t j = 0; j < n; ++j) {
        const double dj = d[permutation[j]];
        if (dj != 0) {
            std::fill(s_diagonal + j, s_diagonal + n, 0.0);
            s_diagonal[j] = dj;
            double qtbpj = 0;
            for (std::size_t k = j; k < n; ++k) {
                if (s_diagonal[k] == 0) continue;
                double c, s;
                const double rkk = r[k + k * n];
                if (std::abs(rkk) < std::abs(s_diagonal[k])) {
                    const double cot = rkk / s_diagonal[k];
                    s = 0.5 / std::sqrt(0.25 + 0.25 * cot * cot);
                    c = s * cot;
                } else {
                    const double t = s_diagonal[k] / rkk;
                    c = 0.5 / std::sqrt(0.25 + 0.25 * t * t);
                    s = c * t;
                }
                r[k + k * n] = c * rkk + s * s_diagonal[k];
                const double t = c * work[k] + s * qtbpj;
                qtbpj = -s * work[k] + c * qtbpj;
                work[k] = t;
                for (std::size_t i = k + 1; i < n; ++i) {
                    const double u = c * r[i + k * n] + s * s_diagonal[i];
                    s_diagonal[i] = -s * r[i + k * n] + c * s_diagonal[i];
                    r[i + k * n] = u;
                }
            }
        }
        s_diagonal[j] = r[j + j * n];
        r[j + j * n] = x[j];
    }
    // Back-substitute; a singular S gives the minimum-norm-in-the-leading-block solution.
    std::size_t rank = n;
    for (std::size_t j = 0; j < n; ++j) {
        if (s_diagonal[j] == 0 && rank == n) rank = j;
        if (rank < n) work[j] = 0;
    }
    for (std::size_t jj = rank; jj-- > 0;) {
        double sum = 0;
        for (std::size_t i = jj + 1; i < rank; ++i) sum += r[i + jj * n] * work[i];
        work[jj] = (work[jj] - sum) / s_diagonal[jj];
    }
    for (std::size_t j = 0; j < n; ++j) x[permutation[j]] = work[j];
}

/// Moré's Levenberg–Marquardt parameter: finds λ ≥ 0 such that the step x solving
/// min ‖[A; √λ·D]·x − [b; 0]‖ has ‖D·x‖ within 10 % of `radius` (or λ = 0 when the
/// Gauss–Newton step already fits). `lambda` is the starting guess and the result. Uses
/// r/permutation/qtb as in solve_damped; work1 and work2 need n entries each.
inline void lm_parameter(double* r, std::size_t n, const std::size_t* permutation, const double* d,
                         const double* qtb, double radius, double& lambda, double* x, double* s_diagonal,
                         double* work1, double* work2) {
    constexpr double tiny = std::numeric_limits<double>::min();
    // Gauss–Newton step (least-squares solution if R is singular).
    std::size_t rank = n;
    for (std::size_t j = 0; j < n; ++j) {
        work1[j] = qtb[j];
        if (r[j + j * n] == 0 && rank == n) rank = j;
        if (rank < n) work1[j] = 0;
    }
    for (std::size_t jj = rank; jj-- > 0;) {
        work1[jj] /= r[jj + jj * n];
        const double t = work1[jj];
        for (std::size_t i = 0; i < jj; ++i) work1[i] -= r[i + jj * n] * t;
    }
    for (std::size_t j = 0; j < n; ++j) x[permutation[j]] = work1[j];

    for (std::size_t j = 0; j < n; ++j) work2[j] = d[j] * x[j];
    double dx_norm = norm2(work2, n);
    double excess = dx_norm - radius;
    if (excess <= 0.1 * radius) {
        lambda = 0;
        return;
    }
    // Lower bound from the Newton step on φ(λ) = ‖D·x(λ)‖ − radius (only with full rank).
    double lower = 0;
    if (rank == n) {
        for (std::size_t j = 0; j < n; ++j) work1[j] = d[permutation[j]] * (work2[permutation[j]] / dx_norm);
        for (std::size_t j = 0; j < n; ++j) {
            double sum = 0;
            for (std::size_t i = 0; i < j; ++i) sum += r[i + j * n] * work1[i];
            work1[j] = (work1[j] - sum) / r[j + j * n];
        }
        const double t = norm2(work1, n);
        lower = ((excess / radius) / t) / t;
    }
    // Upper bound from the gradient.
    for (std::size_t j = 0; j < n; ++j) {
        double sum = 0;
        for (std::size_t i = 0; i <= j; ++i) sum += r[i + j * n] * qtb[i];
        work1[j] = sum / d[permutation[j]];
    }
    const double gradient_norm = norm2(work1, n);
    double upper = gradient_norm / radius;
    if (upper == 0) upper = tiny / std::min(radius, 0.1);

    lambda = std::clamp(lambda, lower, upper);
    if (lambda == 0) lambda = gradient_norm / dx_norm;

    for (int iteration = 1;; ++iteration) {
        if (lambda == 0) lambda = std::max(tiny, 0.001 * upper);
        const double root = std::sqrt(lambda);
        for (std::size_t j = 0; j < n; ++j) work1[j] = root * d[j];
        solve_damped(r, n, permutation, work1, qtb, x, s_diagonal, work2);
        for (std::size_t j = 0; j < n; ++j) work2[j] = d[j] * x[j];
        dx_norm = norm2(work2, n);
        const double previous = excess;
        excess = dx_norm - radius;
        if (std::abs(excess) <= 0.1 * radius || (lower == 0 && excess <= previous && previous < 0) ||
            iteration == 10)
            return;
        // Newton correction for λ from the factor S that solve_damped left behind.
        for (std::size_t j = 0; j < n; ++j) work1[j] = d[permutation[j]] * (work2[permutation[j]] / dx_norm);
        for (std::size_t j = 0; j < n; ++j) {
            work1[j] /= s_diagonal[j];
            const double t = work1[j];
            for (std::size_t i = j + 1; i < n; ++i) work1[i] -= r[i + j * n] * t;
        }
        const double t = norm2(work1, n);
        const double correction = ((excess / radius) / t) / t;
        if (excess > 0) lower = std::max(lower, lambda);
        if (excess < 0) upper = std::min(upper, lambda);
        lambda = std::max(lower, lambda + correction);
    }
}

} // namespace mpq::fit::detail
