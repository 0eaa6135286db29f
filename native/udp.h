/* The UdpSocket class (udp.c), added to the addon's exports by its module init. */
#ifndef SPECTER_UDP_H
#define SPECTER_UDP_H
#include <node_api.h>

napi_value udp_register(napi_env env, napi_value exports);

#endif
