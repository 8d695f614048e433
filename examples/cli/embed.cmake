# Data files linked into the mpq program (see cmake/mpqEmbed.cmake). Append; reuse a symbol
# rather than embedding the same file twice.

# stories260K in llama2.c's checkpoint and tokenizer formats (mpq generate's default model).
mpq_embed_file(mpq_cli_objects mpq_stories260K_bin "${CMAKE_CURRENT_SOURCE_DIR}/data/stories260K.bin")
mpq_embed_file(mpq_cli_objects mpq_tok512_bin "${CMAKE_CURRENT_SOURCE_DIR}/data/tok512.bin")

# mpq sweep reads any tensor file, safetensors included: that reader needs nlohmann-json.
# The embedded default model is the stories260K checkpoint above (symbol mpq_stories260K_bin).
find_package(nlohmann_json 3 REQUIRED)
target_link_libraries(mpq_cli_objects PUBLIC nlohmann_json::nlohmann_json)

# mpq fit's default data: Cao et al. 2024 (arXiv 2410.06722 v1) Figs. 9-18, digitized (305 points).
mpq_embed_file(mpq_cli_objects mpq_cao2024_csv "${CMAKE_CURRENT_SOURCE_DIR}/data/cao2024v1_digitized_fig9-18.csv")
