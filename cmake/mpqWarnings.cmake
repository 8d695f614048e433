# Flags for mpq's own targets only (tests, examples, benchmarks); never for consumers.
add_library(mpq_project_options INTERFACE)
target_compile_options(mpq_project_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Werror>)
if(MPQ_NATIVE)
  target_compile_options(mpq_project_options INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-march=native>)
endif()
target_link_libraries(mpq_project_options INTERFACE mpq::mpq)
