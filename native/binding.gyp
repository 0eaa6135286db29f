{
  "targets": [
    {
      "target_name": "specter_netlink",
      "sources": ["netlink.c", "udp.c", "napi-util.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
