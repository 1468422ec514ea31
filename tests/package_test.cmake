# ctest for microtorch as a dependency (run as cmake -DMODE=... -DSOURCE_DIR=... -DBUILD_DIR=... -DWORK=... -P this file):
#   MODE=install           cmake --install BUILD_DIR --prefix WORK/prefix (the fixture of the three below)
#   MODE=find_package      examples/consumer configured with CMAKE_PREFIX_PATH=WORK/prefix
#   MODE=add_subdirectory  examples/consumer configured with MICROTORCH_SOURCE_DIR=SOURCE_DIR (builds the library again)
#   MODE=pkg-config        examples/consumer/main.cpp compiled by CXX with `pkg-config --cflags --libs microtorch`
# Each consumer is built without microtorch's flags (no -march=native), run, and must print exactly what
# EXPECTED_FROM (the same program built in the project, with them) prints: inline code in the headers must give
# the same results whatever flags a consumer compiles it with.
cmake_minimum_required(VERSION 3.21)
set(prefix "${WORK}/prefix")

# run(<what> <command>...): runs a command in ${dir}, failing the test with its output when it fails.
function(run what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${dir}" RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "package_test ${MODE}: ${what} failed (${result}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${prefix}")
  file(MAKE_DIRECTORY "${WORK}")
  set(dir "${WORK}")
  run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
  foreach(file include/tensor/tensor.h include/tensor/version.h include/autograd/var.h include/viz/viz.h
               lib/cmake/microtorch/microtorchConfig.cmake lib/cmake/microtorch/microtorchConfigVersion.cmake
               lib/pkgconfig/microtorch.pc)
    if(NOT EXISTS "${prefix}/${file}")
      message(FATAL_ERROR "package_test install: ${prefix}/${file} was not installed")
    endif()
  endforeach()
  return()
endif()

set(dir "${WORK}/${MODE}")
file(REMOVE_RECURSE "${dir}")
file(MAKE_DIRECTORY "${dir}")
if(MODE STREQUAL "pkg-config")
  set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
  run("pkg-config" pkg-config --cflags --libs microtorch)
  separate_arguments(flags UNIX_COMMAND "${out}")
  run("compiling with the pkg-config flags" ${CXX} -O2 "${SOURCE_DIR}/examples/consumer/main.cpp" ${flags} -o consumer)
else()
  if(MODE STREQUAL "find_package")
    set(how "-DCMAKE_PREFIX_PATH=${prefix}")
  else()
    set(how "-DMICROTORCH_SOURCE_DIR=${SOURCE_DIR}" -DMT_NATIVE=${MT_NATIVE})
  endif()
  run("configuring examples/consumer" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/consumer" -B build
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX} ${how})
  if(MODE STREQUAL "add_subdirectory")
    # Not top level: the library only, none of microtorch's tests, apps, examples or benchmarks.
    file(READ "${dir}/build/CMakeCache.txt" cache)
    foreach(option MT_BUILD_TESTS MT_BUILD_BENCHMARKS MT_BUILD_APPS MT_BUILD_EXAMPLES MT_INSTALL)
      if(NOT cache MATCHES "\n${option}:BOOL=OFF\n")
        message(FATAL_ERROR "package_test: ${option} is not OFF in a consumer's build")
      endif()
    endforeach()
  endif()
  run("building examples/consumer" ${CMAKE_COMMAND} --build build -j2)
  file(RENAME "${dir}/build/consumer" "${dir}/consumer")
endif()
run("the consumer" "${dir}/consumer")
set(got "${out}")
if(NOT EXISTS "${dir}/consumer_loss.png")
  message(FATAL_ERROR "package_test ${MODE}: the consumer drew no consumer_loss.png")
endif()
run("the consumer built in the project" "${EXPECTED_FROM}")
if(NOT got STREQUAL out)
  message(FATAL_ERROR "package_test ${MODE}: the consumer printed\n${got}\nbut built in the project it prints\n${out}")
endif()
message(STATUS "package_test ${MODE}: passed:\n${got}")
