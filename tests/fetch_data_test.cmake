# ctest for cmake/fetch_data.cmake (run as cmake -DMNIST_DIR=... -DSOURCE_DIR=... -DWORK=... -P this file):
# official files already present are verified by MD5 and kept; a file with other content is not accepted.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/mnist")
foreach(name t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
  if(NOT EXISTS "${MNIST_DIR}/${name}")
    message(FATAL_ERROR "fetch_data_test: ${MNIST_DIR}/${name} is missing")
  endif()
  file(COPY "${MNIST_DIR}/${name}" DESTINATION "${WORK}/mnist")
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -DDATASET=mnist -DDEST=${WORK} -DFILES=t10k -P ${SOURCE_DIR}/cmake/fetch_data.cmake
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0 OR NOT out MATCHES "t10k-images-idx3-ubyte.gz is present, MD5 9fb629c4189551a2d022fa330f9573f3 matches")
  message(FATAL_ERROR "fetch_data_test: verified files were not kept (exit ${result}):\n${out}")
endif()

# A file with the official name but other content must be replaced or reported, never accepted.
file(WRITE "${WORK}/mnist/t10k-labels-idx1-ubyte.gz" "not the official file")
execute_process(COMMAND ${CMAKE_COMMAND} -DDATASET=mnist -DDEST=${WORK} -DFILES=t10k-labels -P ${SOURCE_DIR}/cmake/fetch_data.cmake
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(MD5 "${WORK}/mnist/t10k-labels-idx1-ubyte.gz" md5)
if(result EQUAL 0 AND NOT md5 STREQUAL "ec29112dd5afa0611ce80d1b7f02629c")
  message(FATAL_ERROR "fetch_data_test: a file with the wrong MD5 was accepted:\n${out}")
endif()
if(NOT result EQUAL 0 AND NOT out MATCHES "could not download t10k-labels-idx1-ubyte.gz")
  message(FATAL_ERROR "fetch_data_test: the failure does not name the file:\n${out}")
endif()
message(STATUS "fetch_data_test: passed")
