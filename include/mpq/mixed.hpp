// Mixed precision: model descriptions, precision plans with Qr and bit accounting, the random
// and guided allocation searches, and quantization error analytics.
#pragma once

#include <mpq/mixed/format_cost.hpp>
#include <mpq/mixed/metrics.hpp>
#include <mpq/mixed/model.hpp>
#include <mpq/mixed/plan.hpp>
#include <mpq/mixed/search.hpp>
