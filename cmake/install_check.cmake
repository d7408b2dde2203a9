# What a user of the installed package does, one STEP per ctest case (tests/CMakeLists.txt):
#   install     install the build tree to WORK_DIR/prefix (the fixture the others need)
#   consumer    configure, build and run tests/install_consumer against the prefix with find_package(crowdline):
#                 NAME        build folder (WORK_DIR/NAME)
#                 COMPONENTS  comma-separated list asked of find_package (empty: none named, i.e. everything)
#                 TARGET      the crowdline target linked; SOURCE the consumer's source
#                 EXPECT / EXPECT_NOT  targets that must / must not exist after find_package (comma-separated)
#                 CONFIGURE_ONLY  ON: stop after configuring (the targets checked, nothing built)
#                 WITHOUT_SQLITE  ON: a machine view without SQLiteCpp — its CMake package cannot be found
#                             (CMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp), and a folder first on the include path
#                             holds SQLiteCpp/*.h, sqlite3.h and boost/beast*.hpp that are #error: including
#                             one fails the build. Then compile_commands.json and build.ninja (link line,
#                             CMake files read) must not name SQLiteCpp, sqlite3, SQLiteCpp's define or beast.
#   unknown_component  find_package(crowdline REQUIRED COMPONENTS core no_such_component) must fail to
#                 configure, naming the component
#   pkg_config  pkg-config --cflags crowdline-core gives the installed include dir and -std=c++20; a TU
#               built with only those flags (and --libs) compiles, links and runs; crowdline.pc adds SQLiteCpp
cmake_minimum_required(VERSION 3.20)
set(prefix ${WORK_DIR}/prefix)
# Lists stay comma-separated all the way into the consumer's CMakeLists.txt (a ; would split arguments).

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${prefix})
  run("installing the build tree" ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
  foreach(f share/cmake/crowdline/crowdline-config.cmake share/cmake/crowdline/crowdline-core-targets.cmake
            share/cmake/crowdline/crowdline-sqlite-targets.cmake share/cmake/crowdline/crowdline-http-targets.cmake
            share/cmake/crowdline/crowdline-targets.cmake share/pkgconfig/crowdline.pc
            share/pkgconfig/crowdline-core.pc include/crowdline/crowdline.hpp include/crowdline/fwd.hpp)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "the install has no ${f}")
    endif()
  endforeach()
  message(STATUS "installed to ${prefix}")

elseif(STEP STREQUAL "consumer")
  set(build ${WORK_DIR}/${NAME})
  file(REMOVE_RECURSE ${build})
  set(extra)
  if(WITHOUT_SQLITE)
    set(poison ${WORK_DIR}/${NAME}-poison)
    foreach(h SQLiteCpp/SQLiteCpp.h SQLiteCpp/Database.h SQLiteCpp/Statement.h SQLiteCpp/Exception.h
              SQLiteCpp/Transaction.h sqlite3.h boost/beast.hpp boost/beast/core.hpp boost/beast/http.hpp
              boost/beast/websocket.hpp)
      file(WRITE ${poison}/${h} "#error \"${h} reached: this consumer must not include it\"\n")
    endforeach()
    list(APPEND extra -DCMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp=ON "-DCMAKE_CXX_FLAGS=-I${poison}")
  endif()
  run("configuring consumer ${NAME} against the installed package"
    ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    -DCONSUMER_COMPONENTS=${COMPONENTS} -DCONSUMER_TARGET=${TARGET} -DCONSUMER_SOURCE=${SOURCE}
    -DCONSUMER_EXPECT=${EXPECT} -DCONSUMER_EXPECT_NOT=${EXPECT_NOT} ${extra})
  if(CONFIGURE_ONLY)
    message(STATUS "consumer ${NAME}: find_package(crowdline COMPONENTS ${COMPONENTS}) gave the targets expected")
    return()
  endif()
  run("building consumer ${NAME}" ${CMAKE_COMMAND} --build ${build})
  if(WITHOUT_SQLITE)
    file(READ ${build}/compile_commands.json commands)
    file(READ ${build}/build.ninja ninja)
    foreach(banned SQLiteCpp sqlite3 SQLITE_ENABLE_COLUMN_METADATA beast)
      if(commands MATCHES "${banned}")
        message(FATAL_ERROR "consumer ${NAME}: its compile line names ${banned}:\n${commands}")
      endif()
      # build.ninja holds the link line and every CMake file the configure read (SQLiteCpp's config too, had
      # it been loaded).
      if(ninja MATCHES "${banned}")
        string(REGEX MATCH "[^\n]*${banned}[^\n]*" line "${ninja}")
        message(FATAL_ERROR "consumer ${NAME}: its build.ninja names ${banned}: ${line}")
      endif()
    endforeach()
    message(STATUS "consumer ${NAME}: no SQLiteCpp, sqlite3 or Beast on its compile or link line, none included")
  endif()
  run("running consumer ${NAME}" ${build}/consumer)
  message(STATUS "consumer ${NAME} printed: ${out}")
  if(NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "consumer ${NAME} did not run correctly")
  endif()

elseif(STEP STREQUAL "unknown_component")
  set(build ${WORK_DIR}/unknown_component)
  file(REMOVE_RECURSE ${build})
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCONSUMER_COMPONENTS=core,no_such_component
    -DCONSUMER_TARGET=crowdline::core -DCONSUMER_SOURCE=core.cpp
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "find_package(crowdline COMPONENTS core no_such_component) succeeded, but must fail")
  endif()
  if(NOT err MATCHES "crowdline has no component 'no_such_component'")
    message(FATAL_ERROR "find_package with an unknown component failed, but without naming it:\n${err}")
  endif()
  message(STATUS "an unknown component fails to configure, as it must")

elseif(STEP STREQUAL "pkg_config")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/share/pkgconfig)
  run("pkg-config --cflags crowdline-core" ${PKG_CONFIG} --cflags crowdline-core)
  string(STRIP "${out}" core_cflags)
  if(NOT core_cflags MATCHES "-I${prefix}/include( |$)" OR NOT core_cflags MATCHES "-std=c\\+\\+20")
    message(FATAL_ERROR "pkg-config --cflags crowdline-core: '${core_cflags}' lacks -I${prefix}/include or -std=c++20")
  endif()
  if(core_cflags MATCHES "SQLITE")
    message(FATAL_ERROR "pkg-config --cflags crowdline-core: '${core_cflags}' names SQLite")
  endif()
  run("pkg-config --libs crowdline-core" ${PKG_CONFIG} --libs crowdline-core)
  string(STRIP "${out}" core_libs)
  run("pkg-config --cflags --libs crowdline" ${PKG_CONFIG} --cflags --libs crowdline)
  string(STRIP "${out}" full_flags)
  if(NOT full_flags MATCHES "-lSQLiteCpp" OR NOT full_flags MATCHES "-lsqlite3" OR NOT full_flags MATCHES "-I${prefix}/include")
    message(FATAL_ERROR "pkg-config --cflags --libs crowdline: '${full_flags}' lacks the include dir, -lSQLiteCpp or -lsqlite3")
  endif()
  message(STATUS "crowdline-core: ${core_cflags} ${core_libs}")
  message(STATUS "crowdline: ${full_flags}")
  # A TU built with crowdline-core's flags alone: routing and the memory store.
  set(dir ${WORK_DIR}/pkg_config)
  file(REMOVE_RECURSE ${dir})
  file(WRITE ${dir}/tu.cpp [=[
#include <crowdline/routing/dispatcher.hpp>
#include <crowdline/store/memory.hpp>
#include <iostream>
struct item {};
struct profile {};
int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>();
    auto const now = crowdline::clock::now();
    d.join(crowdline::worker_id{1}, profile{}, now);
    d.add(crowdline::routing::item_key{1}, item{}, now);
    crowdline::stores::memory db;
    auto t = db.new_task("pkg-config", "mock");
    std::cout << "pkg-config ok: " << d.next(crowdline::worker_id{1}, 1, now).size() << " grant, " << t << "\n";
}
]=])
  separate_arguments(cflags UNIX_COMMAND "${core_cflags}")
  separate_arguments(libs UNIX_COMMAND "${core_libs}")
  run("compiling a TU with pkg-config's crowdline-core flags" ${CXX} ${cflags} ${dir}/tu.cpp -o ${dir}/tu ${libs})
  run("running the pkg-config TU" ${dir}/tu)
  message(STATUS "${out}")
  if(NOT out MATCHES "pkg-config ok")
    message(FATAL_ERROR "the pkg-config TU did not run correctly")
  endif()

else()
  message(FATAL_ERROR "install_check.cmake: unknown STEP '${STEP}'")
endif()
