// mpq/fit: least squares and scaling laws. Levenberg–Marquardt with dual-number Jacobians,
// bounds, weights, fixing, robust loss and multi-start; fail-closed fit statistics; the NIST
// StRD reference suite; the mixed-quantization scaling laws as typed models.
#pragma once

#include <mpq/fit/curve_fit.hpp>
#include <mpq/fit/dual.hpp>
#include <mpq/fit/levenberg_marquardt.hpp>
#include <mpq/fit/options.hpp>
#include <mpq/fit/statistics.hpp>
