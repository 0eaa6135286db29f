/*
 * A connected UDP socket that sends many datagrams per system call, for
 * exporters (IPFIX) that produce them in batches:
 *
 *   new UdpSocket(address, port, onWritable)   numeric IPv4 or IPv6 address; socket() and connect()
 *     send(buffers, from)   sends buffers[from..] in order; returns how many the kernel took (> 0),
 *                           or -errno when buffers[from] could not go (EAGAIN: the send buffer is
 *                           full, onWritable() is called once it has room)
 *     mtu()                 the MTU of the route to the peer (IP_MTU, IPV6_MTU), or -errno
 *     close()
 *
 * Node's dgram makes one sendmsg and one round through JS per datagram; on a
 * virtual machine a system call costs several microseconds. Here one sendmmsg
 * takes up to 64 entries, and with UDP generic segmentation offload (Linux
 * 4.18) a run of datagrams of one length, optionally ending with a shorter one,
 * is one entry: the stack (routing, netfilter) is crossed once for the run and
 * the kernel or the NIC cuts it into datagrams. Where segmentation is refused
 * (an older kernel, a datagram larger than the route's MTU, which then travels
 * in IP fragments) the socket falls back to one entry per datagram for good.
 *
 * sendmmsg reports an error only for its first entry (a later one ends the
 * call early and is reported by the next call), so the count returned is
 * always exact, and an error always belongs to buffers[from].
 */
#define _GNU_SOURCE
#include "udp.h"

#include "napi-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* Entries per sendmmsg; datagrams per segmented entry (the kernel's UDP_MAX_SEGMENTS is at least
 * 64) and bytes per entry (an IP datagram's payload, less headers, with room to spare). */
#define MAX_ENTRIES 64
#define MAX_SEGMENTS 64
#define MAX_ENTRY_BYTES 65000

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int family;
  bool closed;
  bool finalized;
  bool handle_open;
  bool segment; /* generic segmentation offload still tried */
  napi_ref on_writable;
  napi_ref self;
  napi_async_context async;
  struct mmsghdr msgs[MAX_ENTRIES];
  /* Every datagram of a call has its own iovec: a segmented entry points at several. */
  struct iovec iovs[MAX_ENTRIES * MAX_SEGMENTS];
  /* Datagrams in each entry. */
  uint32_t counts[MAX_ENTRIES];
  char control[MAX_ENTRIES][CMSG_SPACE(sizeof(uint16_t))];
  /* The buffers of the call at hand. */
  void *data[MAX_ENTRIES * MAX_SEGMENTS];
  size_t lens[MAX_ENTRIES * MAX_SEGMENTS];
} Udp;

static void free_if_done(Udp *u) {
  if (u->handle_open || !u->finalized) return;
  free(u);
}

static void on_closed(uv_handle_t *h) {
  Udp *u = h->data;
  u->handle_open = false;
  free_if_done(u);
}

static void do_close(Udp *u) {
  if (u->closed) return;
  u->closed = true;
  uv_poll_stop(&u->poll);
  uv_close((uv_handle_t *)&u->poll, on_closed);
  close(u->fd);
  u->fd = -1;
  if (u->async) napi_async_destroy(u->env, u->async);
  u->async = NULL;
  napi_delete_reference(u->env, u->on_writable);
  napi_delete_reference(u->env, u->self);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Udp *u = data;
  if (!u->closed) do_close(u);
  u->finalized = true;
  free_if_done(u);
}

static void on_writable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  Udp *u = h->data;
  uv_poll_stop(&u->poll);
  napi_handle_scope scope;
  napi_open_handle_scope(u->env, &scope);
  call_js(u->env, u->async, u->on_writable, 0, NULL);
  napi_close_handle_scope(u->env, scope);
}

static Udp *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  Udp *u = unwrap_this(env, info, argc, argv);
  if (u && u->closed) {
    napi_throw_error(env, "ECLOSED", "the UDP socket is closed");
    return NULL;
  }
  return u;
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len;
  uint32_t port;
  napi_valuetype t2;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || port == 0 || port > 65535 ||
      napi_typeof(env, argv[2], &t2) != napi_ok || t2 != napi_function) {
    napi_throw_type_error(env, NULL, "UdpSocket(address, port, onWritable)");
    return NULL;
  }
  struct sockaddr_storage to = {0};
  socklen_t to_len;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&to;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&to;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    to_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    to_len = sizeof *v6;
  } else {
    napi_throw_type_error(env, NULL, "UdpSocket: the address must be a numeric IPv4 or IPv6 address");
    return NULL;
  }
  int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (connect(fd, (struct sockaddr *)&to, to_len)) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect");
  }
  Udp *u = calloc(1, sizeof *u);
  if (!u) {
    close(fd);
    return throw_errno(env, ENOMEM, "malloc");
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int err = uv_poll_init(loop, &u->poll, fd);
  if (err) {
    close(fd);
    free(u);
    return throw_errno(env, -err, "uv_poll_init");
  }
  u->env = env;
  u->fd = fd;
  u->family = to.ss_family;
  u->segment = true;
  u->handle_open = true;
  u->poll.data = u;
  napi_value name;
  napi_create_string_utf8(env, "specter:udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &u->async);
  napi_create_reference(env, argv[2], 1, &u->on_writable);
  if (napi_wrap(env, self, u, finalize, NULL, NULL) != napi_ok) {
    u->finalized = true;
    do_close(u);
    return NULL;
  }
  /* Strong while open: the poll may call back into this object. */
  napi_create_reference(env, self, 1, &u->self);
  return self;
}

/* Fills the entries for datagrams data[0..n); returns how many entries. */
static int build(Udp *u, uint32_t n) {
  void **data = u->data;
  size_t *lens = u->lens;
  int entries = 0;
  uint32_t i = 0, iov = 0;
  while (i < n && entries < MAX_ENTRIES) {
    struct msghdr *h = &u->msgs[entries].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_iov = &u->iovs[iov];
    size_t len = lens[i], total = 0;
    uint32_t k = 0;
    /* A run of datagrams of one length, and a last one that is not longer. */
    while (i + k < n && k < (u->segment ? MAX_SEGMENTS : 1) && total + lens[i + k] <= MAX_ENTRY_BYTES) {
      size_t l = lens[i + k];
      if (k > 0 && l > len) break;
      u->iovs[iov + k] = (struct iovec){data[i + k], l};
      total += l;
      k++;
      if (l < len) break;
    }
    if (k == 0) {
      /* One datagram larger than an entry may be: alone (the kernel fragments or refuses it). */
      u->iovs[iov] = (struct iovec){data[i], len};
      k = 1;
    }
    h->msg_iovlen = k;
    if (k > 1) {
      h->msg_control = u->control[entries];
      h->msg_controllen = sizeof u->control[entries];
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = (uint16_t)len;
      memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    u->counts[entries] = k;
    iov += k;
    i += k;
    entries++;
  }
  return entries;
}

static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Udp *u = unwrap(env, info, &argc, argv);
  if (!u) return NULL;
  bool is_array;
  uint32_t length, from;
  if (argc < 2 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &from) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(buffers, from)");
    return NULL;
  }
  uint32_t n = 0;
  for (uint32_t i = from; i < length && n < MAX_ENTRIES * MAX_SEGMENTS; i++, n++) {
    napi_value b;
    bool is_buffer;
    if (napi_get_element(env, argv[0], i, &b) != napi_ok || napi_is_buffer(env, b, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, b, &u->data[n], &u->lens[n]) != napi_ok) {
      napi_throw_type_error(env, NULL, "send(buffers, from): buffers must hold Buffers");
      return NULL;
    }
  }
  int32_t result = 0;
  if (n > 0) {
    for (;;) {
      int entries = build(u, n);
      int sent = sendmmsg(u->fd, u->msgs, (unsigned)entries, 0);
      if (sent < 0 && errno == EINTR) continue;
      /* Segmentation refused: EMSGSIZE (a segment larger than the route's MTU), EINVAL (an unknown
       * option), EIO (no checksum offload). Try again one datagram per entry, from now on. */
      if (sent < 0 && u->counts[0] > 1 && (errno == EMSGSIZE || errno == EINVAL || errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
        u->segment = false;
        continue;
      }
      if (sent < 0) {
        result = -errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          result = -EAGAIN;
          uv_poll_start(&u->poll, UV_WRITABLE, on_writable);
        }
      } else {
        for (int e = 0; e < sent; e++) result += (int32_t)u->counts[e];
      }
      break;
    }
  }
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

static napi_value udp_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Udp *u = unwrap(env, info, &argc, NULL);
  if (!u) return NULL;
  int mtu = 0;
  socklen_t len = sizeof mtu;
  int r = u->family == AF_INET6 ? getsockopt(u->fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len) : getsockopt(u->fd, IPPROTO_IP, IP_MTU, &mtu, &len);
  napi_value out;
  napi_create_int32(env, r < 0 ? -errno : mtu, &out);
  return out;
}

static napi_value udp_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  do_close(data);
  return NULL;
}

napi_value udp_register(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"send", NULL, udp_send, NULL, NULL, NULL, napi_default, NULL},
      {"mtu", NULL, udp_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "UdpSocket", NAPI_AUTO_LENGTH, construct, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "UdpSocket", cls);
  return exports;
}
