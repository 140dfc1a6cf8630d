# csum-bench.cmake - `csum_bench`: the word-at-a-time checksum against a
# byte-at-a-time reference (a benchmark program, not a test).
add_executable(csum_bench ${PROJECT_SOURCE_DIR}/bench/csum/csum_bench.c)
target_link_libraries(csum_bench PRIVATE ustcp_static)
set_target_properties(csum_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
