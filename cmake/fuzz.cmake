# fuzz.cmake - fuzz targets (and the unit test replaying fuzz_stack's
# corpus) link the whole library archive: fuzz_stack references the socket
# API weakly (skipping calls the library does not have yet), and weak
# references alone would not pull archive members in.
function(ustcp_fuzz_whole_archive)
  foreach(t fuzz_stack fuzz_wire unit_test_core_stack_replay)
    if(TARGET ${t})
      target_link_options(${t} PRIVATE "LINKER:--whole-archive" $<TARGET_FILE:ustcp_static>
                          "LINKER:--no-whole-archive")
    endif()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL ustcp_fuzz_whole_archive)
