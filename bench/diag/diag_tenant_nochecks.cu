/* diag_tenant's sender with the tenant and credit checks of the K2K put
 * compiled out (device.cuh, RK__GPU_BENCH_NO_CHECKS): the baseline that
 * tells what the two checks cost. See diag_tenant_send.cu. */
#define RK__GPU_BENCH_NO_CHECKS 1
#include "diag_tenant_send.cu"
