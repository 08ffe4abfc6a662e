// CONTRACT: which of a tenant's alerting filters a line matches, with the answer of
// query::Evaluate for every filter, while testing only the filters that can match the line
// (docs/alerting.md "Cost"). Each filter is filed once, under the most selective thing every
// line it matches must have:
//   1. a word: the longest word or phrase word it requires (under AND): looked up with the
//      line's words, which the message is cut into once (index/tokenizer.h rules);
//   2. else a service or host it pins (service=X / host=X under AND): looked up by the line's;
//   3. else the filters tested on every line.
// A candidate is then skipped unless the line's level is one the filter allows, its pinned
// service/host is the line's, and (when it requires a message~"regex") the regex's required
// literals (RE2's FilteredRE2 atoms, sought in the lower-cased message once per line) allow a
// match; only then does query::Evaluate run. Every skip is a necessary condition of the filter,
// so the answer is Evaluate's exactly (filter_index_test.cc compares the two on real data).
//
// Immutable after construction and thread-safe; the per-thread working memory is a Scratch
// (reused across lines and batches: no allocation per line once warm).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "query/ast.h"
#include "sawmill/record.h"

namespace sawmill::alert {

class FilterIndex {
 public:
  // One thread's working memory; may be shared by every index the thread uses.
  struct Scratch {
    uint32_t line = 0;          // counts Match calls; the marks below hold the line they are of
    uint32_t lowered_line = 0;  // "lowered" holds this line's message
    uint32_t atoms_line = 0;    // the atoms were sought in this line's message
    std::string lowered;        // the message with ASCII letters in lower case
    std::string word;           // the current word, lower-cased
    std::vector<uint32_t> word_seen;     // per word entry: the line whose words held it
    std::vector<uint32_t> words;         // the word entries of the current line
    std::vector<uint32_t> atom_hit;      // per atom: the last line that holds it
    std::vector<uint32_t> atom_checked;  // per atom: the last line it was sought in (without
                                         // the automaton)
    std::vector<uint32_t> regex_seen;    // per regex: the line it was decided for, and the answer
    std::vector<uint8_t> regex_may;
  };

  // How the filters were filed (for tests and the docs).
  struct Stats {
    size_t by_word = 0;
    size_t by_service = 0;
    size_t by_host = 0;
    size_t scanned = 0;
    size_t regex_prefiltered = 0;  // filters whose message regex is skipped by its literals
    size_t atom_states = 0;        // states of the automaton that finds the literals (0: none)
  };

  // "filters": parsed filter trees (query::Query::filter); their positions are the ids Match
  // reports.
  explicit FilterIndex(std::vector<query::NodePtr> filters);
  ~FilterIndex();
  FilterIndex(const FilterIndex&) = delete;
  FilterIndex& operator=(const FilterIndex&) = delete;

  // Appends to "out" the id of every filter "record" matches (query::Evaluate is true), each
  // once, in no particular order.
  void Match(const Record& record, Scratch* scratch, std::vector<uint32_t>* out) const;

  size_t size() const { return filters_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Filter {
    query::NodePtr node;
    uint32_t level_mask = ~0u;  // bit (1 << Level) per level the filter can match
    // Checked for word-keyed filters (the others are found under them).
    std::string service;  // pinned, or empty
    std::string host;     // pinned, or empty
    int32_t regex = -1;   // a prefiltered regex the message must match, or -1
  };
  struct Regex {
    std::vector<uint32_t> atoms;      // ids in atoms_; at most kTableAtoms when tabled
    std::array<uint64_t, 4> table{};  // bit m: a match is possible when the atoms of mask m are
                                      // the ones present
    uint32_t required = 0;            // bit i: atoms[i] is in every mask that allows a match
    bool any_atom = false;            // more atoms than a table holds: needs one of them
  };
  struct WordEntry {
    std::string word;
    std::vector<uint32_t> filters;
  };
  static constexpr size_t kTableAtoms = 8;

  // The word entry of a lower-cased word, or -1.
  int32_t FindWord(std::string_view word) const;
  // Whether "regex" can match the message of "record".
  bool RegexMay(uint32_t regex, const Record& record, Scratch* scratch) const;
  // Marks in scratch->atom_hit the atoms the message holds (lower-cased).
  void FindAtoms(const Record& record, Scratch* scratch) const;
  void BuildAtomAutomaton();
  void Test(uint32_t id, const Record& record, Scratch* scratch, std::vector<uint32_t>* out) const;
  int32_t AddRegex(const query::Node& node);

  std::vector<Filter> filters_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_service_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_host_;
  std::vector<uint32_t> scanned_;
  // The word index: entries, an open-addressing table of (hash, entry + 1), and a 1,024-bit
  // filter of the hashes that lets most of a line's words skip the table.
  std::vector<WordEntry> words_;
  std::vector<std::pair<uint64_t, uint32_t>> table_;
  std::array<uint64_t, 16> bloom_{};
  size_t min_word_ = SIZE_MAX, max_word_ = 0;
  // Regex prefilters, by pattern, and the literals they look for.
  std::vector<Regex> regexes_;
  std::unordered_map<std::string, int32_t> regex_ids_;
  std::vector<std::string> atoms_;
  std::unordered_map<std::string, uint32_t> atom_ids_;
  // Aho-Corasick over the atoms, on raw bytes (ASCII upper case goes where lower case does):
  // entry (state << 8 | byte) is the next state, its top bit set when atoms end there
  // (atom_out_[atom_out_start_[state] ..]). Empty when the atoms would need more than
  // kMaxAtomStates states: each atom is then sought in the lowered message.
  static constexpr size_t kMaxAtomStates = 4096;
  std::vector<uint32_t> atom_next_;
  std::vector<uint32_t> atom_out_start_;
  std::vector<uint32_t> atom_out_;
  Stats stats_;
};

}  // namespace sawmill::alert
