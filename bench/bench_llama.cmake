# bench_llama runs the inference example's headers (examples/llama/) on examples/data/.
target_include_directories(bench_llama PRIVATE "${PROJECT_SOURCE_DIR}/examples")
target_compile_definitions(bench_llama PRIVATE MPQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
