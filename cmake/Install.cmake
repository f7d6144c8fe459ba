# Install rules: the minicpm-patch executable, the CMake package that finds it and provides
# minicpm_patch_model() and minicpm_verify_model(), and the data files those functions use.
# Every path is relative to the prefix, so an installed tree still works after it is moved.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MINICPM_PATCHES_CONFIG_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/MiniCPMPatches")
set(MINICPM_PATCHES_DATA_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/MiniCPMPatches")

# 1. The executable, exported as MiniCPMPatches::minicpm-patch.
install(TARGETS minicpm-patch EXPORT MiniCPMPatchesTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT MiniCPMPatchesTargets
  NAMESPACE MiniCPMPatches::
  DESTINATION ${MINICPM_PATCHES_CONFIG_DIR})

# 2. The config file, its version file (a newer major version is incompatible) and the module.
configure_package_config_file(cmake/MiniCPMPatchesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/MiniCPMPatchesConfig.cmake
  INSTALL_DESTINATION ${MINICPM_PATCHES_CONFIG_DIR}
  PATH_VARS MINICPM_PATCHES_DATA_INSTALL_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/MiniCPMPatchesConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/MiniCPMPatchesConfig.cmake
  ${PROJECT_BINARY_DIR}/MiniCPMPatchesConfigVersion.cmake
  cmake/MiniCPMPatches.cmake
  DESTINATION ${MINICPM_PATCHES_CONFIG_DIR})

# 3. Data: the smoke-test script and the recipes (the functions read which files a recipe edits).
install(PROGRAMS scripts/minicpm_chat_smoke.py DESTINATION ${MINICPM_PATCHES_DATA_INSTALL_DIR})
install(DIRECTORY recipes/ DESTINATION ${MINICPM_PATCHES_DATA_INSTALL_DIR}/recipes FILES_MATCHING PATTERN "*.json")
