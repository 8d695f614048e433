# The golden-vector index is JSON; the test reads it with nlohmann-json (a test-only dependency).
find_package(nlohmann_json 3 REQUIRED)
target_link_libraries(test_format PRIVATE nlohmann_json::nlohmann_json)
