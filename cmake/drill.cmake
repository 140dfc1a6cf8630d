# drill.cmake - `ustcp drill` (packetdrill-syntax scripts against ustcp or
# the Linux kernel): the runner's sources join the CLI; the parser unit test
# and the packetdrill plug-in link them too.
set(USTCP_DRILL_SOURCES
    ${PROJECT_SOURCE_DIR}/tools/drill/lexer.c
    ${PROJECT_SOURCE_DIR}/tools/drill/parser.c
    ${PROJECT_SOURCE_DIR}/tools/drill/calls.c
    ${PROJECT_SOURCE_DIR}/tools/drill/pkt.c
    ${PROJECT_SOURCE_DIR}/tools/drill/runner.c
    ${PROJECT_SOURCE_DIR}/tools/drill/vhost.c
    ${PROJECT_SOURCE_DIR}/tools/drill/target_ustcp.c
    ${PROJECT_SOURCE_DIR}/tools/drill/target_linux.c)
target_sources(ustcp PRIVATE ${USTCP_DRILL_SOURCES})
target_include_directories(ustcp PRIVATE ${PROJECT_SOURCE_DIR}/tools/drill)

# The tests are defined after the cmake/*.cmake files are included, so the
# drill sources are added to tests/drill/test_*.c executables at the end.
function(ustcp_drill_wire_tests)
  foreach(t drill_test_parser)
    if(TARGET ${t})
      target_sources(${t} PRIVATE ${USTCP_DRILL_SOURCES})
      target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/tools/drill)
    endif()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL ustcp_drill_wire_tests)
