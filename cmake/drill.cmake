# drill.cmake - `ustcp drill` (packetdrill-syntax scripts against ustcp or
# the Linux kernel): the runner's sources join the CLI; the packetdrill
# plug-in build/libustcp_packetdrill.so; the drill tests link what they need.
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

# packetdrill --so_filename plug-in: the whole library plus the plug-in,
# exporting only packetdrill_interface_init.
add_library(ustcp_packetdrill SHARED ${PROJECT_SOURCE_DIR}/tools/drill/plugin.c
                                     ${PROJECT_SOURCE_DIR}/tools/drill/vhost.c
                                     $<TARGET_OBJECTS:ustcp_obj>)
target_include_directories(ustcp_packetdrill PRIVATE ${PROJECT_SOURCE_DIR}/include
                                                     ${PROJECT_SOURCE_DIR}/src
                                                     ${PROJECT_SOURCE_DIR}/tools/drill)
target_compile_options(ustcp_packetdrill PRIVATE -fvisibility=hidden)
target_link_libraries(ustcp_packetdrill PRIVATE Threads::Threads m)
set_target_properties(ustcp_packetdrill PROPERTIES OUTPUT_NAME ustcp_packetdrill
                      LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
file(WRITE ${PROJECT_BINARY_DIR}/ustcp_packetdrill.map
     "{ global: packetdrill_interface_init; local: *; };\n")
target_link_options(ustcp_packetdrill PRIVATE
                    -Wl,--version-script=${PROJECT_BINARY_DIR}/ustcp_packetdrill.map)

# The tests are defined after the cmake/*.cmake files are included, so the
# drill sources are added to tests/drill/test_*.c executables at the end.
function(ustcp_drill_wire_tests)
  foreach(t drill_test_parser drill_test_plugin)
    if(TARGET ${t})
      target_sources(${t} PRIVATE ${USTCP_DRILL_SOURCES})
      target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/tools/drill)
      target_link_libraries(${t} PRIVATE ${CMAKE_DL_LIBS})
    endif()
  endforeach()
  if(TARGET drill_test_plugin)
    add_dependencies(drill_test_plugin ustcp_packetdrill)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL ustcp_drill_wire_tests)
