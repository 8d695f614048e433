find_package(fmt REQUIRED)
target_link_libraries(test_numeric PRIVATE fmt::fmt)
