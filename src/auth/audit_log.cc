#include "auth/audit_log.h"

#include <utility>

#include "auth/crypto.h"

namespace sawmill::auth {

namespace {

void Field(std::string_view value, std::string* out) {
  *out += std::to_string(value.size());
  out->push_back(':');
  out->append(value);
}

void Field(int64_t value, std::string* out) { Field(std::to_string(value), out); }

constexpr size_t kMaxProblems = 100;

}  // namespace

std::string AuditHash(const catalog::AuditRow& row) {
  std::string text;
  Field(row.prev_hash, &text);
  Field(static_cast<int64_t>(row.seq), &text);
  Field(row.at_ns, &text);
  Field(row.who, &text);
  Field(row.token_id, &text);
  Field(row.tenant, &text);
  Field(row.action, &text);
  Field(row.query, &text);
  Field(row.from_ns, &text);
  Field(row.to_ns, &text);
  Field(row.rows, &text);
  Field(row.address, &text);
  Field(static_cast<int64_t>(row.status), &text);
  return Sha256Hex(text);
}

std::vector<std::string> VerifyAuditChain(const catalog::AuditAnchor& anchor,
                                          const std::vector<catalog::AuditRow>& rows,
                                          std::string* last_hash, uint64_t* last_seq) {
  std::vector<std::string> problems;
  auto note = [&problems](std::string problem) {
    if (problems.size() < kMaxProblems) problems.push_back(std::move(problem));
  };
  std::string prev = last_hash->empty() && *last_seq == 0 ? anchor.hash : *last_hash;
  uint64_t expected = (*last_seq == 0 ? anchor.seq : *last_seq) + 1;
  for (const catalog::AuditRow& row : rows) {
    if (row.seq != expected) {
      note(row.seq > expected ? "entries " + std::to_string(expected) + " to " +
                                    std::to_string(row.seq - 1) + " are missing (deleted)"
                              : "entry " + std::to_string(row.seq) + " is out of order");
    } else if (row.prev_hash != prev) {
      note("entry " + std::to_string(row.seq) +
           " does not follow the entry before it (prev_hash differs): an entry was removed or "
           "replaced before it");
    }
    if (AuditHash(row) != row.hash) {
      note("entry " + std::to_string(row.seq) + " was edited: its fields do not match its hash");
    }
    prev = row.hash;
    expected = row.seq + 1;
    *last_seq = row.seq;
  }
  *last_hash = prev;
  return problems;
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(catalog::Catalog* catalog, Clock* clock) {
  std::unique_ptr<AuditLog> log(new AuditLog(catalog, clock));
  auto last = catalog->LastAudit();
  if (!last.ok()) return last.status().WithContext("reading the audit log");
  auto anchor = catalog->GetAuditAnchor();
  if (!anchor.ok()) return anchor.status().WithContext("reading the audit log");
  MutexLock lock(&log->mu_);
  if (*last) {
    log->last_seq_ = (*last)->seq;
    log->last_hash_ = (*last)->hash;
  } else {
    log->last_seq_ = anchor->seq;
    log->last_hash_ = anchor->hash;
  }
  return log;
}

Status AuditLog::Append(catalog::AuditRow row) {
  MutexLock lock(&mu_);
  if (row.at_ns == 0) row.at_ns = clock_->NowNanos();
  // The seq and prev_hash are the catalog's head, read in the append's own transaction: other
  // nodes sharing the catalog append to the same chain (docs/security.md "Audit log").
  // Never below this process's own last seq + 1: entries deleted from the end leave a gap.
  ASSIGN_OR_RETURN(catalog::AuditRow stored,
                   catalog_->AppendAuditChained(std::move(row), last_seq_ + 1, AuditHash));
  last_seq_ = stored.seq;
  last_hash_ = stored.hash;
  return Status::OK();
}

Result<std::vector<catalog::AuditRow>> AuditLog::List(const catalog::AuditFilter& filter) const {
  return catalog_->ListAudit(filter);
}

Result<AuditVerification> AuditLog::Verify() const {
  auto anchor = catalog_->GetAuditAnchor();
  if (!anchor.ok()) return anchor.status();
  uint64_t appended = 0;  // committed before the walk starts, so the walk must see it
  {
    MutexLock lock(&mu_);
    appended = last_seq_;
  }
  AuditVerification out;
  std::string last_hash;
  uint64_t last_seq = 0;
  catalog::AuditFilter filter;
  filter.after_seq = 0;
  filter.limit = 10'000;
  while (true) {
    auto rows = catalog_->ListAudit(filter);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    if (out.entries == 0) out.first_seq = rows->front().seq;
    for (std::string& p : VerifyAuditChain(*anchor, *rows, &last_hash, &last_seq)) {
      if (out.problems.size() < kMaxProblems) out.problems.push_back(std::move(p));
    }
    out.entries += rows->size();
    filter.after_seq = rows->back().seq;
  }
  out.last_seq = last_seq;
  if (appended > last_seq && out.problems.size() < kMaxProblems) {
    out.problems.push_back("entries " + std::to_string(last_seq + 1) + " to " +
                           std::to_string(appended) +
                           " are missing (deleted from the end of the log)");
  }
  return out;
}

Result<uint64_t> AuditLog::Prune(int64_t before_ns) {
  MutexLock lock(&mu_);  // not while an entry is appended
  return catalog_->PruneAudit(before_ns);
}

}  // namespace sawmill::auth
