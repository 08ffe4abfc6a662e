// Reads lines from the agent's standard input. At end of input the pending multi-line record is
// flushed and the input reports Finished(); an agent whose inputs are all finished ships what it
// has and exits. There is no checkpoint: what was read before a crash and not yet spooled is
// the pipe's to lose.
#pragma once

#include "agent/input.h"

namespace sawmill::agent {

const std::vector<OptionSpec>& StdinInputOptionTable();

Result<std::unique_ptr<Input>> CreateStdinInput(const OptionValues& values,
                                                std::unique_ptr<InputContext> context,
                                                uint64_t max_line_bytes, int fd);

}  // namespace sawmill::agent
