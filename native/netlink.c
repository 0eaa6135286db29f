/*
 * specter's netlink socket: a small N-API addon (node_api.h and libuv only).
 *
 *   new NetlinkSocket(protocol, ends, onBatch, onError[, maxDatagram[, shared]])
 *     bind(groups)                 bind (the kernel picks the port id) and start reading
 *     setNetlinkOption(name, int)  setsockopt(SOL_NETLINK, ...): memberships, NO_ENOBUFS, ...
 *     setReceiveBuffer(bytes)      SO_RCVBUFFORCE where the process may, else SO_RCVBUF
 *     receiveBuffer()              SO_RCVBUF as the kernel reports it
 *     send(buffer)                 one message to the kernel; returns 0 or an errno
 *     pause(bool)                  stop or resume reading (the kernel keeps what arrives)
 *     setReadDelay(ms)             wait up to this long after a quiet spell before reading (0: at once)
 *     close()
 *
 * Receiving is batched: on readability, as many datagrams as are waiting (up to
 * ends.length, or until the scratch buffer is full) are read into one reused
 * buffer, copied into one fresh Buffer, and handed to JS in one call:
 * onBatch(buffer, count), datagram i ending at ends[i]. The copy is one
 * allocation per wake-up instead of one per datagram, and JS may keep views
 * into it (queued rows do). With `shared`, for a consumer that copies what it
 * keeps, every batch is the same Buffer, the one read into: no allocation and
 * no copy per wake-up; the next batch overwrites it. ENOBUFS (the kernel dropped datagrams because the
 * receive buffer was full) is counted and reading goes on: onError(errno, times)
 * after the batch.
 *
 * The datagrams are read with recvmmsg, several per system call, each into a
 * slot of maxDatagram bytes (the largest datagram the socket expects: 256 KiB,
 * the default, for NFLOG; a larger one is lost and reported as EMSGSIZE), and
 * moved down to follow the previous one, so the batch is contiguous.
 *
 * With a read delay, the socket becoming readable after a batch that was not
 * full starts a timer instead of a read: the datagrams that arrive meanwhile
 * come in the same batch. The wait is libuv's, here: no call into JS, no
 * batch of one or two datagrams. It ends at the delay, or sooner once the
 * datagrams waiting take an eighth of the receive buffer (SO_MEMINFO, looked
 * at every 5 to 50 milliseconds), so a long delay that gathers a slow stream
 * into large batches does not leave a burst to fill the buffer. After a full
 * batch, reading goes on at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "napi-util.h"
#include "udp.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* The default and largest read size per datagram: nfnetlink_log caps its buffer at 128 KiB,
 * one packet at 64 KiB. */
#define MAX_DATAGRAM (256 * 1024)
#define MIN_DATAGRAM 4096
/* Read space per wake-up beyond one slot; a batch ends when less than a slot is left (about
 * 1 MiB of datagrams). 4 MiB batches saved nothing measurable and raised the daemon's peak RSS
 * by 15-30 MB: the allocator keeps freed multi-MiB blocks around. */
#define BATCH_BYTES (1024 * 1024)
/* How often a read delay looks at how full the receive buffer is: halfway to when the buffer would
 * take gather_bytes at the rate it filled so far (at first, the rate of the previous wait), but no
 * sooner than DELAY_TICK_MS and never later than MAX_TICK_MS. At a few thousand events a second a
 * 100 ms wait is two looks instead of twenty (each look is a wake-up); a burst is still seen within
 * 50 ms, while the buffer has seven eighths left. */
#define DELAY_TICK_MS 5
#define MAX_TICK_MS 50
/* Datagrams per recvmmsg call at most. */
#define MAX_VLEN 64

typedef struct {
  uv_poll_t poll;
  uv_timer_t timer; /* the read delay */
  napi_env env;
  int fd;
  bool reading;     /* bound: the poll should run unless paused */
  bool paused;
  bool closed;
  bool delaying;    /* readable: the timer runs, the read waits for it */
  bool last_full;   /* the last batch was full: more are waiting, read at once */
  int open_handles; /* libuv handles not closed yet */
  bool finalized;   /* the JS object is gone */
  uint64_t delay_ms;
  uint64_t delay_start; /* loop time the wait began */
  uint32_t gather_bytes; /* the wait ends once this much of the receive buffer is taken */
  uint64_t first_tick;   /* ms to the first look of a wait, from the fill rate of the previous one */
  napi_ref self;      /* strong while open: an open socket is not collected */
  napi_ref on_batch;
  napi_ref on_error;
  napi_ref ends_ref;
  int32_t *ends;
  size_t max_batch;
  size_t slot;         /* read space per datagram */
  size_t scratch_size; /* slot + BATCH_BYTES */
  char *scratch;       /* malloc'ed, or the memory of `shared` */
  napi_ref shared;     /* the Buffer every batch is handed in, or NULL: a copy per batch */
  struct mmsghdr msgs[MAX_VLEN];
  struct iovec iovs[MAX_VLEN];
  struct sockaddr_nl from[MAX_VLEN];
  napi_async_context async;
} Socket;

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return NULL;               \
  } while (0)

static void free_if_done(Socket *s) {
  if (s->open_handles > 0 || !s->finalized) return;
  if (!s->shared) free(s->scratch);
  free(s);
}

/* No N-API here: at exit, libuv closes the handle after the environment is gone. */
static void on_handle_closed(uv_handle_t *handle) {
  Socket *s = handle->data;
  s->open_handles--;
  free_if_done(s);
}

/* Safe to call from inside a callback: the memory lives until libuv has closed the handle. */
static void do_close(Socket *s) {
  if (s->closed) return;
  s->closed = true;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, on_handle_closed);
  close(s->fd);
  s->fd = -1;
  /* The callback running now (if any) keeps its own copy of the async ids. */
  if (s->async) napi_async_destroy(s->env, s->async);
  s->async = NULL;
  napi_delete_reference(s->env, s->on_batch);
  napi_delete_reference(s->env, s->on_error);
  napi_delete_reference(s->env, s->ends_ref);
  napi_delete_reference(s->env, s->self);
  /* The memory stays V8's (and whoever still holds the Buffer's); nothing reads into it any more. */
  if (s->shared) napi_delete_reference(s->env, s->shared);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Socket *s = data;
  if (!s->closed) do_close(s);
  s->finalized = true;
  free_if_done(s);
}

static void on_readable(uv_poll_t *handle, int status, int events);

static void watch(Socket *s) {
  if (s->closed || !s->reading) return;
  if (s->paused) {
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->timer);
    s->delaying = false;
  } else if (!s->delaying) {
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
  }
}

/* Reads what is waiting, up to a batch, and hands it to JS. */
static void read_batch(Socket *s) {
  size_t used = 0, count = 0;
  int enobufs = 0, other = 0, other_errno = 0, truncated = 0;
  while (count < s->max_batch && used + s->slot <= s->scratch_size) {
    /* Slots from the end of what is read so far; each datagram then moves down to follow the last. */
    char *base = s->scratch + used;
    size_t vlen = (s->scratch_size - used) / s->slot;
    if (vlen > s->max_batch - count) vlen = s->max_batch - count;
    if (vlen > MAX_VLEN) vlen = MAX_VLEN;
    for (size_t i = 0; i < vlen; i++) {
      s->iovs[i] = (struct iovec){base + i * s->slot, s->slot};
      s->msgs[i].msg_hdr = (struct msghdr){.msg_name = &s->from[i], .msg_namelen = sizeof s->from[i], .msg_iov = &s->iovs[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(s->fd, s->msgs, (unsigned)vlen, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        enobufs++;
        continue;
      }
      other++;
      other_errno = errno;
      break;
    }
    for (int i = 0; i < n; i++) {
      if (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        truncated++;
        continue;
      }
      /* Only the kernel (port 0) speaks for netfilter; another process could send to our port. */
      if (s->from[i].nl_pid != 0) continue;
      size_t len = s->msgs[i].msg_len;
      char *at = base + (size_t)i * s->slot;
      if (at != s->scratch + used) memmove(s->scratch + used, at, len);
      used += len;
      s->ends[count++] = (int32_t)used;
    }
    /* Fewer than asked: the queue is empty, or an error is pending, which the kernel reports
     * on the next read (it marks the socket, so the poll wakes again at once). */
    if ((size_t)n < vlen) break;
  }
  s->last_full = count >= s->max_batch || used + s->slot > s->scratch_size;

  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  if (count > 0) {
    napi_value argv[2];
    void *data;
    if (s->shared) napi_get_reference_value(s->env, s->shared, &argv[0]);
    else napi_create_buffer_copy(s->env, used, s->scratch, &data, &argv[0]);
    napi_create_uint32(s->env, (uint32_t)count, &argv[1]);
    call_js(s->env, s->async, s->on_batch, 2, argv);
  }
  int codes[3] = {ENOBUFS, EMSGSIZE, other_errno};
  int times[3] = {enobufs, truncated, other};
  for (int i = 0; i < 3 && !s->closed; i++) {
    if (times[i] == 0) continue;
    napi_value argv[2];
    napi_create_int32(s->env, codes[i], &argv[0]);
    napi_create_int32(s->env, times[i], &argv[1]);
    call_js(s->env, s->async, s->on_error, 2, argv);
  }
  napi_close_handle_scope(s->env, scope);
}

/* Bytes the datagrams waiting in the socket take of its receive buffer, or 0 if unknown. */
static uint32_t receive_queue_bytes(Socket *s) {
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  if (getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) || len <= SK_MEMINFO_RMEM_ALLOC * sizeof mem[0]) return 0;
  return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Half the time the receive buffer would take to go from `from` bytes to gather_bytes at the rate
 * `queued` bytes came in `waited` ms, within the tick bounds. */
static uint64_t half_eta(Socket *s, uint32_t from, uint32_t queued, uint64_t waited) {
  if (waited == 0 || queued == 0) return DELAY_TICK_MS;
  uint64_t eta = from < s->gather_bytes ? (uint64_t)(s->gather_bytes - from) * waited / queued : 0;
  return eta / 2 < DELAY_TICK_MS ? DELAY_TICK_MS : eta / 2 > MAX_TICK_MS ? MAX_TICK_MS : eta / 2;
}

static void on_delay(uv_timer_t *timer) {
  Socket *s = timer->data;
  uint32_t queued = receive_queue_bytes(s);
  uint64_t waited = uv_now(s->timer.loop) - s->delay_start;
  uint64_t left = waited < s->delay_ms ? s->delay_ms - waited : 0;
  uint64_t tick = queued < s->gather_bytes ? half_eta(s, queued, queued, waited) : 0;
  if (tick > left) tick = left;
  if (tick > 0) {
    uv_timer_start(&s->timer, on_delay, tick, 0);
    return;
  }
  s->first_tick = half_eta(s, 0, queued, waited);
  s->delaying = false;
  read_batch(s);
  watch(s);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  Socket *s = handle->data;
  if (s->delay_ms > 0 && !s->last_full) {
    uv_poll_stop(&s->poll);
    s->delaying = true;
    s->delay_start = uv_now(s->timer.loop);
    uv_timer_start(&s->timer, on_delay, s->delay_ms < s->first_tick ? s->delay_ms : s->first_tick, 0);
    return;
  }
  /* On a socket error (how the kernel flags ENOBUFS) libuv stops the handle and reports
   * UV_EBADF; the next read returns the error and clears it, so read anyway. */
  read_batch(s);
  /* libuv stopped the handle on a socket error: start it again. */
  if (status < 0) watch(s);
}

static Socket *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  Socket *s = unwrap_this(env, info, argc, argv);
  if (s && s->closed) {
    napi_throw_error(env, "ECLOSED", "the netlink socket is closed");
    return NULL;
  }
  return s;
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t protocol;
  napi_valuetype t2, t3;
  bool is_typed;
  napi_typedarray_type ta_type;
  size_t ta_len;
  void *ta_data;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &protocol) != napi_ok ||
      napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &ta_type, &ta_len, &ta_data, NULL, NULL) != napi_ok ||
      ta_type != napi_int32_array || ta_len == 0 || napi_typeof(env, argv[2], &t2) != napi_ok ||
      t2 != napi_function || napi_typeof(env, argv[3], &t3) != napi_ok || t3 != napi_function) {
    napi_throw_type_error(env, NULL, "NetlinkSocket(protocol, ends: Int32Array, onBatch, onError[, maxDatagram[, shared]])");
    return NULL;
  }
  uint32_t slot = MAX_DATAGRAM;
  napi_valuetype t4 = napi_undefined;
  if (argc > 4) napi_typeof(env, argv[4], &t4);
  if (t4 != napi_undefined && (napi_get_value_uint32(env, argv[4], &slot) != napi_ok || slot < MIN_DATAGRAM || slot > MAX_DATAGRAM)) {
    napi_throw_range_error(env, NULL, "NetlinkSocket: maxDatagram must be 4096 to 262144 bytes");
    return NULL;
  }
  bool shared = false;
  if (argc > 5) napi_get_value_bool(env, argv[5], &shared);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  napi_value shared_buf = NULL;
  void *shared_data = NULL;
  if (shared) CHECK(napi_create_buffer(env, slot + BATCH_BYTES, &shared_data, &shared_buf));

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) return throw_errno(env, errno, "socket");
  Socket *s = calloc(1, sizeof *s);
  char *scratch = shared ? shared_data : malloc(slot + BATCH_BYTES);
  if (!s || !scratch) {
    free(s);
    if (!shared) free(scratch);
    close(fd);
    return throw_errno(env, ENOMEM, "malloc");
  }
  s->env = env;
  s->fd = fd;
  s->scratch = scratch;
  s->ends = ta_data;
  s->max_batch = ta_len;
  s->slot = slot;
  s->scratch_size = slot + BATCH_BYTES;
  int err = uv_poll_init(loop, &s->poll, fd);
  if (err) {
    close(fd);
    if (!shared) free(scratch);
    free(s);
    return throw_errno(env, -err, "uv_poll_init");
  }
  if (shared) napi_create_reference(env, shared_buf, 1, &s->shared);
  uv_timer_init(loop, &s->timer);
  s->poll.data = s;
  s->timer.data = s;
  s->open_handles = 2;
  napi_value name;
  napi_create_string_utf8(env, "specter:netlink", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &s->async);
  napi_create_reference(env, argv[1], 1, &s->ends_ref);
  napi_create_reference(env, argv[2], 1, &s->on_batch);
  napi_create_reference(env, argv[3], 1, &s->on_error);
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    s->finalized = true;
    do_close(s);
    return NULL;
  }
  napi_create_reference(env, self, 1, &s->self);
  return self;
}

static napi_value sock_bind(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t groups = 0;
  if (argc > 0) napi_get_value_uint32(env, argv[0], &groups);
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = groups};
  if (bind(s->fd, (struct sockaddr *)&addr, sizeof addr)) return throw_errno(env, errno, "bind");
  socklen_t len = sizeof addr;
  if (getsockname(s->fd, (struct sockaddr *)&addr, &len)) return throw_errno(env, errno, "getsockname");
  s->reading = true;
  watch(s);
  napi_value port;
  napi_create_uint32(env, addr.nl_pid, &port);
  return port;
}

static napi_value set_netlink_option(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  int32_t name, value;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &name) != napi_ok || napi_get_value_int32(env, argv[1], &value) != napi_ok) {
    napi_throw_type_error(env, NULL, "setNetlinkOption(name, value)");
    return NULL;
  }
  if (setsockopt(s->fd, SOL_NETLINK, name, &value, sizeof value)) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

static napi_value set_receive_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  int32_t size;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &size) != napi_ok || size <= 0) {
    napi_throw_type_error(env, NULL, "setReceiveBuffer(bytes > 0)");
    return NULL;
  }
  /* SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN. */
  if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) &&
      setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size))
    return throw_errno(env, errno, "setsockopt");
  return NULL;
}

static napi_value receive_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Socket *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  int size;
  socklen_t len = sizeof size;
  if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, &len)) return throw_errno(env, errno, "getsockopt");
  napi_value out;
  napi_create_int32(env, size, &out);
  return out;
}

static napi_value sock_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  void *data;
  size_t len;
  bool is_buffer;
  if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(buffer)");
    return NULL;
  }
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  while (n < 0 && errno == EINTR);
  napi_value out;
  napi_create_int32(env, n < 0 ? errno : 0, &out);
  return out;
}

static napi_value sock_pause(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool on = true;
  if (argc > 0) napi_get_value_bool(env, argv[0], &on);
  /* Resumed after a pause: what waited meanwhile is read at once. */
  if (s->paused && !on) s->last_full = true;
  s->paused = on;
  watch(s);
  return NULL;
}

static napi_value set_read_delay(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t ms;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &ms) != napi_ok) {
    napi_throw_type_error(env, NULL, "setReadDelay(ms >= 0)");
    return NULL;
  }
  s->delay_ms = ms;
  s->first_tick = DELAY_TICK_MS;
  int rcvbuf = 0;
  socklen_t len = sizeof rcvbuf;
  /* SO_RCVBUF reports the limit the kernel compares the queued bytes with (twice what was asked). */
  if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 && rcvbuf > 0) s->gather_bytes = (uint32_t)rcvbuf / 8;
  else s->gather_bytes = UINT32_MAX;
  /* No more delay: a read waiting for the timer happens now. */
  if (ms == 0 && s->delaying) {
    uv_timer_stop(&s->timer);
    s->delaying = false;
    s->last_full = true;
    watch(s);
  }
  return NULL;
}

static napi_value sock_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  do_close(data);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"bind", NULL, sock_bind, NULL, NULL, NULL, napi_default, NULL},
      {"setNetlinkOption", NULL, set_netlink_option, NULL, NULL, NULL, napi_default, NULL},
      {"setReceiveBuffer", NULL, set_receive_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"receiveBuffer", NULL, receive_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, sock_send, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, sock_pause, NULL, NULL, NULL, napi_default, NULL},
      {"setReadDelay", NULL, set_read_delay, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, sock_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "NetlinkSocket", NAPI_AUTO_LENGTH, construct, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "NetlinkSocket", cls);
  return udp_register(env, exports);
}
