# Helpers shared by the einjit CMake files.

# add_einjit_unittest(NAME SOURCES... LIBS ...): a GoogleTest binary run by
# ctest, each test case discovered as its own ctest entry.
function(add_einjit_unittest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
endfunction()
