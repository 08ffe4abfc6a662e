// A local syslog listener: RFC 5424 and RFC 3164 messages over UDP (one per datagram) and TCP
// (newline-delimited or octet-counted, RFC 6587). The <PRI> severity gives the level; the rest of
// the message is parsed like any line (the timestamp at its start is found by the server's
// normaliser). No checkpoint: a sender that needs delivery guarantees uses TCP, which the
// listener stops reading while the agent is backed up.
#pragma once

#include "agent/input.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& SyslogInputOptionTable();

// Errors: InvalidArgument (bad address), Unavailable (cannot bind, with the reason).
Result<std::unique_ptr<Input>> CreateSyslogInput(const OptionValues& values,
                                                 std::unique_ptr<InputContext> context,
                                                 uint64_t max_line_bytes);

// Splits "<PRI>rest" into a level and the rest; leaves "*level" empty without a valid PRI.
std::string_view StripSyslogPriority(std::string_view message, std::optional<Level>* level);

}  // namespace sawmill::agent
