# The llama tests exercise the inference example's headers (examples/llama/) and read the
# model from examples/data/.
target_include_directories(test_llama PRIVATE "${PROJECT_SOURCE_DIR}/examples")
