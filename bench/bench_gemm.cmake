# bench_gemm: OpenBLAS's cblas_sgemm as the float32 baseline when it is installed (Debian's
# libopenblas-dev); the program builds without it and then skips BM_sgemm_openblas.
find_library(MPQ_OPENBLAS_LIBRARY NAMES openblas)
find_path(MPQ_OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas x86_64-linux-gnu/openblas-pthread)
if(MPQ_OPENBLAS_LIBRARY AND MPQ_OPENBLAS_INCLUDE_DIR)
  target_include_directories(bench_gemm PRIVATE "${MPQ_OPENBLAS_INCLUDE_DIR}")
  target_link_libraries(bench_gemm PRIVATE "${MPQ_OPENBLAS_LIBRARY}")
  target_compile_definitions(bench_gemm PRIVATE MPQ_BENCH_HAVE_OPENBLAS=1)
endif()
