{
  "targets": [
    {
      "target_name": "specter_netlink",
      "sources": ["netlink.c", "udp.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
