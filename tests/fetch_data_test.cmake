# ctest for cmake/fetch_data.cmake, offline (run as cmake -DMNIST_DIR=... -DSOURCE_DIR=... -DWORK=... -P this file).
# Mirrors are file:// directories made here, so the download path runs without internet and never touches it:
# official files already present are kept without a download, a mirror with a bad file is passed over for the
# next one, and when no mirror has a file the script exits non-zero naming it.
cmake_minimum_required(VERSION 3.20)
set(labels t10k-labels-idx1-ubyte.gz)
set(images t10k-images-idx3-ubyte.gz)
# Missing data skips the test (ctest matches "fetch_data_test: skipped"), unless MT_REQUIRE_DATA=1 as in CI.
foreach(name ${images} ${labels})
  if(NOT EXISTS "${MNIST_DIR}/${name}")
    if(DEFINED ENV{MT_REQUIRE_DATA})
      message(FATAL_ERROR "fetch_data_test: ${MNIST_DIR}/${name} is missing (set MT_MNIST_DIR)")
    endif()
    message(STATUS "fetch_data_test: skipped: ${MNIST_DIR}/${name} is missing (set MT_MNIST_DIR)")
    return()
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/data/mnist" "${WORK}/empty" "${WORK}/bad" "${WORK}/good")
file(COPY "${MNIST_DIR}/${images}" "${MNIST_DIR}/${labels}" DESTINATION "${WORK}/data/mnist")
file(COPY "${MNIST_DIR}/${labels}" DESTINATION "${WORK}/good")
file(WRITE "${WORK}/bad/${labels}" "not the official file")

# fetch(<args>...): runs the script into ${WORK}/data, leaving its exit code in `result` and its output in `out`.
function(fetch)
  execute_process(COMMAND ${CMAKE_COMMAND} -DDATASET=mnist -DDEST=${WORK}/data ${ARGN} -P ${SOURCE_DIR}/cmake/fetch_data.cmake
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(result "${result}" PARENT_SCOPE)
  string(REGEX REPLACE "[ \n]+" " " out "${out}")  # CMake wraps long messages at any space
  set(out "${out}" PARENT_SCOPE)
endfunction()
# check("<if() condition>" what): fails the test with `what` and the script's output unless the condition holds.
function(check condition what)
  cmake_language(EVAL CODE "if(${condition})\n set(ok TRUE)\nelse()\n set(ok FALSE)\nendif()")
  if(NOT ok)
    message(FATAL_ERROR "fetch_data_test: ${what} (exit ${result}):\n${out}")
  endif()
endfunction()

# 1. Verified files are kept: no mirror is asked (the only one given does not exist).
fetch(-DFILES=t10k -DMIRRORS=file://${WORK}/nowhere/)
check("result EQUAL 0" "present official files were not accepted")
check("out MATCHES \"${images} is present, MD5 9fb629c4189551a2d022fa330f9573f3 matches\"" "images not kept")
check("out MATCHES \"${labels} is present, MD5 ec29112dd5afa0611ce80d1b7f02629c matches\"" "labels not kept")
check("NOT out MATCHES \"nowhere\"" "a mirror was asked for a file already present")
# Beside each verified file, its content's CRC32 and size from the gzip trailer: the loader's known values.
file(READ "${WORK}/data/mnist/t10k-images-idx3-ubyte.crc32" record)
check("record STREQUAL \"91373bdf 7840016\n\"" "images record is '${record}'")
file(READ "${WORK}/data/mnist/t10k-labels-idx1-ubyte.crc32" record)
check("record STREQUAL \"4ab9eff9 10008\n\"" "labels record is '${record}'")

# 2. All four files, no mirror holding the training files: exit non-zero, naming them; the test files stay.
fetch(-DMIRRORS=file://${WORK}/empty/)
check("NOT result EQUAL 0" "missing files were not reported by the exit status")
check("out MATCHES \"could not download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz into\"" "message does not name the files")
check("NOT out MATCHES \"could not download[^(]*t10k\"" "verified test files reported missing")
check("EXISTS \"${WORK}/data/mnist/${images}\"" "a verified file was removed")

# 3. A file with the official name but other content is downloaded again; the first mirror serves a bad copy,
#    which is rejected by its MD5, and the second the real one, which replaces it.
file(WRITE "${WORK}/data/mnist/${labels}" "modified")
fetch(-DFILES=t10k-labels "-DMIRRORS=file://${WORK}/bad/,file://${WORK}/good/")
check("result EQUAL 0" "the second mirror was not used")
check("out MATCHES \"not the official ec29112dd5afa0611ce80d1b7f02629c: downloading it again\"" "bad present file not noticed")
check("out MATCHES \"bad/${labels}: MD5 [0-9a-f]+, expected ec29112dd5afa0611ce80d1b7f02629c\"" "bad mirror not reported")
check("out MATCHES \"downloaded from file://${WORK}/good/, MD5 ec29112dd5afa0611ce80d1b7f02629c verified\"" "not downloaded")
file(MD5 "${WORK}/data/mnist/${labels}" md5)
check("md5 STREQUAL ec29112dd5afa0611ce80d1b7f02629c" "the downloaded file is not the official one")
file(REMOVE "${WORK}/data/mnist/t10k-labels-idx1-ubyte.crc32")
fetch(-DFILES=t10k-labels "-DMIRRORS=file://${WORK}/good/")
file(READ "${WORK}/data/mnist/t10k-labels-idx1-ubyte.crc32" record)
check("record STREQUAL \"4ab9eff9 10008\n\"" "no record of the verified file: '${record}'")
check("NOT EXISTS \"${WORK}/data/mnist/${labels}.part\"" "the temporary file was left behind")

# 4. Only a bad mirror: non-zero exit, and the file is not replaced by the bad copy.
file(WRITE "${WORK}/data/mnist/${labels}" "modified")
fetch(-DFILES=t10k-labels -DMIRRORS=file://${WORK}/bad/)
check("NOT result EQUAL 0" "a file with the wrong MD5 was accepted")
check("out MATCHES \"could not download ${labels} into\"" "the failure does not name the file")
file(READ "${WORK}/data/mnist/${labels}" content)
check("content STREQUAL modified" "a bad download replaced the file")
check("NOT EXISTS \"${WORK}/data/mnist/${labels}.part\"" "the temporary file was left behind")

file(REMOVE_RECURSE "${WORK}")
message(STATUS "fetch_data_test: passed")
