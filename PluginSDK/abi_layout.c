/*
 * Pins the layout of ABI version 1 on 64-bit Linux: plugins already built against
 * carrier_plugin.h depend on these sizes and offsets, so moving a field (rather than appending
 * one, which changes only the sizes checked with >=) fails the host's build here.
 * Compiled into the CarrierPluginABI target; it defines no symbols.
 */
#include <stddef.h>
#include <stdint.h>
#include "carrier_plugin.h"

#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(carrier_host_api_v1) >= 208, "carrier_host_api_v1 shrank");
_Static_assert(sizeof(carrier_plugin_v1) >= 80, "carrier_plugin_v1 shrank");
_Static_assert(sizeof(carrier_value) == 88, "carrier_value changed size");
_Static_assert(sizeof(carrier_peer) == 96, "carrier_peer changed size");
_Static_assert(sizeof(carrier_node_info) == 52, "carrier_node_info changed size");
_Static_assert(offsetof(carrier_host_api_v1, log) == 8, "carrier_host_api_v1.log moved");
_Static_assert(offsetof(carrier_host_api_v1, find_node) == 72, "carrier_host_api_v1.find_node moved");
_Static_assert(offsetof(carrier_host_api_v1, post) == 128, "carrier_host_api_v1.post moved");
_Static_assert(offsetof(carrier_host_api_v1, define_meter) == 168, "carrier_host_api_v1.define_meter moved");
_Static_assert(offsetof(carrier_host_api_v1, withdraw_service) == 200, "carrier_host_api_v1.withdraw_service moved");
_Static_assert(offsetof(carrier_plugin_v1, id) == 8, "carrier_plugin_v1.id moved");
_Static_assert(offsetof(carrier_plugin_v1, create) == 40, "carrier_plugin_v1.create moved");
_Static_assert(offsetof(carrier_plugin_v1, health) == 72, "carrier_plugin_v1.health moved");
_Static_assert(offsetof(carrier_plugin_v1, settle) == 80, "carrier_plugin_v1.settle moved (added in 1.1)");
_Static_assert(offsetof(carrier_host_api_v1, settlement_result) == 208, "carrier_host_api_v1.settlement_result moved (added in 1.1)");
_Static_assert(offsetof(carrier_host_api_v1, dht_status) == 216, "carrier_host_api_v1.dht_status moved (added in 1.2)");
_Static_assert(offsetof(carrier_host_api_v1, store_value_cas) == 224, "carrier_host_api_v1.store_value_cas moved (added in 1.3)");
_Static_assert(offsetof(carrier_host_api_v1, config_string) == 232, "carrier_host_api_v1.config_string moved (added in 1.4)");
_Static_assert(offsetof(carrier_host_api_v1, authorize_usage) == 256, "carrier_host_api_v1.authorize_usage moved (added in 1.4)");
_Static_assert(offsetof(carrier_host_api_v1, store) == 264, "carrier_host_api_v1.store moved (added in 1.4)");
_Static_assert(offsetof(carrier_host_api_v1, post_owned) == 280, "carrier_host_api_v1.post_owned moved (added in 1.4)");
_Static_assert(offsetof(carrier_host_api_v1, subscribe_events_owned) == 296, "carrier_host_api_v1.subscribe_events_owned moved (added in 1.4)");
_Static_assert(offsetof(carrier_host_api_v1, client_plan) == 304, "carrier_host_api_v1.client_plan moved (added in 1.5)");
_Static_assert(offsetof(carrier_host_api_v1, count_tcp_socket) == 312, "carrier_host_api_v1.count_tcp_socket moved (added in 1.6)");
_Static_assert(offsetof(carrier_tcp_socket, local_port) == 12 && offsetof(carrier_tcp_socket, local_address) == 16
                   && offsetof(carrier_tcp_socket, remote_address) == 32 && sizeof(carrier_tcp_socket) == 48,
               "carrier_tcp_socket changed (added in 1.6)");
_Static_assert(sizeof(carrier_dht_status) == 16, "carrier_dht_status changed size");
_Static_assert(offsetof(carrier_value, data_length) == 48, "carrier_value.data_length moved");
_Static_assert(offsetof(carrier_value, id) == 56, "carrier_value.id moved");
_Static_assert(offsetof(carrier_peer, signature) == 88, "carrier_peer.signature moved");
_Static_assert(offsetof(carrier_node_info, port) == 50, "carrier_node_info.port moved");
#endif
