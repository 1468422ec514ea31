# A data-parallel run stopped by a signal and resumed ends with the bits of an uninterrupted one
# (tests/CMakeLists.txt): cmake -DMPIRUN=... -DAPP=mnist -DDATA=mnist-dir -DWORK=dir -P this.
# The cnn (dropout masks, batch norm statistics) on 2 ranks of batch 16, on MNIST test images:
# 1. straight through 4 epochs;
# 2. the same run, with SIGTERM sent to mpirun once epoch 1 is written: mpirun passes it on to the ranks, which
#    finish their step, agree to stop (the stop flag travels with the gradients), and rank 0 writes the
#    checkpoint; the job must not report success;
# 3. `mpirun -np 2 mnist --resume`: the same model.bin, metrics (the cut epoch's sums are every rank's) and test
#    accuracy as 1.
if(NOT EXISTS "${DATA}/t10k-images-idx3-ubyte.gz")
  message(FATAL_ERROR "MNIST test images not found in ${DATA}")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/resumed")
set(args train --model cnn --data ${DATA} --train-on-test 1200 --val-size 200 --epochs 4 --seed 4 --batch-size 16
    --quiet --no-figures)
set(job ${MPIRUN} -np 2 ${APP} ${args})

execute_process(COMMAND ${job} --out ${WORK}/straight RESULT_VARIABLE code OUTPUT_VARIABLE straight ERROR_VARIABLE err
                TIMEOUT 600)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "straight run: exit ${code}\n${straight}${err}")
endif()

# The shell starts the job, waits (at most 300 s) for epoch 1's metrics, and signals mpirun in epoch 2.
list(JOIN job " " job_line)
set(stop_script "${job_line} --out ${WORK}/resumed > ${WORK}/stopped.log 2>&1 & job=$!
waited=0
while [ ! -f ${WORK}/resumed/metrics.csv ] && [ $waited -lt 30000 ]; do sleep 0.01; waited=$((waited + 1)); done
sleep 0.1
kill -TERM $job
wait $job")
execute_process(COMMAND sh -c "${stop_script}" RESULT_VARIABLE code TIMEOUT 600)
file(READ ${WORK}/stopped.log stopped)
if(code EQUAL 0)
  message(FATAL_ERROR "mpirun reported success for a job stopped by SIGTERM:\n${stopped}")
endif()
if(NOT stopped MATCHES "\\[interrupted\\]" OR NOT stopped MATCHES "mnist --resume ${WORK}/resumed goes on from there")
  message(FATAL_ERROR "the job did not stop in the middle of an epoch and save (exit ${code}):\n${stopped}")
endif()

execute_process(COMMAND ${job} --resume ${WORK}/resumed RESULT_VARIABLE code OUTPUT_VARIABLE resumed ERROR_VARIABLE err
                TIMEOUT 600)
if(NOT code EQUAL 0 OR NOT resumed MATCHES "Resumed ")
  message(FATAL_ERROR "resumed run: exit ${code}\n${resumed}${err}")
endif()
message(STATUS "stopped:\n${stopped}resumed:\n${resumed}")

file(SHA256 ${WORK}/straight/model.bin straight_weights)
file(SHA256 ${WORK}/resumed/model.bin resumed_weights)
if(NOT straight_weights STREQUAL resumed_weights)
  message(FATAL_ERROR "the resumed run's weights differ from the uninterrupted run's")
endif()
# metrics.csv without the seconds column.
foreach(run straight resumed)
  file(STRINGS ${WORK}/${run}/metrics.csv lines)
  list(TRANSFORM lines REPLACE ",[^,]*$" "")
  set(${run}_metrics "${lines}")
endforeach()
if(NOT straight_metrics STREQUAL resumed_metrics)
  message(FATAL_ERROR "metrics differ:\nstraight ${straight_metrics}\nresumed ${resumed_metrics}")
endif()
string(REGEX MATCH "Test accuracy: [0-9.]+" straight_accuracy "${straight}")
string(REGEX MATCH "Test accuracy: [0-9.]+" resumed_accuracy "${resumed}")
if(straight_accuracy STREQUAL "" OR NOT straight_accuracy STREQUAL resumed_accuracy)
  message(FATAL_ERROR "test accuracy: straight '${straight_accuracy}', resumed '${resumed_accuracy}'")
endif()
file(REMOVE_RECURSE "${WORK}")
