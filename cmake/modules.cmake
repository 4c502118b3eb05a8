# One static library per folder under src/ (aegis_<module>), declared here
# in layer order: a module may use only the modules below it. Links are
# PUBLIC where the module's headers include the other module's headers,
# PRIVATE where only its sources do. docs/ARCHITECTURE.md ("Modules") draws
# the same graph; cmake/check_layers.py fails the build when a source includes
# a module its library does not depend on (directly or through its
# dependencies), and a test fails when the drawing and this file disagree.
#
# aegis_lib aggregates every module for the program, the tests and the
# benchmarks.

set(AEGIS_LAYERS_FILE ${PROJECT_BINARY_DIR}/generated/layers.txt)
set_property(GLOBAL PROPERTY AEGIS_MODULES "")
set_property(GLOBAL PROPERTY AEGIS_LAYER_LINES "")

# aegis_module_targets(MODULE OUT dep...): OUT = aegis_<dep> for each dep,
# each of which must already be declared (below MODULE in the layers).
function(aegis_module_targets module out)
  set(targets "")
  foreach(dep ${ARGN})
    if(NOT TARGET aegis_${dep})
      message(FATAL_ERROR "module ${module}: ${dep} is not declared below it in cmake/modules.cmake")
    endif()
    list(APPEND targets aegis_${dep})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# aegis_module(NAME [PUBLIC module...] [PRIVATE module...])
function(aegis_module name)
  cmake_parse_arguments(M "" "" "PUBLIC;PRIVATE" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  list(FILTER sources EXCLUDE REGEX ".*/src/cli/main\\.cpp$")
  set(target aegis_${name})
  add_library(${target} STATIC ${sources})
  aegis_module_targets(${name} public_targets ${M_PUBLIC})
  aegis_module_targets(${name} private_targets ${M_PRIVATE})
  if(name STREQUAL "core")
    # Everything sees src/ and the third-party libraries through core: the
    # layering checked here is between the project's own modules.
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/generated)
    target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
    target_link_libraries(${target} PUBLIC
      Boost::headers Boost::json Boost::url OpenSSL::SSL OpenSSL::Crypto SQLite::SQLite3
      yaml-cpp spdlog::spdlog CLI11::CLI11 Threads::Threads
      PkgConfig::HS PkgConfig::RE2 PkgConfig::UTF8PROC PkgConfig::PQ date::date-tz)
    # Boost headers are the slowest part of every translation unit.
    target_precompile_headers(${target} PRIVATE
      <boost/asio/awaitable.hpp> <boost/json.hpp> <string> <vector> <memory> <optional>)
  else()
    target_link_libraries(${target} PUBLIC ${public_targets} PRIVATE ${private_targets})
    target_precompile_headers(${target} REUSE_FROM aegis_core)
  endif()
  set_property(GLOBAL APPEND PROPERTY AEGIS_MODULES ${name})
  list(JOIN M_PUBLIC " " public_list)
  list(JOIN M_PRIVATE " " private_list)
  set_property(GLOBAL APPEND_STRING PROPERTY AEGIS_LAYER_LINES "${name}: ${public_list} | ${private_list}\n")
endfunction()

aegis_module(core)
aegis_module(telemetry PRIVATE core)
aegis_module(config PUBLIC core)
aegis_module(audit PUBLIC config core telemetry)
aegis_module(classify PUBLIC config core)
aegis_module(privacy PUBLIC classify config core)
aegis_module(compliance PUBLIC classify config core telemetry)
aegis_module(media PUBLIC config core telemetry)
target_link_libraries(aegis_media PRIVATE PkgConfig::TESSERACT PkgConfig::LEPTONICA PkgConfig::POPPLER_CPP)
aegis_module(http PUBLIC config core)
aegis_module(wire PUBLIC core http)
aegis_module(providers PUBLIC compliance config core http PRIVATE telemetry wire)
aegis_module(resilience PUBLIC config core providers telemetry)
aegis_module(routing PUBLIC config core providers)
aegis_module(store PUBLIC audit config core)
aegis_module(identity PUBLIC config core store)
aegis_module(ratelimit PUBLIC core identity store telemetry)
aegis_module(budget PUBLIC audit config core store telemetry)
aegis_module(report PUBLIC audit config core store)
aegis_module(gateway PUBLIC audit budget classify compliance config core identity media privacy providers ratelimit
  resilience routing telemetry)
aegis_module(rag PUBLIC audit classify config core gateway identity providers store telemetry PRIVATE compliance http)
aegis_module(jobs PUBLIC audit config core gateway identity rag store telemetry PRIVATE http routing)
aegis_module(sim PUBLIC core http)
aegis_module(api PUBLIC budget config core gateway http identity jobs rag sim store telemetry PRIVATE report routing wire)
aegis_module(console PUBLIC config core http identity ratelimit PRIVATE telemetry)
aegis_module(app PUBLIC compliance config http media providers
  PRIVATE api audit budget classify console core gateway identity jobs rag ratelimit resilience routing sim store telemetry)
aegis_module(cli PUBLIC classify config core http store
  PRIVATE app audit budget identity jobs media privacy providers report routing sim telemetry)

# The graph as the checks read it: "module: public deps | private deps", in
# layer order; rewritten only when it changes, so the check does not rerun
# on every configure.
get_property(AEGIS_LAYER_LINES GLOBAL PROPERTY AEGIS_LAYER_LINES)
file(WRITE ${AEGIS_LAYERS_FILE}.new
  "# module: PUBLIC dependencies | PRIVATE dependencies (generated from cmake/modules.cmake)\n${AEGIS_LAYER_LINES}")
configure_file(${AEGIS_LAYERS_FILE}.new ${AEGIS_LAYERS_FILE} COPYONLY)

get_property(AEGIS_MODULE_NAMES GLOBAL PROPERTY AEGIS_MODULES)
add_library(aegis_lib INTERFACE)
foreach(module ${AEGIS_MODULE_NAMES})
  target_link_libraries(aegis_lib INTERFACE aegis_${module})
endforeach()

# The include check runs on every build in which a source or header changed.
file(GLOB_RECURSE AEGIS_ALL_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/src/*.cpp ${PROJECT_SOURCE_DIR}/src/*.hpp ${PROJECT_SOURCE_DIR}/src/*.in)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/generated/layers.checked
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/cmake/check_layers.py
          --graph ${AEGIS_LAYERS_FILE} --src ${PROJECT_SOURCE_DIR}/src
  COMMAND ${CMAKE_COMMAND} -E touch ${PROJECT_BINARY_DIR}/generated/layers.checked
  DEPENDS ${AEGIS_ALL_SOURCES} ${AEGIS_LAYERS_FILE} ${PROJECT_SOURCE_DIR}/cmake/check_layers.py
  COMMENT "Checking that every #include follows the module layers (cmake/modules.cmake)"
  VERBATIM)
add_custom_target(aegis_layers ALL DEPENDS ${PROJECT_BINARY_DIR}/generated/layers.checked)
