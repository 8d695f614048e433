# The llama tests exercise the inference example's headers (examples/llama/) and read the
# model from examples/data/.
target_link_libraries(test_llama PRIVATE mpq_llama)

# The mpq generate sub-command, end to end on the embedded model.
if(TARGET mpq_program)
  add_test(NAME llama.cli.generate_greedy COMMAND mpq_program generate --steps 30)
  set_tests_properties(llama.cli.generate_greedy PROPERTIES
    PASS_REGULAR_EXPRESSION "^Once upon a time, there was a little girl named Lily\\. She loved")
  add_test(NAME llama.cli.generate_file COMMAND mpq_program generate
           "${PROJECT_SOURCE_DIR}/examples/data/stories260K.bin" --steps 12 --temperature 0.8 --seed 7
           --tokenizer "${PROJECT_SOURCE_DIR}/examples/data/tok512.bin")
  add_test(NAME llama.cli.generate_bad_model COMMAND mpq_program generate
           "${PROJECT_SOURCE_DIR}/examples/data/tok512.bin")
  set_tests_properties(llama.cli.generate_bad_model PROPERTIES
    PASS_REGULAR_EXPRESSION "hidden_dim is 0")
  # Under a matmul-wise MXINT4/BF16 plan (Qr 0.91) the story still starts the same way.
  foreach(variant IN ITEMS gemm emulate)
    set(extra_flag "")
    if(variant STREQUAL "emulate")
      set(extra_flag "--emulate")
    endif()
    add_test(NAME llama.cli.generate_plan_${variant} COMMAND mpq_program generate --steps 20
             --plan "${CMAKE_CURRENT_SOURCE_DIR}/llama/plan_matmul_mxint4.txt" ${extra_flag})
    set_tests_properties(llama.cli.generate_plan_${variant} PROPERTIES
      PASS_REGULAR_EXPRESSION "^Once upon a time, there was a little girl")
  endforeach()
  add_test(NAME llama.cli.generate_plan_missing COMMAND mpq_program generate --plan /nonexistent/plan.txt)
  set_tests_properties(llama.cli.generate_plan_missing PROPERTIES PASS_REGULAR_EXPRESSION "cannot read plan")
endif()
