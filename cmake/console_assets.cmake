# The admin console's static files (src/console/assets/): written into a C++
# source by scripts/gen_console_assets.py and linked into aegis_console, so
# the binary serves /ui with nothing beside it. Plain HTML, CSS and JavaScript
# modules: no bundler, no npm package at run time.
#
# Include after cmake/modules.cmake: the generated source is added to
# aegis_console.
file(GLOB AEGIS_CONSOLE_ASSETS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/console/assets/*)
set(AEGIS_CONSOLE_ASSETS_SOURCE ${PROJECT_BINARY_DIR}/generated/console/assets_data.cpp)
add_custom_command(
  OUTPUT ${AEGIS_CONSOLE_ASSETS_SOURCE}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/gen_console_assets.py
          --out ${AEGIS_CONSOLE_ASSETS_SOURCE} ${AEGIS_CONSOLE_ASSETS}
  DEPENDS ${PROJECT_SOURCE_DIR}/scripts/gen_console_assets.py ${AEGIS_CONSOLE_ASSETS}
  COMMENT "Embedding the console's assets (src/console/assets)"
  VERBATIM)
target_sources(aegis_console PRIVATE ${AEGIS_CONSOLE_ASSETS_SOURCE})
set_source_files_properties(${AEGIS_CONSOLE_ASSETS_SOURCE} PROPERTIES SKIP_PRECOMPILE_HEADERS ON GENERATED ON)
