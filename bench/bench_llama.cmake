# bench_llama runs the inference example's headers (examples/llama/) on examples/data/.
target_link_libraries(bench_llama PRIVATE mpq_llama)
target_compile_definitions(bench_llama PRIVATE MPQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
