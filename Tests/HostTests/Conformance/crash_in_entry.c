/* Conformance: the entry function crashes (a NULL write); `carrier plugins check` must survive it. */
#include "carrier_plugin.h"
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) {
    (void)host_api;
    *(volatile int *)0 = 1;
    return 0;
}
