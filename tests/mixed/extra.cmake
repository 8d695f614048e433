# mpq sweep end to end (timing off so the runs stay short and deterministic).
if(TARGET mpq_program)
  add_test(NAME mixed.cli.sweep_embedded
           COMMAND mpq_program sweep --no-timing --formats mxint4,nvfp4 --blocks 32,row)
  set_tests_properties(mixed.cli.sweep_embedded PROPERTIES
    PASS_REGULAR_EXPRESSION "stories260K \\(embedded\\) — 36 tensors, 259328 values.*36 tensors +mxint4 +32 +31\\.2 +4\\.256 +18\\.3[0-9] .*nvfp4 +16")
  add_test(NAME mixed.cli.sweep_gguf_tensor
           COMMAND mpq_program sweep "${PROJECT_SOURCE_DIR}/examples/data/stories260K-f32.gguf"
                   --tensor token_embd.weight,blk.0.ffn_down.weight --formats mxfp4 --blocks 16,tensor
                   --no-timing --csv "${CMAKE_CURRENT_BINARY_DIR}/sweep_gguf.csv"
                   --plot "${CMAKE_CURRENT_BINARY_DIR}/sweep_gguf.svg")
  set_tests_properties(mixed.cli.sweep_gguf_tensor PROPERTIES
    PASS_REGULAR_EXPRESSION "token_embd.weight +mxfp4 +16 .*blk.0.ffn_down.weight +mxfp4 +tensor +11008\\.0")
  add_test(NAME mixed.cli.sweep_synthetic
           COMMAND mpq_program sweep --synthetic student-t:3 --size 8192 --cols 1024 --seed 5 --layout flat
                   --formats mxint8,int4 --blocks 16,512 --time-ms 1)
  set_tests_properties(mixed.cli.sweep_synthetic PROPERTIES
    PASS_REGULAR_EXPRESSION "student-t:3 \\(8 x 1024, seed 5\\).*int4 +512 +512\\.0 .*baseline: memcpy")
  add_test(NAME mixed.cli.sweep_bad_tensor COMMAND mpq_program sweep --tensor nope --no-timing)
  set_tests_properties(mixed.cli.sweep_bad_tensor PROPERTIES
    PASS_REGULAR_EXPRESSION "no tensor 'nope' in stories260K")
  add_test(NAME mixed.cli.sweep_bad_synthetic COMMAND mpq_program sweep --synthetic cauchy)
  set_tests_properties(mixed.cli.sweep_bad_synthetic PROPERTIES
    PASS_REGULAR_EXPRESSION "unknown --synthetic 'cauchy'")
  add_test(NAME mixed.cli.sweep_bad_file COMMAND mpq_program sweep "${PROJECT_SOURCE_DIR}/examples/data/README.md")
  set_tests_properties(mixed.cli.sweep_bad_file PROPERTIES PASS_REGULAR_EXPRESSION "unrecognised tensor file")
endif()
