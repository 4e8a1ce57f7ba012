# `cmake --install`: the public headers, the libraries a program linking
# einjit::runtime needs, the tools and the CMake package, so that another
# project can
#   find_package(einjit CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE einjit::runtime)
# (runtime/README.md, "Installing and using einjit from CMake").
#
# Exported targets (namespace einjit::):
#   einjit::runtime    EinjitRuntime: einsum(), compileEinsum(), explain(),
#                      Tensor, .npy files. What a program links.
#   einjit::spec       EinjitSpec: the parser, binder and path planner alone
#                      (einjit/Spec/, LLVM only).
#   einjit::compiler   EinjitCompiler: the MLIR compiler, exported only as
#                      einjit::runtime's dependency; its MLIR-facing headers
#                      (Compiler.h, the dialect, the passes) are not
#                      installed.
#   einjit::nn         EinjitNN: EinsumDense, MultiHeadAttention, SGD and
#                      Adam on einjit::runtime (einjit/nn/).
#   einjit::einsum-run, einjit::einsum-opt   the tools.
#
# The installed headers include LLVM's ADT/Support headers and never MLIR's
# (test/install checks it). The libraries are static; the package finds
# LLVM and MLIR 22 (shared libLLVM and libMLIR) itself.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EINJIT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/einjit)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/compiler/include/einjit/Spec
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/einjit
        FILES_MATCHING PATTERN "*.h")
# The plain C++ part of the compiler's interface that the runtime's headers
# name (Compiler.h itself needs MLIR).
set(compiler_headers ${PROJECT_SOURCE_DIR}/compiler/include/einjit/Compiler)
install(FILES ${compiler_headers}/GpuTarget.h ${compiler_headers}/KernelChoice.h
              ${compiler_headers}/Stage.h
              ${compiler_headers}/TargetInfo.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/einjit/Compiler)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/einjit/runtime
                  ${PROJECT_SOURCE_DIR}/nn/include/einjit/nn
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/einjit
        FILES_MATCHING PATTERN "*.h")

set_target_properties(EinjitSpec PROPERTIES EXPORT_NAME spec)
set_target_properties(EinjitCompiler PROPERTIES EXPORT_NAME compiler)
set_target_properties(EinjitRuntime PROPERTIES EXPORT_NAME runtime)
set_target_properties(EinjitNN PROPERTIES EXPORT_NAME nn)
# Inside the build the include directories come from include_directories();
# an installed target carries the installed ones. LLVM's own include
# directory is added by einjitConfig.cmake (LLVM's imported targets carry
# none).
target_include_directories(EinjitSpec INTERFACE
                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(EinjitSpec PUBLIC cxx_std_17)
# The tools find libLLVM and libMLIR where they were linked from.
set_target_properties(einsum-run einsum-opt PROPERTIES
                      INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS EinjitSpec EinjitCompiler EinjitRuntime EinjitNN einsum-run
                einsum-opt
        EXPORT einjitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT einjitTargets NAMESPACE einjit::
        DESTINATION ${EINJIT_INSTALL_CMAKEDIR})

set(EINJIT_INCLUDE_INSTALL_DIR ${CMAKE_INSTALL_INCLUDEDIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/einjitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/einjitConfig.cmake
  INSTALL_DESTINATION ${EINJIT_INSTALL_CMAKEDIR}
  PATH_VARS EINJIT_INCLUDE_INSTALL_DIR)
# 0.x: a minor version may change the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/einjitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/einjitConfig.cmake
              ${PROJECT_BINARY_DIR}/einjitConfigVersion.cmake
        DESTINATION ${EINJIT_INSTALL_CMAKEDIR})
