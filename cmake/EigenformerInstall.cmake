include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(EIGENFORMER_CMAKE_DIR ${CMAKE_INSTALL_DATADIR}/cmake/eigenformer)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})


install(TARGETS eigenformer EXPORT eigenformerTargets)
install(EXPORT eigenformerTargets NAMESPACE eigenformer:: DESTINATION ${EIGENFORMER_CMAKE_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_SOURCE_DIR}/cmake/eigenformerConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/eigenformerConfig.cmake
  INSTALL_DESTINATION ${EIGENFORMER_CMAKE_DIR})
# Header-only: one package serves every architecture.
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/eigenformerConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/eigenformerConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/eigenformerConfigVersion.cmake
  DESTINATION ${EIGENFORMER_CMAKE_DIR})
