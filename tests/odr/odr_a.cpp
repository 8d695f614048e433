// ODR check: the umbrella header in two translation units of one program must link cleanly.
#include <mpq/mpq.hpp>

#include <string>

std::string odr_version_a() { return mpq::version_string; }
