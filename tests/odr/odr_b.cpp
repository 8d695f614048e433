#include <mpq/mpq.hpp>

#include <string>

std::string odr_version_b() { return mpq::version_string; }
