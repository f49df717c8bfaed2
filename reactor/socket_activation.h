// Systemd socket activation without libsystemd: the service manager binds
// the listening sockets itself and hands them to the server it starts as
// descriptors 3, 4, ... with LISTEN_FDS=N and LISTEN_PID=<the server's pid>
// in the environment (sd_listen_fds(3)). A server adopts them with
// TcpServer(loop, UniqueFd, options).
#pragma once

#include <vector>

#include "reactor/unique_fd.h"

namespace reactor {

// The sockets passed to this process, in order (empty when none were, or
// when LISTEN_PID names another process: the variables were inherited, not
// meant for us). Unsets LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES so child
// processes do not take them for theirs, and marks the descriptors
// close-on-exec. Call once, early, before other descriptors are opened.
std::vector<UniqueFd> take_activated_sockets();

}  // namespace reactor
