# Dependencies: the system package first (Debian's here), FetchContent as the fallback so
# users on machines without the packages still build.
include(FetchContent)
include(GNUInstallDirs)

FetchContent_Declare(Eigen3
  URL https://gitlab.com/libeigen/eigen/-/archive/3.4.0/eigen-3.4.0.tar.gz
  DOWNLOAD_EXTRACT_TIMESTAMP TRUE
  FIND_PACKAGE_ARGS 3.3 NO_MODULE)
FetchContent_Declare(nlohmann_json
  URL https://github.com/nlohmann/json/releases/download/v3.11.2/json.tar.xz
  DOWNLOAD_EXTRACT_TIMESTAMP TRUE
  FIND_PACKAGE_ARGS 3.10)
if(CMAKE_VERSION VERSION_LESS 3.24)
  # FIND_PACKAGE_ARGS needs CMake 3.24; older CMake only searches the system.
  find_package(Eigen3 3.3 REQUIRED NO_MODULE)
  find_package(nlohmann_json 3.10 REQUIRED)
else()
  set(EIGEN_BUILD_DOC OFF)
  set(EIGEN_BUILD_TESTING OFF)
  set(BUILD_TESTING OFF)
  set(JSON_BuildTests OFF CACHE INTERNAL "")
  FetchContent_MakeAvailable(Eigen3 nlohmann_json)
endif()

# utf8proc (tokenizer) and stb (image I/O) ship only pkg-config files on Debian.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(EIGENFORMER_UTF8PROC QUIET IMPORTED_TARGET libutf8proc)
  pkg_check_modules(EIGENFORMER_STB QUIET IMPORTED_TARGET stb)
endif()

# libjpeg (JPEG decoding in image/, eigenformer::image): CMake's FindJPEG gives JPEG::JPEG.
# Debian's libjpeg-dev is libjpeg-turbo, the decoder OpenCV and PIL use there.
find_package(JPEG QUIET)
