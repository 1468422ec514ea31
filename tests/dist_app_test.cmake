# The app under mpirun (tests/CMakeLists.txt): cmake -DMPIRUN=... -DAPP=mnist -DDATA=fashion-dir -DWORK=dir -P this.
# 1. One Fashion-MNIST epoch on 2 ranks of batch 16 (global batch 32) reaches the accuracy of one process of
#    batch 32 within 0.5 points, and only rank 0 prints and writes.
# 2. --help prints once and ends cleanly.
# 3. A rank whose data is missing ends the whole job, with its message, instead of leaving rank 0 waiting.
if(NOT EXISTS "${DATA}/t10k-images-idx3-ubyte.gz" OR NOT EXISTS "${DATA}/train-images-idx3-ubyte.gz")
  if("$ENV{MT_REQUIRE_DATA}" STREQUAL "1")
    message(FATAL_ERROR "Fashion-MNIST not found in ${DATA}")
  endif()
  message("SKIPPED: Fashion-MNIST not found in ${DATA}")
  return()
endif()
file(REMOVE_RECURSE "${WORK}")
set(common --dataset fashion --data ${DATA} --epochs 1 --no-figures --quiet)

function(test_accuracy output result)
  string(REGEX MATCHALL "Test accuracy: [0-9.]+" lines "${output}")
  list(LENGTH lines count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "expected one 'Test accuracy' line (rank 0's), got ${count}:\n${output}")
  endif()
  string(REGEX REPLACE "Test accuracy: " "" value "${lines}")
  set(${result} ${value} PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${MPIRUN} -np 2 ${APP} --help RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
string(REGEX MATCHALL "Usage: mnist" usage "${out}")
list(LENGTH usage count)
if(NOT code EQUAL 0 OR NOT count EQUAL 1)
  message(FATAL_ERROR "mpirun -np 2 mnist --help: exit ${code}, ${count} copies of the help (want 0 and 1)\n${out}${err}")
endif()

execute_process(COMMAND ${APP} ${common} --threads 1 --out ${WORK}/single RESULT_VARIABLE code OUTPUT_VARIABLE out
                ERROR_VARIABLE err TIMEOUT 200)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "single process: exit ${code}\n${out}${err}")
endif()
test_accuracy("${out}" single)

execute_process(COMMAND ${MPIRUN} -np 2 ${APP} ${common} --batch-size 16 --out ${WORK}/ranks
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 200)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "2 ranks: exit ${code}\n${out}${err}")
endif()
test_accuracy("${out}" ranks)
message(STATUS "test accuracy: one process ${single}, 2 ranks ${ranks}\n${out}")
if(NOT out MATCHES "2 ranks x batch 16: global batch 32")
  message(FATAL_ERROR "the run does not say its global batch:\n${out}")
endif()
# CMake's math() has no fractions: compare in units of 1e-4.
string(REGEX REPLACE "^0\\.([0-9][0-9][0-9][0-9]).*" "\\1" single_e4 "${single}")
string(REGEX REPLACE "^0\\.([0-9][0-9][0-9][0-9]).*" "\\1" ranks_e4 "${ranks}")
math(EXPR gap "${ranks_e4} - ${single_e4}")
if(gap LESS -50 OR gap GREATER 50)
  message(FATAL_ERROR "2 ranks reached ${ranks}, one process ${single}: more than 0.5 points apart")
endif()
foreach(file model.bin metrics.csv metrics.json)
  if(NOT EXISTS ${WORK}/ranks/${file})
    message(FATAL_ERROR "rank 0 did not write ${file}")
  endif()
endforeach()

# Rank 1 alone is given a directory without data (an MPMD command line).
execute_process(COMMAND ${MPIRUN} -np 1 ${APP} ${common} --out ${WORK}/broken : -np 1 ${APP} --dataset fashion
                        --data ${WORK}/nowhere --epochs 1 --no-figures --quiet --out ${WORK}/broken
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT code MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the job did not end within 60 s (${code}) when rank 1 had no data:\n${out}${err}")
endif()
if(code EQUAL 0 OR NOT err MATCHES "rank 1: error: Fashion-MNIST test: files not found" OR NOT err MATCHES "nowhere")
  message(FATAL_ERROR "rank 1 had no data, yet: exit ${code}\n${out}${err}")
endif()
file(REMOVE_RECURSE "${WORK}")
