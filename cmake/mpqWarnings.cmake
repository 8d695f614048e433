# Flags for mpq's own targets only (tests, examples, benchmarks); never for consumers.
add_library(mpq_project_options INTERFACE)
target_compile_options(mpq_project_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Werror>)
# At -O3 GCC 12's std::string inlining trips a false -Wrestrict (GCC bug 105651) in code that
# concatenates strings; only that diagnostic is turned off. (GCC 12's false uninitialised
# warnings from its AVX-512 intrinsic headers are handled in mpq/detail/x86_intrinsics.hpp,
# where consumers get the same treatment.)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(mpq_project_options INTERFACE -Wno-restrict)
endif()
if(MPQ_NATIVE)
  target_compile_options(mpq_project_options INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-march=native>)
endif()
target_link_libraries(mpq_project_options INTERFACE mpq::mpq)
