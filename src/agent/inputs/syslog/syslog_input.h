// A local syslog listener: RFC 5424 and RFC 3164 messages over UDP (one per datagram) and TCP
// (newline-delimited or octet-counted, RFC 6587). Framing and parsing are the server's own
// (ingest/syslog_framing.h, ingest/syslog_parser.h): the header's timestamp, HOSTNAME, APP-NAME
// (the service; the input's `service` when absent), PROCID, MSGID, structured data and the
// <PRI> facility and severity (the level) become the record's parts and fields. A `parser` other
// than auto then parses the message part. No checkpoint: a sender that needs delivery
// guarantees uses TCP, which the listener stops reading while the agent is backed up.
#pragma once

#include "agent/input.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& SyslogInputOptionTable();

// Errors: InvalidArgument (bad address), Unavailable (cannot bind, with the reason).
Result<std::unique_ptr<Input>> CreateSyslogInput(const OptionValues& values,
                                                 std::unique_ptr<InputContext> context,
                                                 uint64_t max_line_bytes);

// One syslog message (a datagram or a TCP frame) as the record the input ships: parsed by the
// ingest syslog parser, then, when the input's parser is not auto, its message part by that
// parser (fields added, the message replaced). "now_ns" is the wall clock (the timestamp of a
// message without one, and the year of an RFC 3164 timestamp).
Record ParseSyslogInputMessage(std::string_view message, bool truncated,
                               const InputContext& context, uint64_t max_line_bytes,
                               int64_t now_ns);

}  // namespace sawmill::agent
