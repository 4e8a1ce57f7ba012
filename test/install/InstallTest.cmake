# Driver of the install-consumer test (cmake -P; test/install/CMakeLists.txt):
#  1. installs BUILD_DIR into WORK_DIR/prefix (a fresh one each run);
#  2. fails if an installed header includes an MLIR header (mlir/...);
#  3. configures CONSUMER_DIR against the prefix with find_package(einjit),
#     builds it (the program and one file per installed header) and runs
#     it, and runs the installed einsum-run and einsum-opt.
cmake_minimum_required(VERSION 3.20)
foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "InstallTest.cmake needs -D${var}=...")
  endif()
endforeach()
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})

# Runs a command; its output is shown only if it fails.
function(run what)
  string(TIMESTAMP t0 "%s")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  string(TIMESTAMP t1 "%s")
  if(NOT rc EQUAL 0)
    message("${out}")
    message(FATAL_ERROR "install-consumer: ${what} failed (${rc}): ${ARGN}")
  endif()
  math(EXPR seconds "${t1} - ${t0}")
  message(STATUS "install-consumer: ${what} (${seconds} s)")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The public headers must not need MLIR: no #include of mlir/... in any
# installed file under include/.
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(expected einjit/runtime/Einsum.h einjit/runtime/Explain.h
                 einjit/runtime/Tensor.h einjit/Spec/Equation.h
                 einjit/Compiler/Stage.h)
  if(NOT expected IN_LIST headers)
    message(FATAL_ERROR "install-consumer: ${expected} was not installed")
  endif()
endforeach()
set(bad "")
foreach(header IN LISTS headers)
  file(STRINGS ${prefix}/include/${header} lines
       REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]mlir/")
  foreach(line IN LISTS lines)
    string(APPEND bad "  ${header}: ${line}\n")
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR
          "install-consumer: installed headers include MLIR:\n${bad}")
endif()
list(LENGTH headers count)
message(STATUS
        "install-consumer: ${count} installed headers, none includes MLIR")

set(configure_args -S ${CONSUMER_DIR} -B ${consumer_build} -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
run("configure the consumer" ${CMAKE_COMMAND} ${configure_args})
run("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build})
run("run the consumer" ${consumer_build}/einjit-consumer)
message(STATUS "${run_output}")
run("installed einsum-run" ${prefix}/bin/einsum-run "ij,jk->ik" f32:2x3
    f32:3x2)
run("installed einsum-opt" ${prefix}/bin/einsum-opt --version)
