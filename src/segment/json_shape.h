// JSON lines stored once (issue 19, "Disk"): a JSON line that had no message key is kept by
// ingestion as the message *and* as columns (its keys' values in the dynamic fields, service,
// host, ... and ts). The segment writer stores such a message as a shape instead: the line's
// text with every value that a column of the same record reproduces byte for byte replaced by a
// reference to that column, plus, per row, the few values no column holds ("extras", such as a
// level's text). The reader renders the message back from the shape, the extras and the
// record's columns. A shape is built only when rendering it gives back exactly the message, so
// a line that cannot be rebuilt (odd escapes, `1.0e3`, invalid JSON, ...) keeps its text as
// before. Layout: docs/format/segment.md "Message shapes".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sawmill/record.h"
#include "sawmill/status.h"

namespace sawmill::segment {

// Messages longer than this keep their text (a shape would be unique to the line anyway).
inline constexpr size_t kMaxShapedMessageBytes = 256 * 1024;

// Reusable buffers of BuildJsonShape.
struct ShapeScratch {
  std::string rendered;
  std::string path;
  std::vector<uint8_t> used;
};

// If "r.message" is a JSON object that can be rendered back from r's columns, sets "*shape" and
// "*extra" and returns true; otherwise returns false (the message is stored as is). The shape
// never depends on the values it refers to, so lines of one shape share it (and a dictionary
// entry in the shape column).
bool BuildJsonShape(const Record& r, std::string* shape, std::string* extra, ShapeScratch* scratch);

// The reader's column bits (kCol* of segment.h) a shape refers to, which must be decoded before
// RenderJsonShape. 0 for an empty or malformed shape.
uint32_t JsonShapeColumns(std::string_view shape);

// Appends to "*out" the message that "shape" and "extra" render from "r". DataLoss when the
// shape is malformed or refers to a value the record does not have.
Status RenderJsonShape(std::string_view shape, std::string_view extra, const Record& r,
                       std::string* out);

}  // namespace sawmill::segment
