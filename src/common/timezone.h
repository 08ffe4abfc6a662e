// Time zones for times written without one: the UTC offset in effect at every instant, read from
// the system's zone database (TZif files, RFC 8536, as Debian's tzdata installs them under
// /usr/share/zoneinfo) or given as a fixed offset. libstdc++ 12 has no std::chrono::locate_zone,
// hence this small reader.
//
// Local time to UTC (LocalToUtc), where a civil time does not name exactly one instant:
//   - in an overlap (a clock set back: Europe/Berlin 2026-10-25 02:30 happens twice) the earlier
//     instant is taken, i.e. the offset in effect before the change (CEST, +02:00), as Python's
//     fold=0 and Java's ZonedDateTime.of do;
//   - in a gap (a clock set forward: Europe/Berlin 2026-03-29 02:30 never happens) the time is
//     read with the offset in effect before the change (+01:00) and so lands as far after the
//     change as it was written after it (01:30 UTC, shown as 03:30 CEST), as Python and Java do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/status.h"

namespace sawmill {

class TimeZone {
 public:
  // The zone called "name":
  //   - "UTC", "Z" or "GMT" (any case): UTC;
  //   - a fixed offset east of UTC: "+01:00", "+0100", "+01", "-05:30" (up to 23:59);
  //   - an IANA zone name ("Europe/Berlin", "America/New_York", "Etc/GMT+1"), read from the zone
  //     database directory (ZoneDirectory()).
  // Zones are loaded once and kept for the life of the process: the pointer never dangles.
  // Thread-safe.
  // Errors: InvalidArgument naming "name" and why: not a zone name (characters other than
  // letters, digits, '/', '_', '-', '+', or a '.'/'..' component, or an absolute path), no such
  // zone in the database, or a file that is not a valid TZif file.
  static Result<const TimeZone*> Find(std::string_view name);

  // UTC. Never null.
  static const TimeZone* Utc();

  // Parses a zone from the bytes of a TZif file (version 1, 2, 3 or 4). Exposed for tests.
  // Errors: InvalidArgument saying what is wrong with the data.
  static Result<std::unique_ptr<TimeZone>> FromTzif(std::string name, std::string_view data);

  // A zone with one fixed offset (seconds east of UTC).
  static std::unique_ptr<TimeZone> Fixed(std::string name, int32_t offset_seconds);

  // The name it was found by ("Europe/Berlin", "+01:00", "UTC").
  const std::string& name() const { return name_; }

  // Seconds east of UTC in effect at the instant "utc_seconds" (seconds since 1970, UTC).
  int32_t OffsetAt(int64_t utc_seconds) const;

  // The instant (seconds since 1970, UTC) of a local civil time, given as seconds since
  // 1970-01-01 00:00 local time. Gaps and overlaps as the file comment says.
  int64_t LocalToUtc(int64_t local_seconds) const;

  // One daylight saving rule from a POSIX TZ string (the footer of a TZif v2+ file), used for
  // instants after the file's last transition. Public so that the .cc can define it.
  struct PosixRule;

  ~TimeZone();

 private:
  TimeZone();

  std::string name_;
  std::vector<int64_t> transitions_;      // UTC seconds, ascending
  std::vector<uint8_t> transition_type_;  // index into offsets_, one per transition
  std::vector<int32_t> offsets_;          // seconds east of UTC, per local time type
  std::unique_ptr<PosixRule> rule_;       // after the last transition (may be null)
};

// The directory of the zone database: $TZDIR when set (as glibc reads it), else
// /usr/share/zoneinfo.
std::string ZoneDirectory();

}  // namespace sawmill
