/* N-API helpers shared by the addon's classes (napi-util.c). */
#ifndef SPECTER_NAPI_UTIL_H
#define SPECTER_NAPI_UTIL_H
#include <node_api.h>

/* Throws Error("<what>: <strerror> (<CODE>)") with code, errno and syscall set; returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *what);

/* Calls a JS function from a libuv callback; an exception goes to process 'uncaughtException', like any callback's. */
void call_js(napi_env env, napi_async_context async, napi_ref fn_ref, size_t argc, napi_value *argv);

/* The native object behind `this` of a method call, its arguments in argv; NULL (an exception pending) if none. */
void *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);

#endif
