# The safetensors reader is an optional part that needs nlohmann-json.
find_package(nlohmann_json 3 REQUIRED)
target_link_libraries(test_io PRIVATE nlohmann_json::nlohmann_json)
