# bench_mixed scores precision plans with the stories260K example model (examples/llama/).
target_link_libraries(bench_mixed PRIVATE mpq_llama)
target_compile_definitions(bench_mixed PRIVATE MPQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
