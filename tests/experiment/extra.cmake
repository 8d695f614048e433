# The experiment tests exercise examples/llama/experiment.hpp and read the model from examples/data/.
target_link_libraries(test_experiment PRIVATE mpq_llama)

# mpq experiment end to end on the embedded model. --smoke is the smallest grid that still
# takes every path (searches at two granularities, Qb sweep, fits, CSV, plots, speed), so it
# stays within seconds under ASan+UBSan; --quick (the CI-sized grid) runs under a minute in
# a release build.
if(TARGET mpq_program)
  set(experiment_out "${CMAKE_CURRENT_BINARY_DIR}/experiment_smoke")
  add_test(NAME experiment.cli.smoke COMMAND mpq_program experiment --smoke --csv "${experiment_out}.csv"
           --plot-dir "${experiment_out}_plots")
  set_tests_properties(experiment.cli.smoke PROPERTIES
    PASS_REGULAR_EXPRESSION "wrote 12 rows to .*delta_vs_qb_mxint4_W_A\\.svg.*decode speed"
    FIXTURES_SETUP experiment_smoke)
  add_test(NAME experiment.cli.smoke_csv COMMAND "${CMAKE_COMMAND}" -E cat "${experiment_out}.csv")
  set_tests_properties(experiment.cli.smoke_csv PROPERTIES
    PASS_REGULAR_EXPRESSION "^sweep,format,granularity,qb,search,target_qr.*\nqb,mxint4 W\\+A,block,256,guided,0\\.5,"
    FIXTURES_REQUIRED experiment_smoke)
  add_test(NAME experiment.cli.bad_usage COMMAND mpq_program experiment --quick --smoke)
  set_tests_properties(experiment.cli.bad_usage PROPERTIES PASS_REGULAR_EXPRESSION "exclude each other")
endif()
