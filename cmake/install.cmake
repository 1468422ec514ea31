# `cmake --install build --prefix P` puts into P: the headers under include/ in the source layout
# (include/tensor/tensor.h, include/autograd/var.h, ...), the module libraries (static, or shared with
# -DBUILD_SHARED_LIBS=ON), the CMake package (find_package(microtorch 0.2 CONFIG REQUIRED), target
# microtorch::microtorch and one per module, microtorch::tensor ... microtorch::viz), microtorch.pc, and
# the mnist app when it is built.
include(CMakePackageConfigHelpers)

set(MT_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/microtorch")

install(DIRECTORY ${MT_MODULES} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
        FILES_MATCHING PATTERN "*.h")
install(FILES "${PROJECT_BINARY_DIR}/generated/tensor/version.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tensor
        COMPONENT development)

set(mt_libraries)
foreach(module IN LISTS MT_MODULES)
  list(APPEND mt_libraries mt_${module})
endforeach()
install(TARGETS ${mt_libraries} microtorch EXPORT microtorchTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(EXPORT microtorchTargets NAMESPACE microtorch:: DESTINATION ${MT_CMAKE_DIR} COMPONENT development)

if(TARGET mnist)
  # Installed next to lib/, the app finds the shared libraries relative to itself.
  set_target_properties(mnist PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS mnist RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()

configure_package_config_file(cmake/microtorchConfig.cmake.in "${PROJECT_BINARY_DIR}/microtorchConfig.cmake"
                              INSTALL_DESTINATION ${MT_CMAKE_DIR})
# 0.x: a minor version may change the API, so 0.2 is satisfied by 0.2.* only.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/microtorchConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/microtorchConfig.cmake" "${PROJECT_BINARY_DIR}/microtorchConfigVersion.cmake"
        DESTINATION ${MT_CMAKE_DIR} COMPONENT development)

# pkg-config: a static library needs its private dependencies on the consumer's link line too.
if(BUILD_SHARED_LIBS)
  set(MT_PC_REQUIRES "cairo")
  set(MT_PC_REQUIRES_PRIVATE "zlib")
else()
  set(MT_PC_REQUIRES "cairo zlib")
  set(MT_PC_REQUIRES_PRIVATE "")
endif()
set(MT_PC_LIBS "")
if(MT_SANITIZE)
  set(MT_PC_LIBS " -fsanitize=address,undefined")  # instrumented code needs the sanitizer runtime
endif()
foreach(module IN ITEMS train nn optim autograd datasets viz tensor)  # each before what it uses
  string(APPEND MT_PC_LIBS " -lmicrotorch_${module}")
endforeach()
# Relocatable: the prefix is found from the .pc file's own place, so `cmake --install --prefix P` (chosen after
# configuring) and a moved prefix both give the right paths.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH MT_PC_UP "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  set(MT_PC_PREFIX "\${pcfiledir}/${MT_PC_UP}")
endif()
configure_file(cmake/microtorch.pc.in "${PROJECT_BINARY_DIR}/microtorch.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/microtorch.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT development)
