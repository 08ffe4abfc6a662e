// What every agent input (inputs/<type>/) provides to the pipeline.
//
// The pipeline calls Poll() from its one thread; an input hands over whole records (already
// joined by its multi-line rule). Positions: a file input reports, through Cursors(), for each
// file the offset after the last record it handed over. Because the pipeline processes every
// record of a Poll() before it takes Cursors(), a cursor never runs ahead of the records that
// were batched (or counted as dropped).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/checkpoint.h"
#include "agent/multiline.h"
#include "agent/options.h"
#include "agent/parser.h"
#include "common/timezone.h"

namespace sawmill::agent {

// Per-input settings shared by every record of the input. Owned by the input; lives as long as
// it does.
struct InputContext {
  std::string name;  // "inputs[0]"
  std::string service;
  std::optional<Level> level;  // default level for lines that carry none
  std::vector<std::pair<std::string, std::string>> fields;
  // The zone of times written without one (null: UTC); from TimeZone::Find, lives forever.
  const TimeZone* zone = nullptr;
  std::unique_ptr<Parser> parser;
  MultilineOptions multiline;
};

struct SourceRecord {
  std::string text;
  bool truncated = false;
  const InputContext* context = nullptr;
  // Set when the source already knows these (syslog priority).
  std::optional<Level> level;
  // Container logs: the runtime's time of the line (used when the text has no time of its own),
  // fields such as the stream and the Kubernetes names, and a service (the container's name)
  // used when the input sets none.
  std::optional<int64_t> ts;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string service;
  // Set when the input parsed the record itself (syslog: the ingest syslog parser); "text" is
  // then empty and the pipeline takes this record instead of parsing a line.
  std::optional<Record> record;
};

class Input {
 public:
  virtual ~Input() = default;

  // Reads what is available: at most "max_records" records and roughly "max_bytes" bytes.
  // "now_ns" is monotonic. Appends to "*out"; returns the number of bytes read.
  virtual size_t Poll(int64_t now_ns, size_t max_records, size_t max_bytes,
                      std::vector<SourceRecord>* out) = 0;

  // Emits whatever is pending (multi-line records, a last line without newline). At shutdown.
  virtual void Drain(std::vector<SourceRecord>* out) { (void)out; }

  // Read positions of the files this input tracks (empty for stdin and syslog).
  virtual void Cursors(std::vector<FileCursor>* out) const { (void)out; }

  // True when the input will never produce anything again (stdin at end of file).
  virtual bool Finished() const { return false; }

  virtual void Stop() {}
};

// The keys every input accepts besides its own; merged in front of each input's table.
const std::vector<OptionSpec>& CommonInputOptions();
const std::vector<OptionSpec>& MultilineOptionTable();

// Builds the shared context of an input from its validated options.
// Errors: InvalidArgument (bad parser pattern or multiline pattern, with the key's path).
Result<std::unique_ptr<InputContext>> MakeInputContext(const OptionValues& values,
                                                       uint64_t max_line_bytes);

}  // namespace sawmill::agent
