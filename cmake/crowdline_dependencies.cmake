# The Debian 12 packages crowdline builds on, found the way each package exports itself.
# Shared by the build tree (REQUIRED) and the installed package config (find_dependency), so a consumer
# finds exactly what crowdline was built with.
include(CMakeFindDependencyMacro)
macro(_crowdline_find)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "crowdline")
    find_dependency(${ARGN})
  else()
    find_package(${ARGN} REQUIRED)
  endif()
endmacro()
set(THREADS_PREFER_PTHREAD_FLAG ON)
_crowdline_find(Threads)
_crowdline_find(Boost 1.74)                 # libboost-dev: Hana, Beast, Asio (headers only)
_crowdline_find(range-v3 CONFIG)            # librange-v3-dev: no two-part version in its config
_crowdline_find(SQLiteCpp CONFIG)           # libsqlitecpp-dev: target SQLiteCpp
_crowdline_find(nlohmann_json 3.11 CONFIG)  # nlohmann-json3-dev
