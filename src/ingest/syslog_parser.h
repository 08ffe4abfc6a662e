// Syslog messages: RFC 5424 and RFC 3164 (BSD), as rsyslog, syslog-ng, util-linux logger and
// network devices send them. See docs/shippers.md for the field mapping.
#pragma once

#include <string_view>

#include "ingest/shipper_record.h"
#include "sawmill/record.h"

namespace sawmill::ingest {

// Parses one message (one frame of a TCP stream or one UDP datagram). Never fails: a message
// without a valid <PRI> header, or an RFC 5424 header that does not follow the grammar, is kept
// whole in `message` with kFlagParseFailed. The priority gives the level and the `facility` and
// `severity` fields; APP-NAME (TAG in RFC 3164) becomes the service and HOSTNAME the host
// (context.defaults.host, usually the sender's address, when absent). RFC 5424 PROCID and
// MSGID become `proc_id` and `msg_id`; each structured data parameter becomes a field
// "<SD-ID>.<PARAM-NAME>" (a parameter named trace_id/traceId or span_id/spanId also fills the
// record's ids). RFC 3164 timestamps have no year: the most recent such time not more than a
// day ahead of the server clock.
Record ParseSyslogMessage(std::string_view message, const ShipperContext& context);

// "kern", "user", ..., "local7" for 0..23; "" otherwise.
std::string_view SyslogFacilityName(int facility);
// "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" for 0..7.
std::string_view SyslogSeverityName(int severity);

}  // namespace sawmill::ingest
