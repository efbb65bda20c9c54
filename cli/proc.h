/* Looking at other processes through /proc: is the daemon still there, and
 * is the process behind a socket sdnetd itself (and not systemd holding the
 * socket for activation)? */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* False once pid has exited, even if it lingers as a zombie nobody reaped. */
bool proc_alive(pid_t pid);

/* Is pid a running process whose name (/proc/PID/comm) is "sdnetd"? */
bool proc_is_sdnetd(pid_t pid);
