# uplink_add_fuzz(NAME SOURCES a_fuzz.cc LIBS x y CORPUS dir... [AS_IS dir...] [REGRESSIONS dir...] [DICT file])
# One fuzz target (fuzz/README.md). Always: NAME_replay, a ctest test labelled
# unit that replays CORPUS plus deterministic mutations of it through the entry
# point (fuzz/replay_main.cc), so every build runs it. AS_IS and REGRESSIONS
# files are replayed once, unmutated: long seeds whose mutations cost too much
# under -O0 + ASan. With UPLINK_FUZZ=ON (clang): NAME, the libFuzzer binary
# scripts/fuzz.sh runs on CORPUS + AS_IS (REGRESSIONS, tens of kB of one
# pathological input, would only slow it down), and build/fuzz/NAME.sh telling
# the script where it and they are.
# The replay driver, compiled once for every target.
add_library(uplink_fuzz_replay_main OBJECT ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
target_link_libraries(uplink_fuzz_replay_main PRIVATE uplink_warnings)

function(uplink_add_fuzz name)
  cmake_parse_arguments(F "" "DICT" "SOURCES;LIBS;CORPUS;AS_IS;REGRESSIONS" ${ARGN})
  if(UPLINK_FUZZ)
    add_executable(${name} ${F_SOURCES})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${F_LIBS} uplink_warnings)
    set(seeds ${F_CORPUS} ${F_AS_IS})
    list(JOIN seeds "\" \"" corpus)
    file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/fuzz/${name}.sh
         CONTENT "binary=\"$<TARGET_FILE:${name}>\"\ncorpus=(\"${corpus}\")\ndict=\"${F_DICT}\"\n")
  endif()
  add_executable(${name}_replay ${F_SOURCES})
  target_link_libraries(${name}_replay PRIVATE uplink_fuzz_replay_main ${F_LIBS} uplink_warnings)
  set(args)
  if(F_DICT)
    list(APPEND args --dict ${F_DICT})
  endif()
  foreach(dir IN LISTS F_AS_IS F_REGRESSIONS)
    list(APPEND args --as-is ${dir})
  endforeach()
  add_test(NAME ${name}_replay COMMAND ${name}_replay ${args} ${F_CORPUS})
  set_tests_properties(${name}_replay PROPERTIES LABELS unit TIMEOUT 120)
endfunction()
