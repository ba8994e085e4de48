// Linux's socket diagnostics (NETLINK_SOCK_DIAG, linux/inet_diag.h), exposed to Swift as the
// CLinuxDiag module, so that `SockDiagMessages` builds and reads the kernel's messages with the
// kernel header's own layout. linux/tcp.h is left out: Swift would see its struct tcp_info and
// glibc's as two definitions of one type (`TCPCounters` names the offsets it reads instead).
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
