# rk_add_test(NAME SOURCES... [LABELS ...] [TIMEOUT s])
# One standalone program per test, linked against the static library so it
# can reach internal (rk__) functions; exit 77 means "skipped".
function(rk_add_test name)
    cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ringkernel_static rk_testlib)
    add_test(NAME ${name} COMMAND ${name})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                         SKIP_RETURN_CODE 77)
endfunction()
