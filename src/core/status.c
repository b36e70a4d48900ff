#include "ringkernel/status.h"

static const char *const rk__status_names[] = {
#define RK__STATUS_NAME(name, msg) "RK_" #name,
    RK_STATUS_MAP(RK__STATUS_NAME)
#undef RK__STATUS_NAME
};

static const char *const rk__status_msgs[] = {
#define RK__STATUS_MSG(name, msg) msg,
    RK_STATUS_MAP(RK__STATUS_MSG)
#undef RK__STATUS_MSG
};

static int rk__status_valid(rk_status s)
{
    return (unsigned)s < (unsigned)RK_STATUS_COUNT_;
}

const char *rk_status_name(rk_status s)
{
    return rk__status_valid(s) ? rk__status_names[s] : "RK_UNKNOWN";
}

const char *rk_strerror(rk_status s)
{
    return rk__status_valid(s) ? rk__status_msgs[s] : "unknown status";
}
