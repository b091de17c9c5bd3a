# cmake -DBUILD_DIR=<build tree> -DPREFIX=<dir> -P install_fresh.cmake: installs the build
# tree into an emptied PREFIX, so no file of an earlier install can satisfy the consumer.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} failed: ${result}")
endif()
