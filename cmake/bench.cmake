# bench.cmake - `ustcp bench`: the Linux baselines and shared helpers in
# bench/ are compiled into the ustcp CLI beside tools/ustcp/bench_*.c.
file(GLOB USTCP_BENCH_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bench/*.c)
target_sources(ustcp PRIVATE ${USTCP_BENCH_SOURCES})
target_include_directories(ustcp PRIVATE ${PROJECT_SOURCE_DIR}/bench)
