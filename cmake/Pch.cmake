# Precompiled headers (CI build time): the third-party headers nearly every
# file includes — Boost.Asio's core, nlohmann/json, spdlog, and for tests
# GoogleTest — are parsed once per build instead of once per file. Two PCH
# hosts: uplink_pch (libraries, programs) and uplink_pch_test (tests). A
# target reuses one when its flags match the host's; GCC silently parses the
# headers instead when a PCH does not fit, so this changes how fast things
# compile, never what compiles. -DUPLINK_PCH=OFF turns it off.
option(UPLINK_PCH "Precompile the common third-party headers" ON)

set(UPLINK_PCH_HEADERS
  <algorithm> <chrono> <functional> <map> <memory> <optional> <string> <string_view> <vector>
  <boost/asio/io_context.hpp> <boost/asio/post.hpp> <boost/asio/steady_timer.hpp> <boost/asio/write.hpp>
  <boost/asio/local/stream_protocol.hpp> <boost/asio/posix/stream_descriptor.hpp>
  <boost/asio/ip/udp.hpp> <boost/asio/ip/tcp.hpp>
  <nlohmann/json.hpp> <spdlog/spdlog.h>)

if(UPLINK_PCH)
  # spdlog's mode is part of the PCH: the same for every target.
  add_compile_definitions(SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
  add_library(uplink_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cc)
  target_link_libraries(uplink_pch PRIVATE Boost::headers nlohmann_json::nlohmann_json uplink_warnings)
  target_precompile_headers(uplink_pch PRIVATE ${UPLINK_PCH_HEADERS})
  add_library(uplink_pch_test STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cc)
  target_link_libraries(uplink_pch_test PRIVATE Boost::headers nlohmann_json::nlohmann_json GTest::gmock GTest::gtest
                        uplink_warnings)
  target_precompile_headers(uplink_pch_test PRIVATE ${UPLINK_PCH_HEADERS} <gtest/gtest.h> <gmock/gmock.h>)
endif()

# The targets defined in DIR and below.
function(uplink_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    uplink_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Called once all targets exist: every C++-only static library and program
# that does not reuse a PCH yet (tests do, from uplink_add_test) reuses
# uplink_pch. Position-independent code (plugins) and C sources keep their own flags.
function(uplink_apply_pch)
  if(NOT UPLINK_PCH)
    return()
  endif()
  uplink_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$" OR t MATCHES "^uplink_pch" OR t STREQUAL "uplink_spdlog")
      continue()
    endif()
    get_target_property(reuse ${t} PRECOMPILE_HEADERS_REUSE_FROM)
    get_target_property(pic ${t} POSITION_INDEPENDENT_CODE)
    if(reuse OR pic)
      continue()
    endif()
    get_target_property(sources ${t} SOURCES)
    set(cxx_only TRUE)  # a C source would need a C PCH
    foreach(s ${sources})
      if(s MATCHES "\\.c$")
        set(cxx_only FALSE)
      endif()
    endforeach()
    if(cxx_only)
      target_precompile_headers(${t} REUSE_FROM uplink_pch)
    endif()
  endforeach()
endfunction()
