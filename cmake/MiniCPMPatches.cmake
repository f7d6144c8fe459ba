#[=======================================================================[.rst:
MiniCPMPatches
--------------

Keeps MiniCPM-o 4.5 model folders patched from a CMake project and gates CI with CTest.
``find_package(MiniCPMPatches)`` includes this module; a project that adds the MiniCPMPatches
source tree with ``add_subdirectory`` or ``FetchContent`` gets it from that tree.

.. command:: minicpm_patch_model

  Applies a recipe's patches to a model folder::

    minicpm_patch_model(<name> MODEL_DIR <dir>
                        [RECIPE <id>|<file>]
                        [ASSETS_FROM <dir>]
                        [ONLY <patch-id>...]
                        [WHEN CONFIGURE|BUILD]
                        [REFRESH_MODULES_CACHE])

  ``MODEL_DIR <dir>``
    Required. The downloaded model folder; it must exist.

  ``RECIPE <id>|<file>``
    A built-in recipe id (``minicpm-o-4_5``, ``minicpm-o-4_5-awq``) or a recipe JSON file.
    Default: detected from the folder by ``minicpm-patch``.

  ``ASSETS_FROM <dir>``
    The BF16 model folder that the AWQ recipe copies ``assets/`` from. Default: the sibling
    folder named like ``<dir>`` without ``-awq``, when it exists.

  ``ONLY <patch-id>...``
    Apply only these patches. Default: every patch of the recipe.

  ``WHEN CONFIGURE|BUILD``
    ``CONFIGURE`` (the default) patches while CMake configures, so the folder is patched
    as soon as configuration succeeds, and a failure stops configuration with the tool's
    message. The patched files become ``CMAKE_CONFIGURE_DEPENDS``: after a re-download
    the next build re-runs CMake, which patches again.

    ``BUILD`` creates the target ``<name>``, part of ``ALL``, that patches during the
    build and runs again whenever a patched file changes. Concurrent runs on one folder
    are serialised by the tool's folder lock.

    Both report what the tool did and repeat its warnings, such as a stale copy of a
    patched file in the transformers modules cache.

    ``CONFIGURE`` needs an existing ``minicpm-patch``: the installed one (``find_package``),
    or the one named by the cache variable ``MINICPM_PATCH_EXECUTABLE``. When the tool
    comes from ``add_subdirectory`` or ``FetchContent`` it is not built yet at configure
    time, so the function falls back to ``BUILD`` and says so in a status message.

  ``REFRESH_MODULES_CACHE``
    Also overwrite stale copies of the patched ``.py`` files in the transformers modules
    cache (``apply --refresh-modules-cache``). Default: off, so such copies only warn, and
    ``minicpm_verify_model`` fails until they are refreshed or deleted.

.. command:: minicpm_verify_model

  Registers CTest tests that check a model folder::

    minicpm_verify_model(<name> MODEL_DIR <dir>
                         [RECIPE <id>|<file>]
                         [ASSETS_FROM <dir>]
                         [ONLY <patch-id>...]
                         [LABELS <label>...]
                         [SMOKE_TEST [PYTHON <exe>] [TIMEOUT <seconds>] [ARGS <arg>...]])

  Adds the test ``<name>.verify``, labelled ``patches`` plus ``LABELS``, that runs
  ``minicpm-patch verify`` and fails with the tool's message unless every selected patch is
  ``applied`` or ``upstream-fixed``. ``MODEL_DIR``, ``RECIPE``, ``ASSETS_FROM`` and ``ONLY``
  mean what they mean for ``minicpm_patch_model``.

  ``SMOKE_TEST``
    Also adds ``<name>.smoke``, labelled ``patches``, ``smoke`` and ``gpu``, that loads the
    model with transformers and streams a reply through ``chat(stream=True)``. It requires
    ``<name>.verify`` as a CTest fixture, holds a ``RESOURCE_LOCK`` on the model folder, and
    shows as skipped (exit code 77) when torch, transformers or a CUDA device is missing.

  ``PYTHON <exe>``
    The Python 3 interpreter for the smoke test. Default: ``Python3_EXECUTABLE`` from
    ``find_package(Python3 COMPONENTS Interpreter)``.

  ``TIMEOUT <seconds>``
    The CTest timeout of the smoke test. Default: 1800.

  ``ARGS <arg>...``
    Extra arguments for the smoke script, such as ``--max-new-tokens 64``.

Example:

.. code-block:: cmake

  find_package(MiniCPMPatches 0.1 REQUIRED)
  minicpm_patch_model(awq_model MODEL_DIR /models/MiniCPM-o-4_5-awq
                      ASSETS_FROM /models/MiniCPM-o-4_5)
  minicpm_verify_model(awq_model MODEL_DIR /models/MiniCPM-o-4_5-awq
                       ASSETS_FROM /models/MiniCPM-o-4_5 SMOKE_TEST)
#]=======================================================================]

include_guard(GLOBAL)
cmake_policy(PUSH)
cmake_policy(VERSION 3.19...3.28)

# Data files, located once at include time: the installed package sets
# MINICPM_PATCHES_DATA_DIR; in the source tree they sit beside this folder.
if(DEFINED MINICPM_PATCHES_DATA_DIR)
  set(_MINICPM_PATCHES_SMOKE_SCRIPT "${MINICPM_PATCHES_DATA_DIR}/minicpm_chat_smoke.py")
  set(_MINICPM_PATCHES_RECIPE_DIR "${MINICPM_PATCHES_DATA_DIR}/recipes")
else()
  get_filename_component(_MINICPM_PATCHES_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  set(_MINICPM_PATCHES_SMOKE_SCRIPT "${_MINICPM_PATCHES_SOURCE_DIR}/scripts/minicpm_chat_smoke.py")
  set(_MINICPM_PATCHES_RECIPE_DIR "${_MINICPM_PATCHES_SOURCE_DIR}/recipes")
endif()

#-----------------------------------------------------------------------------
# Internal use: parses the arguments shared by both functions into the caller's
# _minicpm_* variables, rejecting unknown keywords and a missing or absent MODEL_DIR.
macro(_minicpm_patches_parse function_name name)
  if("${name}" STREQUAL "" OR "${name}" MATCHES "^(MODEL_DIR|RECIPE|ASSETS_FROM|ONLY|WHEN)$")
    message(FATAL_ERROR "${function_name}: missing <name>, expected ${function_name}(<name> MODEL_DIR <dir> ...)")
  endif()
  if(_minicpm_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "${function_name}(${name}): no value given for ${_minicpm_KEYWORDS_MISSING_VALUES}")
  endif()
  if(NOT DEFINED _minicpm_MODEL_DIR)
    message(FATAL_ERROR "${function_name}(${name}): missing MODEL_DIR, expected MODEL_DIR <dir>")
  endif()
  if(_minicpm_UNPARSED_ARGUMENTS)
    list(GET _minicpm_UNPARSED_ARGUMENTS 0 _minicpm_unknown)
    message(FATAL_ERROR "${function_name}(${name}): unknown argument '${_minicpm_unknown}'")
  endif()
  get_filename_component(_minicpm_MODEL_DIR "${_minicpm_MODEL_DIR}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${_minicpm_MODEL_DIR}")
    message(FATAL_ERROR "${function_name}(${name}): MODEL_DIR '${_minicpm_MODEL_DIR}' is not an existing folder")
  endif()

  set(_minicpm_tool_args "")
  if(DEFINED _minicpm_RECIPE)
    list(APPEND _minicpm_tool_args --recipe "${_minicpm_RECIPE}")
  endif()
  if(DEFINED _minicpm_ASSETS_FROM)
    get_filename_component(_minicpm_ASSETS_FROM "${_minicpm_ASSETS_FROM}" ABSOLUTE)
    list(APPEND _minicpm_tool_args --assets-from "${_minicpm_ASSETS_FROM}")
  endif()
  foreach(_minicpm_patch IN LISTS _minicpm_ONLY)
    list(APPEND _minicpm_tool_args --only "${_minicpm_patch}")
  endforeach()
endmacro()

#-----------------------------------------------------------------------------
# Internal use: the files a recipe edits in the model folder that exist now. Without a
# recipe, the files of every built-in recipe.
function(_minicpm_patches_edited_files model_dir recipe out_var)
  if("${recipe}" STREQUAL "")
    file(GLOB recipe_files "${_MINICPM_PATCHES_RECIPE_DIR}/*.json")
  elseif(EXISTS "${_MINICPM_PATCHES_RECIPE_DIR}/${recipe}.json")
    set(recipe_files "${_MINICPM_PATCHES_RECIPE_DIR}/${recipe}.json")
  else()
    set(recipe_files "${recipe}")
  endif()

  set(edited "")
  foreach(recipe_file IN LISTS recipe_files)
    file(READ "${recipe_file}" recipe_text)
    string(JSON patch_count ERROR_VARIABLE json_error LENGTH "${recipe_text}" patches)
    if(json_error)
      continue()  # minicpm-patch reports an invalid recipe with the details.
    endif()
    math(EXPR last "${patch_count} - 1")
    foreach(index RANGE ${last})
      string(JSON kind GET "${recipe_text}" patches ${index} kind)
      string(JSON file GET "${recipe_text}" patches ${index} file)
      if(NOT kind STREQUAL "copy-directory" AND EXISTS "${model_dir}/${file}")
        list(APPEND edited "${model_dir}/${file}")
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES edited)
  set(${out_var} "${edited}" PARENT_SCOPE)
endfunction()

#-----------------------------------------------------------------------------
# Internal use: the path of a minicpm-patch that exists at configure time, or "".
function(_minicpm_patches_configure_time_tool out_var)
  set(tool "")
  if(MINICPM_PATCH_EXECUTABLE)
    set(tool "${MINICPM_PATCH_EXECUTABLE}")
  elseif(TARGET MiniCPMPatches::minicpm-patch)
    get_target_property(aliased MiniCPMPatches::minicpm-patch ALIASED_TARGET)
    if(NOT aliased)
      get_target_property(tool MiniCPMPatches::minicpm-patch LOCATION)
    endif()
  endif()
  set(${out_var} "${tool}" PARENT_SCOPE)
endfunction()

#-----------------------------------------------------------------------------
# Internal use: prints what an apply did (its JSON report) as status lines, and its warnings
# and stale modules-cache copies as CMake warnings.
function(_minicpm_patches_show_report name report)
  string(JSON action_count ERROR_VARIABLE json_error LENGTH "${report}" actions)
  if(json_error)
    return()
  endif()
  foreach(list_name IN ITEMS actions warnings)
    string(JSON count LENGTH "${report}" ${list_name})
    if(count EQUAL 0)
      continue()
    endif()
    math(EXPR last "${count} - 1")
    foreach(index RANGE ${last})
      string(JSON line GET "${report}" ${list_name} ${index})
      if(list_name STREQUAL "actions")
        message(STATUS "minicpm_patch_model(${name}): ${line}")
      else()
        message(WARNING "minicpm_patch_model(${name}): ${line}")
      endif()
    endforeach()
  endforeach()
  string(JSON count LENGTH "${report}" stale_copies)
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(index RANGE ${last})
      string(JSON copy GET "${report}" stale_copies ${index} copy)
      message(WARNING "minicpm_patch_model(${name}): ${copy} is a stale copy of a patched file in "
                      "the transformers modules cache; add REFRESH_MODULES_CACHE or delete it")
    endforeach()
  endif()
endfunction()

#-----------------------------------------------------------------------------
function(minicpm_patch_model name)
  cmake_parse_arguments(PARSE_ARGV 1 _minicpm "REFRESH_MODULES_CACHE" "MODEL_DIR;RECIPE;ASSETS_FROM;WHEN" "ONLY")
  _minicpm_patches_parse(minicpm_patch_model "${name}")
  set(apply_args ${_minicpm_tool_args})
  if(_minicpm_REFRESH_MODULES_CACHE)
    list(APPEND apply_args --refresh-modules-cache)
  endif()
  if(NOT DEFINED _minicpm_WHEN)
    set(_minicpm_WHEN CONFIGURE)
  endif()
  if(NOT _minicpm_WHEN MATCHES "^(CONFIGURE|BUILD)$")
    message(FATAL_ERROR "minicpm_patch_model(${name}): WHEN is '${_minicpm_WHEN}', expected CONFIGURE or BUILD")
  endif()
  _minicpm_patches_edited_files("${_minicpm_MODEL_DIR}" "${_minicpm_RECIPE}" edited_files)

  _minicpm_patches_configure_time_tool(tool)
  if(_minicpm_WHEN STREQUAL "CONFIGURE" AND tool STREQUAL "")
    message(STATUS "minicpm_patch_model(${name}): minicpm-patch is built with this project, so the "
                   "folder is patched at build time (WHEN BUILD); set MINICPM_PATCH_EXECUTABLE "
                   "to an installed minicpm-patch to patch at configure time")
    set(_minicpm_WHEN BUILD)
  endif()

  if(_minicpm_WHEN STREQUAL "CONFIGURE")
    execute_process(
      COMMAND "${tool}" apply --json ${apply_args} "${_minicpm_MODEL_DIR}"
      RESULT_VARIABLE result
      OUTPUT_VARIABLE report
      ERROR_VARIABLE error_output)
    if(NOT result EQUAL 0)
      string(STRIP "${error_output}" error_output)
      string(REPLACE "\n" "\n    " error_output "${error_output}")
      set(selection "every patch of the recipe")
      if(_minicpm_ONLY)
        string(REPLACE ";" ", " selection "${_minicpm_ONLY}")
      endif()
      message(FATAL_ERROR "minicpm_patch_model(${name}): patching the model folder failed.\n"
                          "  Model folder: '${_minicpm_MODEL_DIR}'\n"
                          "  Patches: ${selection}\n"
                          "  Exit code: ${result}\n"
                          "  Message:\n    ${error_output}\n")
    endif()
    _minicpm_patches_show_report("${name}" "${report}")

    # A re-download changes these files, which makes the next build re-run CMake.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${edited_files})
    return()
  endif()

  # The stamp is touched after each apply, so the command runs again only when a patched
  # file (or the tool) is newer than the last successful run.
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/minicpm_patches/${name}.stamp")
  set(tool_file "$<TARGET_FILE:MiniCPMPatches::minicpm-patch>")
  add_custom_command(
    OUTPUT "${stamp}"
    COMMAND "${tool_file}" apply --quiet ${apply_args} "${_minicpm_MODEL_DIR}"
    COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
    DEPENDS ${edited_files} "${tool_file}"
    COMMENT "Patching the model folder ${_minicpm_MODEL_DIR}"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${stamp}")
  get_target_property(built_tool MiniCPMPatches::minicpm-patch ALIASED_TARGET)
  if(built_tool)
    add_dependencies(${name} ${built_tool})
  endif()
endfunction()

#-----------------------------------------------------------------------------
function(minicpm_verify_model name)
  cmake_parse_arguments(PARSE_ARGV 1 _minicpm "SMOKE_TEST" "MODEL_DIR;RECIPE;ASSETS_FROM;PYTHON;TIMEOUT"
                        "ONLY;LABELS;ARGS")
  _minicpm_patches_parse(minicpm_verify_model "${name}")
  if(NOT _minicpm_SMOKE_TEST AND (DEFINED _minicpm_PYTHON OR DEFINED _minicpm_TIMEOUT OR DEFINED _minicpm_ARGS))
    message(FATAL_ERROR "minicpm_verify_model(${name}): PYTHON, TIMEOUT and ARGS go with SMOKE_TEST")
  endif()

  add_test(NAME ${name}.verify
           COMMAND "$<TARGET_FILE:MiniCPMPatches::minicpm-patch>" verify ${_minicpm_tool_args} "${_minicpm_MODEL_DIR}")
  set_tests_properties(${name}.verify PROPERTIES
    LABELS "patches;${_minicpm_LABELS}"
    FIXTURES_SETUP ${name}.verified)

  if(NOT _minicpm_SMOKE_TEST)
    return()
  endif()
  if(NOT DEFINED _minicpm_PYTHON)
    find_package(Python3 COMPONENTS Interpreter)
    if(NOT Python3_Interpreter_FOUND)
      message(FATAL_ERROR "minicpm_verify_model(${name}): SMOKE_TEST needs a Python 3 interpreter, "
                          "expected one on PATH or PYTHON <exe>")
    endif()
    set(_minicpm_PYTHON "${Python3_EXECUTABLE}")
  endif()
  if(NOT DEFINED _minicpm_TIMEOUT)
    set(_minicpm_TIMEOUT 1800)
  endif()
  if(NOT _minicpm_TIMEOUT MATCHES "^[0-9]+$")
    message(FATAL_ERROR "minicpm_verify_model(${name}): TIMEOUT is '${_minicpm_TIMEOUT}', expected whole seconds")
  endif()

  add_test(NAME ${name}.smoke
           COMMAND "${_minicpm_PYTHON}" "${_MINICPM_PATCHES_SMOKE_SCRIPT}"
                   --model-dir "${_minicpm_MODEL_DIR}" ${_minicpm_ARGS})
  set_tests_properties(${name}.smoke PROPERTIES
    LABELS "patches;smoke;gpu;${_minicpm_LABELS}"
    FIXTURES_REQUIRED ${name}.verified
    RESOURCE_LOCK "${_minicpm_MODEL_DIR}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${_minicpm_TIMEOUT})
endfunction()

cmake_policy(POP)
