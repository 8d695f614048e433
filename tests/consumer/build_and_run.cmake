# Configures, builds and runs one consumer project, like ctest --build-and-test, but builds
# in parallel: that runs its build tool one job at a time, and every_format's two
# translation units take a minute each at -O3.
#   cmake -DSOURCE=<project> -DBINARY=<build dir> -DMPQ_SOURCE_DIR=<mpq> -DPROGRAM=<name>
#         -DBUILD_TYPE=<type> -P build_and_run.cmake
foreach(var SOURCE BINARY MPQ_SOURCE_DIR PROGRAM BUILD_TYPE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_and_run.cmake: ${var} is not set")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result})")
  endif()
endfunction()

run_step("configure" "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" "-DMPQ_SOURCE_DIR=${MPQ_SOURCE_DIR}"
         "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
run_step("build" "${CMAKE_COMMAND}" --build "${BINARY}" --parallel)
run_step("${PROGRAM}" "${BINARY}/${PROGRAM}")
