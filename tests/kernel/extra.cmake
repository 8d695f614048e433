# The kernel tests also check the runtime dispatch: build its per-ISA units into test_kernel.
include("${PROJECT_SOURCE_DIR}/cmake/mpqDispatch.cmake")
mpq_add_dispatch(test_kernel)
