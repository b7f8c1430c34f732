# Every build option of mpiflow, in one place.
option(MPIFLOW_WERROR "Treat compiler warnings as errors" OFF)
option(MPIFLOW_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(MPIFLOW_BUILD_TESTS "Build the test suite (only when mpiflow is the top-level project)" ON)
option(MPIFLOW_BUILD_BENCH "Build the benchmark tools under bench/" ON)
option(MPIFLOW_FUZZ "Build the libFuzzer target fuzz_ckpt_libfuzzer (needs clang)" OFF)
set(MPIFLOW_NODE_MODULES "${CMAKE_CURRENT_SOURCE_DIR}/node_modules" CACHE PATH
  "Where `npm ci` put the dashboard's JavaScript libraries (chart.js, @dagrejs/dagre)")
option(MPIFLOW_DASHBOARD_REQUIRE_LIBS
  "Fail the configure step when the dashboard's JavaScript libraries are missing (else the dashboard page says it was built without them)" OFF)
