#include "cluster/cluster_test_nodes.h"

#include <utility>

#include "cluster/part_codec.h"

namespace sawmill::cluster {

InProcessFanout::InProcessFanout(NodeRegistry* registry, query::QueryEngine* local,
                                 SegmentRefresh* refresh, FindLocalEngine find, AnswerCheck check,
                                 AnswerHooks hooks) {
  fanout = std::make_unique<Fanout>(
      [registry] { return registry->Peers(); }, FanoutOptions{},
      [find = std::move(find), hooks = std::move(hooks)](
          const catalog::NodeRow& peer, std::string_view route, const std::string& body, int64_t) {
        query::PartAnswer failed;
        failed.partial = true;
        query::QueryEngine* asked = find(peer.id);
        if (asked == nullptr) return failed;
        // The request and the answer through the wire codec, as over HTTP.
        auto answer = [&](const auto& request, auto run) {
          if (!request.ok()) return failed;
          if (hooks.before) hooks.before(peer.id);
          Result<query::PartAnswer> part = run(*request);
          if (hooks.after) hooks.after(peer.id);
          if (!part.ok()) {
            failed.warnings.push_back("node " + peer.id + " answered " + part.status().ToString());
            return failed;
          }
          auto back = DecodePartAnswer(EncodePartAnswer(*part, PartAnswerVersionFor(*request)));
          return back.ok() ? *back : failed;
        };
        if (route == kMemtableContextRoute) {
          return answer(DecodeContextPartRequest(body),
                        [asked](const auto& r) { return asked->ContextPart(r); });
        }
        return answer(DecodePartRequest(body),
                      [asked](const auto& r) { return asked->SearchMemtables(r); });
      });
  query = std::make_unique<FanoutQueryEngine>(
      local, fanout.get(),
      [refresh](uint64_t at_least, int64_t timeout_ns, std::string* error) {
        return refresh->CatchUp(at_least, timeout_ns, error);
      },
      std::move(check));
}

}  // namespace sawmill::cluster
