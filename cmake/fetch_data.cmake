# Downloads MNIST or Fashion-MNIST and checks every file's MD5 against the official value.
#
#   cmake -DDATASET=mnist -DDEST=data -P cmake/fetch_data.cmake     # into data/mnist
#   cmake -DDATASET=fashion -DDEST=data -P cmake/fetch_data.cmake   # into data/fashion
#
# Files already present with the right MD5 are kept. Each download goes to a temporary name and is renamed only
# once its MD5 matches. Mirrors are tried in order (those torchvision uses); the script fails, naming the files,
# when none of them delivers (scripts/run-mnist.sh relies on that exit status). FILES=t10k limits it to the test
# split (the files whose names start with FILES); MIRRORS=url1,url2 replaces the mirrors (tests use file:// URLs).
#
# For every file whose MD5 it has verified, the script records the CRC32 and size of the decompressed content
# beside it, in <name without .gz>.crc32 ("91373bdf 7840016"), read from the verified file's gzip trailer: the
# datasets::MNIST loader checks a decompressed or recompressed copy of an official file against that record
# (the content's CRC32 of MNIST's training files is not otherwise known to it).
#
# MD5s are compared here rather than with file(DOWNLOAD ... EXPECTED_HASH): a mismatch there is a fatal error
# that ends the script, so a mirror serving a bad file would stop the search instead of the next mirror being tried.
cmake_minimum_required(VERSION 3.20)

if(NOT DEFINED DATASET)
  set(DATASET mnist)
endif()
if(NOT DEFINED DEST)
  set(DEST data)
endif()

if(DATASET STREQUAL "mnist")
  set(mirrors "https://ossci-datasets.s3.amazonaws.com/mnist/" "http://yann.lecun.com/exdb/mnist/")
  set(files
    train-images-idx3-ubyte.gz f68b3c2dcbeaaa9fbdd348bbdeb94873
    train-labels-idx1-ubyte.gz d53e105ee54ea40749a09fcbcd1e9432
    t10k-images-idx3-ubyte.gz 9fb629c4189551a2d022fa330f9573f3
    t10k-labels-idx1-ubyte.gz ec29112dd5afa0611ce80d1b7f02629c)
  set(dir "${DEST}/mnist")
elseif(DATASET STREQUAL "fashion")
  set(mirrors "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
  set(files
    train-images-idx3-ubyte.gz 8d4fb7e6c68d591d4c3dfef9ec88bf0d
    train-labels-idx1-ubyte.gz 25c81989df183df01b3e8a0aad5dffbe
    t10k-images-idx3-ubyte.gz bef4ecab320f06d8554ea6380940ec79
    t10k-labels-idx1-ubyte.gz bb300cfdad3c16e7a12a480ee83cd310)
  set(dir "${DEST}/fashion")
else()
  message(FATAL_ERROR "fetch_data: DATASET must be mnist or fashion, got '${DATASET}'")
endif()

if(DEFINED MIRRORS)
  string(REPLACE "," ";" mirrors "${MIRRORS}")
endif()

# record_content(<verified .gz>): its trailer's CRC32 and size (little-endian, the last 8 bytes of a one-member
# gzip file, as the official files are) into <name without .gz>.crc32.
function(record_content gz)
  file(SIZE "${gz}" size)
  math(EXPR at "${size} - 8")
  file(READ "${gz}" trailer OFFSET ${at} LIMIT 8 HEX)
  set(crc "")
  foreach(i 6 4 2 0)
    string(SUBSTRING "${trailer}" ${i} 2 byte)
    string(APPEND crc "${byte}")
  endforeach()
  string(SUBSTRING "${trailer}" 8 8 isize)
  set(content_size 0)
  foreach(i 6 4 2 0)
    string(SUBSTRING "${isize}" ${i} 2 byte)
    math(EXPR content_size "${content_size} * 256 + 0x${byte}")
  endforeach()
  string(REGEX REPLACE "\\.gz$" ".crc32" record "${gz}")
  file(WRITE "${record}" "${crc} ${content_size}\n")
endfunction()

file(MAKE_DIRECTORY "${dir}")
set(missing "")
list(LENGTH files count)
math(EXPR last "${count} - 1")
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET files ${i} name)
  list(GET files ${j} md5)
  if(DEFINED FILES AND NOT name MATCHES "^${FILES}")
    continue()
  endif()
  set(target "${dir}/${name}")
  if(EXISTS "${target}")
    file(MD5 "${target}" have)
    if(have STREQUAL md5)
      message(STATUS "fetch_data: ${target} is present, MD5 ${md5} matches")
      record_content("${target}")
      continue()
    endif()
    message(STATUS "fetch_data: ${target} has MD5 ${have}, not the official ${md5}: downloading it again")
  endif()
  set(done FALSE)
  foreach(mirror IN LISTS mirrors)
    # A stalled connection is given up after 15 s; the whole file may take 5 minutes (9.9 MB on a slow link).
    file(DOWNLOAD "${mirror}${name}" "${target}.part" TLS_VERIFY ON TIMEOUT 300 INACTIVITY_TIMEOUT 15 STATUS status)
    list(GET status 0 code)
    list(GET status 1 why)
    if(code EQUAL 0)
      file(MD5 "${target}.part" got)
      if(got STREQUAL md5)
        file(RENAME "${target}.part" "${target}")
        message(STATUS "fetch_data: ${target} downloaded from ${mirror}, MD5 ${md5} verified")
        record_content("${target}")
        set(done TRUE)
        break()
      endif()
      set(why "MD5 ${got}, expected ${md5}")
    endif()
    message(STATUS "fetch_data: ${mirror}${name}: ${why}")
    file(REMOVE "${target}.part")
  endforeach()
  if(NOT done)
    list(APPEND missing "${name}")
  endif()
endforeach()

if(missing)
  list(JOIN missing ", " names)
  list(JOIN mirrors ", " tried)
  message(FATAL_ERROR "fetch_data: could not download ${names} into ${dir} from any mirror (${tried}); "
                      "check the internet connection, or copy the official files there by hand")
endif()
message(STATUS "fetch_data: ${DATASET} is complete in ${dir}")
