// Container runtime log files, as the file input reads them with `format: cri | docker |
// container` (docs/agent.md, "Container logs"):
//
// - CRI (containerd, CRI-O; what Kubernetes writes under /var/log/pods and links from
//   /var/log/containers): `<RFC 3339 time> <stdout|stderr> <P|F> <text>`. A line longer than the
//   runtime's buffer is written as several `P` (partial) lines and a last `F` (full) line.
// - Docker's json-file driver: `{"log":"<text>\n","stream":"stdout","time":"<RFC 3339>"}`. A
//   line longer than 16 KiB is written as several objects whose "log" does not end in a newline.
// - `container` tells the two apart line by line (a line starting with '{' is Docker's).
//
// And the Kubernetes names in a file name of /var/log/containers:
// `<pod>_<namespace>_<container>-<64 hex container id>.log`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sawmill::agent {

enum class LineFormat { kPlain, kCri, kDocker, kContainer };

// "plain", "cri", "docker" or "container"; nullopt for anything else.
std::optional<LineFormat> LineFormatFromName(std::string_view name);

struct ContainerLine {
  int64_t ts = 0;        // the runtime's time of the line, nanoseconds since the epoch
  std::string stream;    // "stdout" or "stderr"
  bool partial = false;  // more of the same line follows
  std::string text;      // the application's text, without the runtime's newline
};

// Decodes one physical line of a container log file ("format" is not kPlain). Returns false when
// the line is not in the format (the caller keeps the line as it is); "*error" then says why.
bool ParseContainerLine(std::string_view line, LineFormat format, ContainerLine* out,
                        std::string* error);

struct PodFileName {
  std::string pod, namespace_name, container, container_id;
};

// The Kubernetes names in a /var/log/containers file name (the path's last component), or
// nullopt when it does not have that shape.
std::optional<PodFileName> ParsePodFileName(std::string_view path);

}  // namespace sawmill::agent
