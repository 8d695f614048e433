# The golden-vector index is JSON; the test reads it with nlohmann-json (a test-only dependency).
find_package(nlohmann_json 3 REQUIRED)
target_link_libraries(test_format PRIVATE nlohmann_json::nlohmann_json)

# mpq formats / mpq qdq end to end.
if(TARGET mpq_program)
  set(vectors "${MPQ_TEST_DATA_DIR}/vectors")
  add_test(NAME format.cli.formats COMMAND mpq_program formats)
  set_tests_properties(format.cli.formats PROPERTIES PASS_REGULAR_EXPRESSION "mxint4 +INT4 q/2\\^2 +4 +32 +4\\.25")
  add_test(NAME format.cli.help COMMAND mpq_program)
  set_tests_properties(format.cli.help PROPERTIES PASS_REGULAR_EXPRESSION "usage: mpq <command>")
  add_test(NAME format.cli.version COMMAND mpq_program --version)
  set_tests_properties(format.cli.version PROPERTIES PASS_REGULAR_EXPRESSION "^mpq [0-9]+\\.[0-9]+\\.[0-9]+")
  # qdq reproduces golden vectors byte for byte (cases without zeros or NaN, whose sign/payload
  # is not pinned).
  foreach(run IN ITEMS "ref_rne;fp8_e4m3;normal" "ref_away;fp4_e2m1;ties__fp4_e2m1" "ref_rne;fp6_e3m2;heavy_tail")
    list(GET run 0 producer)
    list(GET run 1 element)
    list(GET run 2 case)
    set(format "mx${element}")
    if(element STREQUAL "fp4_e2m1")
      set(format mxfp4)
    elseif(element MATCHES "^fp")
      set(format "mx${element}")
    endif()
    set(round rne)
    if(producer STREQUAL "ref_away")
      set(round away)
    endif()
    add_test(NAME format.cli.qdq_golden_${element}_${case}
      COMMAND "${CMAKE_COMMAND}" -DMPQ=$<TARGET_FILE:mpq_program> -DFORMAT=${format} -DROUND=${round}
              -DIN=${vectors}/inputs/${case}.f32 -DEXPECTED=${vectors}/${producer}/${element}_bs32/${case}.deq.f32
              -DOUT=${CMAKE_CURRENT_BINARY_DIR}/qdq_${element}_${case}.f32
              -P "${CMAKE_CURRENT_SOURCE_DIR}/format/qdq_golden.cmake")
  endforeach()
  # Errors: one line on stderr and exit status 2.
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/five_bytes.f32" "12345")
  foreach(case IN ITEMS
      "unknown_format|--format;mxfp5;--in;${vectors}/inputs/normal.f32;--out;x.f32|unknown format 'mxfp5'"
      "unreadable|--format;mxfp4;--in;/nonexistent/in.f32;--out;x.f32|cannot read '/nonexistent/in.f32'"
      "not_multiple_of_4|--format;mxfp4;--in;${CMAKE_CURRENT_BINARY_DIR}/five_bytes.f32;--out;x.f32|5 bytes, not a whole number"
      "bad_cols|--format;mxfp4;--cols;3000;--in;${vectors}/inputs/normal.f32;--out;x.f32|not a whole number of rows"
      "bad_round|--format;mxfp4;--round;up;--in;${vectors}/inputs/normal.f32;--out;x.f32|unknown --round 'up'"
      "bad_block|--format;nvfp4;--block;32;--in;${vectors}/inputs/normal.f32;--out;x.f32|nvfp4 blocks are 16"
      "tensor_amax_not_nvfp4|--format;mxfp4;--tensor-amax;2;--in;${vectors}/inputs/normal.f32;--out;x.f32|tensor_amax applies only to formats with a tensor scale"
      "tensor_amax_negative|--format;nvfp4;--tensor-amax;-1;--in;${vectors}/inputs/normal.f32;--out;x.f32|tensor_amax must be finite and >= 0")
    string(REPLACE "|" ";" parts "${case}")
    list(GET parts 0 name)
    list(GET parts -1 message)
    list(REMOVE_AT parts 0 -1)
    add_test(NAME format.cli.qdq_error_${name}
      COMMAND "${CMAKE_COMMAND}" -DMPQ=$<TARGET_FILE:mpq_program> "-DARGS=${parts}" "-DMESSAGE=${message}"
              -P "${CMAKE_CURRENT_SOURCE_DIR}/format/expect_usage_error.cmake")
  endforeach()
endif()
