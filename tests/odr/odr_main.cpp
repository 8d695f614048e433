#include <string>

std::string odr_version_a();
std::string odr_version_b();

int main() { return odr_version_a() == odr_version_b() ? 0 : 1; }
