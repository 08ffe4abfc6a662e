// The agent: inputs -> multi-line -> parse -> redact -> rate limit / drop level -> batch ->
// spool (fsync) -> ship. One pipeline thread owns inputs, batching and the checkpoint; one
// shipping thread sends spooled batches (oldest first interleaved with new ones, the backlog
// rate-limited) with jittered exponential backoff.
//
// Durability contract: a batch is in the spool, with its sequence number and the read positions
// after it, before it is sent; the checkpoint (synced every second and at shutdown) never runs
// ahead of the spool; a batch's file is removed only after a checkpoint that covers it is
// durable. So after a crash every line is either re-read (it was in no batch) or resent in the
// same batch under the same Idempotency-Key - never both.
#pragma once

#include <atomic>
#include <memory>

#include "agent/config.h"
#include "common/env.h"
#include "sawmill/status.h"

namespace sawmill::agent {

class Agent {
 public:
  // Opens the spool (taking its lock), recovers positions, starts the inputs and the metrics
  // endpoint. "stdin_fd" is what a stdin input reads. Errors: InvalidArgument (bad input
  // options), FailedPrecondition (another agent holds the spool), IOError, Unavailable (a port
  // cannot be bound).
  static Result<std::unique_ptr<Agent>> Create(const AgentConfig& config, Env* env,
                                               int stdin_fd = 0);
  ~Agent();

  // Runs until "*stop" becomes true, or until every input has finished (stdin at its end) and
  // everything has been shipped. Shuts down cleanly: pending records are batched and spooled,
  // the checkpoint is synced.
  Status Run(const std::atomic<bool>* stop);

  const std::string& agent_id() const;

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::agent
