#include "napi-util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

napi_value throw_errno(napi_env env, int err, const char *what) {
  char text[256];
  snprintf(text, sizeof text, "%s: %s (%s)", what, strerror(err), uv_err_name(-err));
  napi_value msg, error, code, num, syscall;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err, &num);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

void call_js(napi_env env, napi_async_context async, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, recv, result;
  bool pending;
  napi_get_reference_value(env, fn_ref, &fn);
  napi_get_global(env, &recv);
  napi_make_callback(env, async, recv, fn, argc, argv, &result);
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

void *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}
