# Compiles SOURCE (syntax only) and passes iff compilation fails with the text of its `// build error:` line.
file(STRINGS ${SOURCE} expected REGEX "^// build error: ")
if(NOT expected)
  message(FATAL_ERROR "${SOURCE} has no `// build error: <text>` line")
endif()
execute_process(
  COMMAND ${COMPILER} -std=c++20 -fsyntax-only -I${INCLUDE} ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but must fail")
endif()
foreach(line IN LISTS expected)
  string(REPLACE "// build error: " "" text "${line}")
  string(FIND "${out}${err}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} failed, but without the expected message \"${text}\". Compiler said:\n${err}")
  endif()
  message(STATUS "failed as expected with: ${text}")
endforeach()
