# bench_mixed scores precision plans with the stories260K example model (examples/llama/).
target_include_directories(bench_mixed PRIVATE "${PROJECT_SOURCE_DIR}/examples")
target_compile_definitions(bench_mixed PRIVATE MPQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
