// A Catalog that forwards every call to another one (tests): a subclass changes what it needs,
// e.g. a catalog that loses the answer of a commit that happened, or one that is unreachable
// for a while, over a real SQLite or PostgreSQL catalog underneath. Before() is asked first by
// every call except SetCommitHook; a non-OK status is returned instead of forwarding.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/mutex.h"

namespace sawmill::catalog {

class ForwardingCatalog : public Catalog {
 public:
  explicit ForwardingCatalog(std::unique_ptr<Catalog> target) : target_(std::move(target)) {}

  Catalog* target() const { return target_.get(); }

  using Catalog::Replace;
  Status Replace(const std::vector<uint64_t>& removed, const std::vector<SegmentRow>& added,
                 const LeaseFence* fence) override {
    if (Status s = Before("Replace"); !s.ok()) return s;
    return target_->Replace(removed, added, fence);
  }

  Status SetState(uint64_t id, std::string_view state) override {
    if (Status s = Before("SetState"); !s.ok()) return s;
    return target_->SetState(id, state);
  }

  using Catalog::Update;
  Status Update(const std::vector<SegmentRow>& rows, const LeaseFence* fence) override {
    if (Status s = Before("Update"); !s.ok()) return s;
    return target_->Update(rows, fence);
  }

  Result<std::vector<std::string>> SweepSegmentObjects(std::string_view store,
                                                       const std::vector<std::string>& paths,
                                                       int64_t now_ns, int64_t keep_ns,
                                                       const LeaseFence* fence) override {
    if (Status s = Before("SweepSegmentObjects"); !s.ok()) return s;
    return target_->SweepSegmentObjects(store, paths, now_ns, keep_ns, fence);
  }

  Result<std::vector<SegmentRow>> List(const ListFilter& filter) const override {
    if (Status s = Before("List"); !s.ok()) return s;
    return target_->List(filter);
  }

  Result<std::optional<SegmentRow>> Get(uint64_t id) const override {
    if (Status s = Before("Get"); !s.ok()) return s;
    return target_->Get(id);
  }

  Result<uint64_t> AllocateSegmentId() override {
    if (Status s = Before("AllocateSegmentId"); !s.ok()) return s;
    return target_->AllocateSegmentId();
  }

  Status ReserveIds(uint64_t id) override {
    if (Status s = Before("ReserveIds"); !s.ok()) return s;
    return target_->ReserveIds(id);
  }

  Result<uint64_t> MaxId() const override {
    if (Status s = Before("MaxId"); !s.ok()) return s;
    return target_->MaxId();
  }

  Result<std::pair<uint64_t, bool>> RecordDamage(const DamageRow& row) override {
    if (Status s = Before("RecordDamage"); !s.ok()) return s;
    return target_->RecordDamage(row);
  }

  Result<std::vector<DamageRow>> ListDamage() const override {
    if (Status s = Before("ListDamage"); !s.ok()) return s;
    return target_->ListDamage();
  }

  Result<uint64_t> AcknowledgeDamage(uint64_t id, int64_t now_ns) override {
    if (Status s = Before("AcknowledgeDamage"); !s.ok()) return s;
    return target_->AcknowledgeDamage(id, now_ns);
  }

  Result<uint64_t> PutIdempotencyKeys(const std::vector<IdempotencyKeyRow>& rows,
                                      int64_t expire_before_ns, uint64_t max_rows) override {
    if (Status s = Before("PutIdempotencyKeys"); !s.ok()) return s;
    return target_->PutIdempotencyKeys(rows, expire_before_ns, max_rows);
  }

  Result<std::vector<IdempotencyKeyRow>> ListIdempotencyKeys(int64_t created_since_ns,
                                                             uint64_t max_rows) const override {
    if (Status s = Before("ListIdempotencyKeys"); !s.ok()) return s;
    return target_->ListIdempotencyKeys(created_since_ns, max_rows);
  }

  Result<IdempotencyClaimRow> ClaimIdempotencyKey(const IdempotencyClaimRow& row,
                                                  int64_t expire_before_ns,
                                                  int64_t alive_since_ns) override {
    if (Status s = Before("ClaimIdempotencyKey"); !s.ok()) return s;
    return target_->ClaimIdempotencyKey(row, expire_before_ns, alive_since_ns);
  }

  Status CompleteIdempotencyKey(const IdempotencyClaimRow& row, bool adopted,
                                int64_t expire_before_ns) override {
    if (Status s = Before("CompleteIdempotencyKey"); !s.ok()) return s;
    return target_->CompleteIdempotencyKey(row, adopted, expire_before_ns);
  }

  Status ReleaseIdempotencyKey(const IdempotencyClaimRow& row) override {
    if (Status s = Before("ReleaseIdempotencyKey"); !s.ok()) return s;
    return target_->ReleaseIdempotencyKey(row);
  }

  Result<uint64_t> ReleaseIdempotencyClaimsOf(std::string_view node, int64_t started_ns) override {
    if (Status s = Before("ReleaseIdempotencyClaimsOf"); !s.ok()) return s;
    return target_->ReleaseIdempotencyClaimsOf(node, started_ns);
  }

  Result<std::optional<IdempotencyClaimRow>> GetIdempotencyKey(
      std::string_view tenant, std::string_view key) const override {
    if (Status s = Before("GetIdempotencyKey"); !s.ok()) return s;
    return target_->GetIdempotencyKey(tenant, key);
  }

  Result<std::pair<uint64_t, uint64_t>> TrimIdempotencyClaims(int64_t expire_before_ns,
                                                              uint64_t max_done) override {
    if (Status s = Before("TrimIdempotencyClaims"); !s.ok()) return s;
    return target_->TrimIdempotencyClaims(expire_before_ns, max_done);
  }

  Status SaveAlertStates(const std::vector<AlertStateRow>& states,
                         const std::vector<AlertStateRow>& removed,
                         const std::vector<AlertTransitionRow>& transitions,
                         uint64_t max_transitions) override {
    if (Status s = Before("SaveAlertStates"); !s.ok()) return s;
    return target_->SaveAlertStates(states, removed, transitions, max_transitions);
  }

  Result<std::vector<AlertStateRow>> ListAlertStates() const override {
    if (Status s = Before("ListAlertStates"); !s.ok()) return s;
    return target_->ListAlertStates();
  }

  Result<std::vector<AlertTransitionRow>> ListAlertTransitions(std::string_view tenant,
                                                               std::string_view rule,
                                                               int64_t since_ns,
                                                               uint64_t limit) const override {
    if (Status s = Before("ListAlertTransitions"); !s.ok()) return s;
    return target_->ListAlertTransitions(tenant, rule, since_ns, limit);
  }

  Status PutAlertRule(const AlertRuleRow& row) override {
    if (Status s = Before("PutAlertRule"); !s.ok()) return s;
    return target_->PutAlertRule(row);
  }

  Status DeleteAlertRule(std::string_view tenant, std::string_view name) override {
    if (Status s = Before("DeleteAlertRule"); !s.ok()) return s;
    return target_->DeleteAlertRule(tenant, name);
  }

  Result<std::vector<AlertRuleRow>> ListAlertRules() const override {
    if (Status s = Before("ListAlertRules"); !s.ok()) return s;
    return target_->ListAlertRules();
  }

  Status InsertToken(const TokenRow& row) override {
    if (Status s = Before("InsertToken"); !s.ok()) return s;
    return target_->InsertToken(row);
  }

  Result<std::vector<TokenRow>> ListTokens() const override {
    if (Status s = Before("ListTokens"); !s.ok()) return s;
    return target_->ListTokens();
  }

  Status RevokeToken(std::string_view id, int64_t now_ns) override {
    if (Status s = Before("RevokeToken"); !s.ok()) return s;
    return target_->RevokeToken(id, now_ns);
  }

  Status AppendAudit(const AuditRow& row) override {
    if (Status s = Before("AppendAudit"); !s.ok()) return s;
    return target_->AppendAudit(row);
  }

  Result<std::vector<AuditRow>> ListAudit(const AuditFilter& filter) const override {
    if (Status s = Before("ListAudit"); !s.ok()) return s;
    return target_->ListAudit(filter);
  }

  Result<std::optional<AuditRow>> LastAudit() const override {
    if (Status s = Before("LastAudit"); !s.ok()) return s;
    return target_->LastAudit();
  }

  Result<uint64_t> PruneAudit(int64_t before_ns) override {
    if (Status s = Before("PruneAudit"); !s.ok()) return s;
    return target_->PruneAudit(before_ns);
  }

  Result<AuditAnchor> GetAuditAnchor() const override {
    if (Status s = Before("GetAuditAnchor"); !s.ok()) return s;
    return target_->GetAuditAnchor();
  }

  Result<AuditRow> AppendAuditChained(
      AuditRow row, uint64_t min_seq,
      const std::function<std::string(const AuditRow&)>& hash) override {
    if (Status s = Before("AppendAuditChained"); !s.ok()) return s;
    return target_->AppendAuditChained(std::move(row), min_seq, hash);
  }

  Status PutTenantQuota(const TenantQuotaRow& row) override {
    if (Status s = Before("PutTenantQuota"); !s.ok()) return s;
    return target_->PutTenantQuota(row);
  }

  Result<std::vector<TenantQuotaRow>> ListTenantQuotas() const override {
    if (Status s = Before("ListTenantQuotas"); !s.ok()) return s;
    return target_->ListTenantQuotas();
  }

  Status PutScanUsage(const std::vector<ScanUsageRow>& rows, int64_t before_minute) override {
    if (Status s = Before("PutScanUsage"); !s.ok()) return s;
    return target_->PutScanUsage(rows, before_minute);
  }

  Result<std::vector<ScanUsageRow>> ListScanUsage(int64_t since_minute) const override {
    if (Status s = Before("ListScanUsage"); !s.ok()) return s;
    return target_->ListScanUsage(since_minute);
  }

  Result<HoldRow> AddHold(const HoldRow& hold, const RetentionEventRow& event) override {
    if (Status s = Before("AddHold"); !s.ok()) return s;
    return target_->AddHold(hold, event);
  }

  Result<HoldRow> ReleaseHold(uint64_t id, const RetentionEventRow& event) override {
    if (Status s = Before("ReleaseHold"); !s.ok()) return s;
    return target_->ReleaseHold(id, event);
  }

  Result<std::vector<HoldRow>> ListHolds(bool active_only) const override {
    if (Status s = Before("ListHolds"); !s.ok()) return s;
    return target_->ListHolds(active_only);
  }

  Status SetRetentionPolicy(const RetentionPolicyRow& row,
                            const RetentionEventRow& event) override {
    if (Status s = Before("SetRetentionPolicy"); !s.ok()) return s;
    return target_->SetRetentionPolicy(row, event);
  }

  Result<std::vector<RetentionPolicyRow>> ListRetentionPolicies() const override {
    if (Status s = Before("ListRetentionPolicies"); !s.ok()) return s;
    return target_->ListRetentionPolicies();
  }

  Result<ComplianceRuleRow> AddComplianceRule(const ComplianceRuleRow& rule,
                                              const RetentionEventRow& event) override {
    if (Status s = Before("AddComplianceRule"); !s.ok()) return s;
    return target_->AddComplianceRule(rule, event);
  }

  Status RemoveComplianceRule(uint64_t id, const RetentionEventRow& event) override {
    if (Status s = Before("RemoveComplianceRule"); !s.ok()) return s;
    return target_->RemoveComplianceRule(id, event);
  }

  Result<std::vector<ComplianceRuleRow>> ListComplianceRules() const override {
    if (Status s = Before("ListComplianceRules"); !s.ok()) return s;
    return target_->ListComplianceRules();
  }

  using Catalog::RetireSegments;
  Status RetireSegments(const std::vector<RetiredSegmentRow>& retired,
                        const std::vector<RetentionEventRow>& events, uint64_t decided_after,
                        const LeaseFence* fence) override {
    if (Status s = Before("RetireSegments"); !s.ok()) return s;
    return target_->RetireSegments(retired, events, decided_after, fence);
  }

  Result<std::vector<RetiredSegmentRow>> ListRetiredSegments() const override {
    if (Status s = Before("ListRetiredSegments"); !s.ok()) return s;
    return target_->ListRetiredSegments();
  }

  Result<std::vector<RetentionEventRow>> ListRetentionEvents(
      const RetentionEventFilter& filter) const override {
    if (Status s = Before("ListRetentionEvents"); !s.ok()) return s;
    return target_->ListRetentionEvents(filter);
  }

  Result<uint64_t> LastRetentionEventId() const override {
    if (Status s = Before("LastRetentionEventId"); !s.ok()) return s;
    return target_->LastRetentionEventId();
  }

  Status Heartbeat(const NodeRow& node) override {
    if (Status s = Before("Heartbeat"); !s.ok()) return s;
    return target_->Heartbeat(node);
  }

  Result<std::vector<NodeRow>> ListNodes() const override {
    if (Status s = Before("ListNodes"); !s.ok()) return s;
    return target_->ListNodes();
  }

  Status RemoveNode(std::string_view id) override {
    if (Status s = Before("RemoveNode"); !s.ok()) return s;
    return target_->RemoveNode(id);
  }
  Status LeaveCluster(std::string_view id, int64_t started_ns, int64_t gone_ns) override {
    if (Status s = Before("LeaveCluster"); !s.ok()) return s;
    return target_->LeaveCluster(id, started_ns, gone_ns);
  }
  Result<bool> FenceDeadNode(std::string_view id, int64_t started_ns, int64_t dead_before_ns,
                             int64_t now_ns) override {
    if (Status s = Before("FenceDeadNode"); !s.ok()) return s;
    return target_->FenceDeadNode(id, started_ns, dead_before_ns, now_ns);
  }
  Result<std::vector<GoneNodeRow>> ListGoneNodes() const override {
    if (Status s = Before("ListGoneNodes"); !s.ok()) return s;
    return target_->ListGoneNodes();
  }
  Result<uint64_t> RecordNodeFormat(std::string_view node, uint64_t reads) override {
    if (Status s = Before("RecordNodeFormat"); !s.ok()) return s;
    return target_->RecordNodeFormat(node, reads);
  }
  Result<uint64_t> RaiseFormatVersion(uint64_t version, int64_t alive_since_ns) override {
    if (Status s = Before("RaiseFormatVersion"); !s.ok()) return s;
    return target_->RaiseFormatVersion(version, alive_since_ns);
  }

  Result<LeaseRow> AcquireLease(std::string_view name, std::string_view holder, int64_t now_ns,
                                int64_t ttl_ns) override {
    if (Status s = Before("AcquireLease"); !s.ok()) return s;
    return target_->AcquireLease(name, holder, now_ns, ttl_ns);
  }

  Result<std::vector<LeaseRow>> AcquireLeases(const std::vector<std::string>& names,
                                              std::string_view holder, int64_t now_ns,
                                              int64_t ttl_ns, size_t max) override {
    if (Status s = Before("AcquireLeases"); !s.ok()) return s;
    return target_->AcquireLeases(names, holder, now_ns, ttl_ns, max);
  }

  Status ReleaseLease(std::string_view name, std::string_view holder) override {
    if (Status s = Before("ReleaseLease"); !s.ok()) return s;
    return target_->ReleaseLease(name, holder);
  }

  Result<std::vector<LeaseRow>> ListLeases() const override {
    if (Status s = Before("ListLeases"); !s.ok()) return s;
    return target_->ListLeases();
  }

  Status RegisterWalObject(const WalObjectRow& row,
                           const std::vector<IdempotencyClaimRow>& key_claims) override {
    if (Status s = Before("RegisterWalObject"); !s.ok()) return s;
    return target_->RegisterWalObject(row, key_claims);
  }

  Result<std::vector<WalObjectRow>> ListWalObjects(std::string_view owner) const override {
    if (Status s = Before("ListWalObjects"); !s.ok()) return s;
    return target_->ListWalObjects(owner);
  }

  Status MarkWalObjectsFlushed(const std::vector<std::string>& names,
                               std::string_view owner) override {
    if (Status s = Before("MarkWalObjectsFlushed"); !s.ok()) return s;
    return target_->MarkWalObjectsFlushed(names, owner);
  }

  Result<uint64_t> DeleteWalObjects(const std::vector<std::string>& names,
                                    std::string_view owner) override {
    if (Status s = Before("DeleteWalObjects"); !s.ok()) return s;
    return target_->DeleteWalObjects(names, owner);
  }

  Result<std::vector<WalObjectRow>> ClaimWalObjects(
      const std::vector<std::string>& from, std::string_view to, size_t limit,
      int64_t alive_since_ns, std::optional<uint64_t> to_generation = std::nullopt) override {
    if (Status s = Before("ClaimWalObjects"); !s.ok()) return s;
    return target_->ClaimWalObjects(from, to, limit, alive_since_ns, to_generation);
  }

  Result<std::map<std::string, uint64_t>> ReadWalTakeovers() const override {
    if (Status s = Before("ReadWalTakeovers"); !s.ok()) return s;
    return target_->ReadWalTakeovers();
  }

  Result<uint64_t> AllocateSeqs(uint64_t count, uint64_t at_least) override {
    if (Status s = Before("AllocateSeqs"); !s.ok()) return s;
    return target_->AllocateSeqs(count, at_least);
  }

  Result<uint64_t> SettleSetting(std::string_view name, uint64_t value) override {
    if (Status s = Before("SettleSetting"); !s.ok()) return s;
    return target_->SettleSetting(name, value);
  }

  Result<std::map<std::string, uint64_t>> SettleSettings(
      const std::map<std::string, uint64_t>& values) override {
    if (Status s = Before("SettleSettings"); !s.ok()) return s;
    return target_->SettleSettings(values);
  }

  Result<std::map<std::string, uint64_t>> ReadSettings() const override {
    if (Status s = Before("ReadSettings"); !s.ok()) return s;
    return target_->ReadSettings();
  }

  Status ChangeSettingIf(const std::map<std::string, uint64_t>& expected,
                         const std::map<std::string, int64_t>& registered, std::string_view name,
                         uint64_t value) override {
    if (Status s = Before("ChangeSettingIf"); !s.ok()) return s;
    return target_->ChangeSettingIf(expected, registered, name, value);
  }

  Status ChangeSetting(std::string_view name, uint64_t value) override {
    if (Status s = Before("ChangeSetting"); !s.ok()) return s;
    return target_->ChangeSetting(name, value);
  }

  Result<uint64_t> RegisterSegment(const SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    return target_->RegisterSegment(row, node, fence);
  }

  Result<uint64_t> SegmentRegistration(uint64_t id) override {
    if (Status s = Before("SegmentRegistration"); !s.ok()) return s;
    return target_->SegmentRegistration(id);
  }

  Result<SegmentChanges> ListSegmentChanges(uint64_t after, size_t limit) const override {
    if (Status s = Before("ListSegmentChanges"); !s.ok()) return s;
    return target_->ListSegmentChanges(after, limit);
  }

  Result<uint64_t> PruneSegmentChanges(int64_t before_ns) override {
    if (Status s = Before("PruneSegmentChanges"); !s.ok()) return s;
    return target_->PruneSegmentChanges(before_ns);
  }

  void SetCommitHook(std::function<Status()> hook) override {
    target_->SetCommitHook(std::move(hook));
  }

 protected:
  // Asked before every forwarded call ("call": the method's name); OK forwards it.
  virtual Status Before(std::string_view call) const {
    (void)call;
    return Status::OK();
  }

 private:
  std::unique_ptr<Catalog> target_;
};

// For tests: forwards every call, and runs an action once just before the named call is
// forwarded (another node taking a job's lease between a round's claim and its commit, say).
// The action runs on the caller's thread, with no lock held: it may call this catalog.
class OnceBeforeCatalog final : public ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  // Replaces any action set before and not yet run.
  void Once(std::string call, std::function<void()> action) {
    MutexLock l(&mu_);
    call_ = std::move(call);
    action_ = std::move(action);
  }

 protected:
  Status Before(std::string_view call) const override {
    std::function<void()> action;
    {
      MutexLock l(&mu_);
      if (call_.empty() || call != call_) return Status::OK();
      call_.clear();
      action = std::move(action_);
    }
    if (action) action();
    return Status::OK();
  }

 private:
  mutable Mutex mu_;
  mutable std::string call_ GUARDED_BY(mu_);
  mutable std::function<void()> action_ GUARDED_BY(mu_);
};

// For tests: forwards every call and counts the calls of each name (how many round trips a
// step takes).
class CountingCatalog final : public ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  // How many calls named "call" ("ListNodes") were forwarded so far.
  int Calls(std::string_view call) const {
    MutexLock l(&mu_);
    auto it = calls_.find(call);
    return it == calls_.end() ? 0 : it->second;
  }

 protected:
  Status Before(std::string_view call) const override {
    MutexLock l(&mu_);
    ++calls_[std::string(call)];
    return Status::OK();
  }

 private:
  mutable Mutex mu_;
  mutable std::map<std::string, int, std::less<>> calls_ GUARDED_BY(mu_);
};

}  // namespace sawmill::catalog
