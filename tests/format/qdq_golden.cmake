# Runs mpq qdq on a golden input and compares the output bytes with the golden output.
execute_process(COMMAND "${MPQ}" qdq --format ${FORMAT} --round ${ROUND} --in "${IN}" --out "${OUT}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mpq qdq failed (${rc}): ${err}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${OUT}" "${EXPECTED}" RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "mpq qdq output ${OUT} differs from ${EXPECTED}")
endif()
