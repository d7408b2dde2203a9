# The Debian 12 packages crowdline builds on, per component, found the way each package exports itself.
# Shared by the build tree and the installed package config, so a consumer finds exactly what crowdline
# was built with, and only what the components it asks for need:
#   core    Threads, Boost (headers: Hana; Beast and Asio for http), range-v3, nlohmann_json
#   sqlite  core + SQLiteCpp (which brings SQLite3)
#   http    core: Beast and Asio are Boost headers, the server's threads are Threads; nothing more
#           (no OpenSSL: the server speaks plain HTTP)
#   prolific  http + OpenSSL (providers::prolific calls Prolific over HTTPS); opt-in, never implied
#   postgres  core + libpqxx (stores::postgres), found through its pkg-config file (Debian 12's libpqxx-dev
#             ships no CMake package) as PkgConfig::crowdline_libpqxx; opt-in, never implied
#
# crowdline_find_dependencies(<component> [REQUIRED|OPTIONAL]) is a macro, so that a find_dependency()
# that fails returns from the package config itself, as it must. In the build tree every package is
# REQUIRED; in the installed config a required component uses find_dependency() (failing the whole
# find_package) and an OPTIONAL one looks QUIETly and sets crowdline_<component>_FOUND to FALSE when a
# package is missing.
include(CMakeFindDependencyMacro)

# _crowdline_dependency(<component> <how> <package> [find_package arguments...])
macro(_crowdline_dependency _cl_component _cl_how _cl_package)
  if(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "crowdline")
    find_package(${_cl_package} ${ARGN} REQUIRED)
  elseif("${_cl_how}" STREQUAL "OPTIONAL")
    find_package(${_cl_package} ${ARGN} QUIET)
    if(NOT ${_cl_package}_FOUND)
      set(crowdline_${_cl_component}_FOUND FALSE)
    endif()
  else()
    find_dependency(${_cl_package} ${ARGN})
  endif()
endmacro()

macro(crowdline_find_dependencies _crowdline_component)
  set(_crowdline_how "${ARGN}")
  if("${_crowdline_component}" STREQUAL "core")
    set(THREADS_PREFER_PTHREAD_FLAG ON)
    _crowdline_dependency(core "${_crowdline_how}" Threads)
    _crowdline_dependency(core "${_crowdline_how}" Boost 1.74)                 # libboost-dev (headers only)
    _crowdline_dependency(core "${_crowdline_how}" range-v3 CONFIG)            # librange-v3-dev: no two-part version
    _crowdline_dependency(core "${_crowdline_how}" nlohmann_json 3.11 CONFIG)  # nlohmann-json3-dev
  elseif("${_crowdline_component}" STREQUAL "sqlite")
    _crowdline_dependency(sqlite "${_crowdline_how}" SQLiteCpp CONFIG)         # libsqlitecpp-dev: target SQLiteCpp
  elseif("${_crowdline_component}" STREQUAL "prolific")
    _crowdline_dependency(prolific "${_crowdline_how}" OpenSSL)               # libssl-dev: OpenSSL::SSL, ::Crypto
  elseif("${_crowdline_component}" STREQUAL "postgres")
    _crowdline_dependency(postgres "${_crowdline_how}" PkgConfig)             # pkg-config
    if(PkgConfig_FOUND AND NOT TARGET PkgConfig::crowdline_libpqxx)
      if(CMAKE_FIND_PACKAGE_NAME STREQUAL "crowdline")
        # In the installed config, a missing libpqxx leaves the component not found, which
        # check_required_components() reports for a required one.
        pkg_check_modules(crowdline_libpqxx QUIET IMPORTED_TARGET libpqxx)
      else()
        pkg_check_modules(crowdline_libpqxx REQUIRED IMPORTED_TARGET libpqxx)    # libpqxx-dev
      endif()
    endif()
    if(NOT TARGET PkgConfig::crowdline_libpqxx)
      set(crowdline_postgres_FOUND FALSE)
    endif()
  elseif("${_crowdline_component}" STREQUAL "http")
    # Boost.Beast and Boost.Asio are headers of libboost-dev, and Threads: both found for core.
  else()
    message(FATAL_ERROR "crowdline_find_dependencies: unknown component '${_crowdline_component}'")
  endif()
endmacro()
