# bench_fit reads the NIST StRD files and the digitized scaling-law data from the source tree.
target_compile_definitions(bench_fit PRIVATE MPQ_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
