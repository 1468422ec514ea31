# cmake -DMPIRUN="mpirun;-np;2" -DPROGRAM=dist_rank_dies -DHOW=kill|throw|exit -P dist_rank_dies_test.cmake
# Passes when the job ends by itself, with a non-zero exit code, well within the timeout.
set(limit 60)
string(TIMESTAMP start "%s")
execute_process(COMMAND ${MPIRUN} ${PROGRAM} ${HOW} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT ${limit})
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
message(STATUS "mpirun exit: ${code} after ${seconds} s\n${out}${err}")
if(NOT code MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the job did not end by itself within ${limit} s (${code}): a dead rank left the others waiting")
endif()
if(code EQUAL 0)
  message(FATAL_ERROR "the job reported success although rank 1 failed (${HOW})")
endif()
if(HOW STREQUAL "throw" AND NOT err MATCHES "leaving its dist::Environment by an exception")
  message(FATAL_ERROR "the failing rank did not say why the job ends")
endif()
