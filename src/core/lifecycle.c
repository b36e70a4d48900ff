#include "ringkernel/lifecycle.h"

const char *rk_lifecycle_state_name(rk_lifecycle_state s)
{
    static const char *const names[] = {"Dormant", "Initializing", "Active", "Draining", "Terminated", "Failed"};
    return (unsigned)s < RK_LIFECYCLE_STATE_COUNT_ ? names[s] : "Unknown";
}

const char *rk_lifecycle_event_name(rk_lifecycle_event ev)
{
    static const char *const names[] = {"create", "ready", "deactivate", "activate", "terminate", "fail", "restart"};
    return (unsigned)ev < RK_LIFECYCLE_EVENT_COUNT_ ? names[ev] : "unknown";
}
