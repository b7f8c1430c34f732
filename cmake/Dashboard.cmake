# The web dashboard (src/rest/dashboard/): our HTML, JavaScript and CSS
# plus the chart and graph-layout libraries that `npm ci` installs from
# package.json into node_modules, embedded into mpfcore as byte arrays
# (src/rest/dashboard/embed.py writes dashboard_assets.c in the build
# tree). Nothing is fetched at run time. Without the libraries the build
# goes on (or fails with MPIFLOW_DASHBOARD_REQUIRE_LIBS) and / serves a
# page that says how to build with them.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(MPF_DASH_DIR ${PROJECT_SOURCE_DIR}/src/rest/dashboard)
set(MPF_DASH_OUT ${CMAKE_BINARY_DIR}/dashboard/dashboard_assets.c)
set(MPF_DASH_CHART ${MPIFLOW_NODE_MODULES}/chart.js/dist/chart.umd.min.js)
set(MPF_DASH_DAGRE ${MPIFLOW_NODE_MODULES}/@dagrejs/dagre/dist/dagre.min.js)
set(MPF_DASH_LICENSES ${MPIFLOW_NODE_MODULES}/chart.js/LICENSE.md
  ${MPIFLOW_NODE_MODULES}/@dagrejs/dagre/LICENSE)

set(MPF_DASH_HAVE_LIBS ON)
foreach(f ${MPF_DASH_CHART} ${MPF_DASH_DAGRE} ${MPF_DASH_LICENSES})
  if(NOT EXISTS ${f})
    set(MPF_DASH_HAVE_LIBS OFF)
    set(MPF_DASH_MISSING ${f})
  endif()
endforeach()

if(MPF_DASH_HAVE_LIBS)
  list(JOIN MPF_DASH_LICENSES "+" MPF_DASH_LICENSES_ARG)
  set(MPF_DASH_ARGS
    index.html=${MPF_DASH_DIR}/index.html
    app.js=${MPF_DASH_DIR}/app.js
    app.css=${MPF_DASH_DIR}/app.css
    chart.umd.min.js=${MPF_DASH_CHART}
    dagre.min.js=${MPF_DASH_DAGRE}
    third-party-licenses.txt=${MPF_DASH_LICENSES_ARG})
  set(MPF_DASH_DEPS ${MPF_DASH_DIR}/index.html ${MPF_DASH_DIR}/app.js ${MPF_DASH_DIR}/app.css
    ${MPF_DASH_CHART} ${MPF_DASH_DAGRE} ${MPF_DASH_LICENSES})
  message(STATUS "Dashboard: embedding chart.js and @dagrejs/dagre from ${MPIFLOW_NODE_MODULES}")
else()
  set(MPF_DASH_WHY "the dashboard's JavaScript libraries are missing (${MPF_DASH_MISSING}): run `npm ci` in ${PROJECT_SOURCE_DIR} (package.json) and configure again, or point MPIFLOW_NODE_MODULES at an installed node_modules")
  if(MPIFLOW_DASHBOARD_REQUIRE_LIBS)
    message(FATAL_ERROR "${MPF_DASH_WHY}")
  endif()
  message(WARNING "${MPF_DASH_WHY}. Building without them: the REST API works, and / serves a page that says the dashboard was built without its libraries.")
  set(MPF_DASH_ARGS --no-libs index.html=${MPF_DASH_DIR}/nolibs.html)
  set(MPF_DASH_DEPS ${MPF_DASH_DIR}/nolibs.html)
endif()

add_custom_command(OUTPUT ${MPF_DASH_OUT}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/dashboard
  COMMAND Python3::Interpreter ${MPF_DASH_DIR}/embed.py --out ${MPF_DASH_OUT} ${MPF_DASH_ARGS}
  DEPENDS ${MPF_DASH_DIR}/embed.py ${MPF_DASH_DEPS}
  COMMENT "Embedding the web dashboard"
  VERBATIM)
target_sources(mpfcore PRIVATE ${MPF_DASH_OUT})
