# Data files linked into the mpq program (see cmake/mpqEmbed.cmake). Append; reuse a symbol
# rather than embedding the same file twice.

# stories260K in llama2.c's checkpoint and tokenizer formats (mpq generate's default model).
mpq_embed_file(mpq_cli_objects mpq_stories260K_bin "${CMAKE_CURRENT_SOURCE_DIR}/data/stories260K.bin")
mpq_embed_file(mpq_cli_objects mpq_tok512_bin "${CMAKE_CURRENT_SOURCE_DIR}/data/tok512.bin")
