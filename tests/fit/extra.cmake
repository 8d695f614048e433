# CLI tests of `mpq fit` and `mpq nist` (the NIST data is tests/data/nist, copied from NIST StRD).
if(TARGET mpq_program)
  add_test(NAME fit_cli_nist COMMAND mpq_program nist "${MPQ_TEST_DATA_DIR}/nist")
  set_tests_properties(fit_cli_nist PROPERTIES PASS_REGULAR_EXPRESSION "runs with >= 6 digits: 54/54, mean LRE: (9\\.[3-9]|1[01]\\.)")
  add_test(NAME fit_cli_weak COMMAND mpq_program fit --law weak --filter figure=Fig.\ 9 --plot "${CMAKE_CURRENT_BINARY_DIR}/fit_weak.svg")
  set_tests_properties(fit_cli_weak PROPERTIES PASS_REGULAR_EXPRESSION "weak law, Fig\\. 9 Qwen1\\.5 SlimPajama matmul-wise \\(30 points\\)")
  add_test(NAME fit_cli_exp_json COMMAND mpq_program fit --law exp --json)
  set_tests_properties(fit_cli_exp_json PROPERTIES PASS_REGULAR_EXPRESSION "\"r_squared_log\"")
  # Bad input: one line on stderr, exit status 2.
  set(mpq_fit_bad_csv "${CMAKE_CURRENT_BINARY_DIR}/fit_bad.csv")
  file(WRITE "${mpq_fit_bad_csv}" "Qr,N,delta\n0.5,1,2\n0.9,2,-1\n0.95,4,3\n0.99,8,4\n")
  set(mpq_fit_ragged_csv "${CMAKE_CURRENT_BINARY_DIR}/fit_ragged.csv")
  file(WRITE "${mpq_fit_ragged_csv}" "Qr,N,delta\n0.5,1\n")
  foreach(case IN ITEMS
      "law_unknown|fit --law cubic"
      "missing_column|fit --law weak --csv ${mpq_fit_bad_csv} --x Qr,M --y delta"
      "nonpositive|fit --law weak --csv ${mpq_fit_bad_csv} --x Qr,N --y delta"
      "ragged|fit --law weak --csv ${mpq_fit_ragged_csv} --x Qr,N --y delta"
      "too_few|fit --law strong --csv ${mpq_fit_bad_csv} --x Qr,N,N --y delta --filter Qr=0.5"
      "no_embedded_power|fit --law power"
      "nist_no_dir|nist /nonexistent")
    string(REPLACE "|" ";" parts "${case}")
    list(GET parts 0 name)
    list(GET parts 1 cmdline)
    separate_arguments(cmd UNIX_COMMAND "${cmdline}")
    add_test(NAME fit_cli_error_${name}
             COMMAND sh -c "\"$0\" \"$@\" 2>err_${name}.txt; s=$?; cat err_${name}.txt; test $s -eq 2 && test $(wc -l < err_${name}.txt) -eq 1"
                     $<TARGET_FILE:mpq_program> ${cmd})
    # Each test its own stderr file: ctest runs them in parallel in one directory.
    set_tests_properties(fit_cli_error_${name} PROPERTIES WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endforeach()
endif()
