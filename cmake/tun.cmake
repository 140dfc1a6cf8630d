# tun.cmake - helper programs of the TUN interop tests (tests/interop).
add_executable(tun_selftest ${PROJECT_SOURCE_DIR}/tests/interop/tun_selftest.c)
target_link_libraries(tun_selftest PRIVATE ustcp_static)
target_include_directories(tun_selftest PRIVATE ${PROJECT_SOURCE_DIR}/tests)
set_target_properties(tun_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
