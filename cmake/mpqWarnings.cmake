# Flags for mpq's own targets only (tests, examples, benchmarks); never for consumers.
add_library(mpq_project_options INTERFACE)
target_compile_options(mpq_project_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Werror>)
# GCC 12's AVX-512 intrinsic headers trip its own -Wuninitialized (GCC bug 105593, fixed in
# GCC 13) wherever an AVX-512 intrinsic is inlined, and at -O3 its std::string inlining trips
# a false -Wrestrict (GCC bug 105651); only these three diagnostics are turned off.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(mpq_project_options INTERFACE -Wno-uninitialized -Wno-maybe-uninitialized -Wno-restrict)
endif()
if(MPQ_NATIVE)
  target_compile_options(mpq_project_options INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-march=native>)
endif()
target_link_libraries(mpq_project_options INTERFACE mpq::mpq)
