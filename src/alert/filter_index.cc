// FilterIndex (contract in filter_index.h).
#include "alert/filter_index.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <string.h>

#include <algorithm>

#include "query/evaluator.h"

namespace sawmill::alert {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
// RE2's literals shorter than this are not sought (a regex whose every way to match needs only
// shorter ones is not prefiltered).
constexpr int kMinAtom = 3;

uint64_t WordHash(std::string_view word) {
  uint64_t hash = kFnvOffset;
  for (unsigned char c : word) hash = (hash ^ c) * kFnvPrime;
  return hash;
}

// Per byte: the byte with ASCII letters in lower case, and whether it is a word byte
// (the same as index/tokenizer.h, which alert may not include; filter_index_test.cc holds the
// two equal over the real datasets).
struct ByteClasses {
  unsigned char lower[256];
  bool word[256];
  constexpr ByteClasses() : lower(), word() {
    for (int c = 0; c < 256; ++c) {
      lower[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      word[c] =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
    }
  }
};
constexpr ByteClasses kBytes;

// A word's bit in the 1,024-bit filter: from its length and three of its bytes, lower-cased, so
// a line's words are tested without lowering or hashing them whole.
inline size_t BloomBit(const unsigned char* word, size_t len) {
  const auto at = [&](size_t i) { return static_cast<size_t>(kBytes.lower[word[i]]); };
  return (len * 151 + at(0) * 31 + at(len - 1) * 7 + at(len / 2)) & 1023;
}

// The levels a node allows (bit per Level value); all bits when it does not pin the level.
uint32_t LevelMask(const query::Node& node) {
  constexpr uint32_t kAll = ~0u;
  if (node.kind == query::NodeKind::kAnd) {
    uint32_t mask = kAll;
    for (const auto& child : node.children) mask &= LevelMask(*child);
    return mask;
  }
  if (node.kind == query::NodeKind::kOr) {
    uint32_t mask = 0;
    for (const auto& child : node.children) mask |= LevelMask(*child);
    return mask;
  }
  if (node.kind != query::NodeKind::kField || node.field != query::FieldId::kLevel) return kAll;
  const int want = static_cast<int>(node.level);
  uint32_t mask = 0;
  for (int level = 0; level < kLevelCount; ++level) {
    bool ok = false;
    switch (node.op) {
      case query::FieldOp::kEq: ok = level == want; break;
      case query::FieldOp::kExists: ok = level != 0; break;
      case query::FieldOp::kLt: ok = level != 0 && level < want; break;
      case query::FieldOp::kLe: ok = level != 0 && level <= want; break;
      case query::FieldOp::kGt: ok = level != 0 && level > want; break;
      case query::FieldOp::kGe: ok = level != 0 && level >= want; break;
      default: return kAll;
    }
    if (ok) mask |= 1u << level;
  }
  return mask;
}

// The conditions every matching line meets: the children of top-level ANDs.
void Conjuncts(const query::NodePtr& node, std::vector<const query::Node*>* out) {
  if (node->kind == query::NodeKind::kAnd) {
    for (const auto& child : node->children) Conjuncts(child, out);
  } else {
    out->push_back(node.get());
  }
}

// A word the tokenizer can yield: word bytes only, no ASCII upper case.
bool IsToken(std::string_view word) {
  if (word.empty()) return false;
  for (unsigned char c : word) {
    if (!kBytes.word[c] || (c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

// Whether a pattern may turn case folding on inline: "(?i)", "(?mi:", ... Conservative: any
// 'i' among the flags of any "(?" group.
bool InlineCaseless(std::string_view pattern) {
  for (size_t at = pattern.find("(?"); at != std::string_view::npos;
       at = pattern.find("(?", at + 2)) {
    for (size_t i = at + 2; i < pattern.size() && pattern[i] != ')' && pattern[i] != ':'; ++i) {
      if (pattern[i] == 'i') return true;
    }
  }
  return false;
}

}  // namespace

FilterIndex::FilterIndex(std::vector<query::NodePtr> filters) {
  std::unordered_map<std::string, uint32_t> word_ids;
  filters_.resize(filters.size());
  for (uint32_t id = 0; id < filters.size(); ++id) {
    Filter& f = filters_[id];
    f.node = std::move(filters[id]);
    f.level_mask = LevelMask(*f.node);
    std::vector<const query::Node*> conjuncts;
    Conjuncts(f.node, &conjuncts);
    std::string key_word;
    for (const query::Node* c : conjuncts) {
      const bool word = c->kind == query::NodeKind::kWord && !c->word_prefix;
      if (word || c->kind == query::NodeKind::kPhrase) {
        for (const std::string& w : c->words) {
          if (IsToken(w) && w.size() > key_word.size()) key_word = w;
        }
      } else if (c->kind == query::NodeKind::kField && c->op == query::FieldOp::kEq &&
                 !c->value.empty()) {
        if (c->field == query::FieldId::kService && f.service.empty()) f.service = c->value;
        if (c->field == query::FieldId::kHost && f.host.empty()) f.host = c->value;
      } else if (c->kind == query::NodeKind::kField && c->op == query::FieldOp::kRegex &&
                 c->field == query::FieldId::kMessage && c->regex != nullptr && f.regex < 0) {
        f.regex = AddRegex(*c);
      }
    }
    if (f.regex >= 0) ++stats_.regex_prefiltered;
    if (!key_word.empty()) {
      auto [it, added] = word_ids.emplace(key_word, static_cast<uint32_t>(words_.size()));
      if (added) words_.push_back({key_word, {}});
      words_[it->second].filters.push_back(id);
      ++stats_.by_word;
    } else if (!f.service.empty()) {
      by_service_[f.service].push_back(id);
      ++stats_.by_service;
    } else if (!f.host.empty()) {
      by_host_[f.host].push_back(id);
      ++stats_.by_host;
    } else {
      scanned_.push_back(id);
      ++stats_.scanned;
    }
  }
  // The word table: a power of two at least twice the entries.
  size_t slots = 16;
  while (slots < words_.size() * 2) slots *= 2;
  table_.assign(slots, {0, 0});
  for (uint32_t e = 0; e < words_.size(); ++e) {
    const std::string& word = words_[e].word;
    const uint64_t hash = WordHash(word);
    size_t i = hash & (slots - 1);
    while (table_[i].second != 0) i = (i + 1) & (slots - 1);
    table_[i] = {hash, e + 1};
    const size_t bit = BloomBit(reinterpret_cast<const unsigned char*>(word.data()), word.size());
    bloom_[bit / 64] |= uint64_t{1} << (bit % 64);
    min_word_ = std::min(min_word_, words_[e].word.size());
    max_word_ = std::max(max_word_, words_[e].word.size());
  }
  BuildAtomAutomaton();
}

void FilterIndex::BuildAtomAutomaton() {
  if (atoms_.empty()) return;
  // The trie of the atoms (lower-cased bytes).
  std::vector<std::array<int32_t, 256>> child(1);
  child[0].fill(-1);
  std::vector<std::vector<uint32_t>> out(1);
  for (uint32_t a = 0; a < atoms_.size(); ++a) {
    size_t state = 0;
    for (char ch : atoms_[a]) {
      const unsigned char c = kBytes.lower[static_cast<unsigned char>(ch)];
      if (child[state][c] < 0) {
        if (child.size() >= kMaxAtomStates) return;  // too big: atoms are sought one by one
        child[state][c] = static_cast<int32_t>(child.size());
        child.emplace_back().fill(-1);
        out.emplace_back();
      }
      state = static_cast<size_t>(child[state][c]);
    }
    out[state].push_back(a);
  }
  // Breadth first: failure links, outputs inherited through them, and the full transitions.
  const size_t states = child.size();
  std::vector<uint32_t> fail(states, 0), next(states * 256, 0), order;
  order.reserve(states);
  order.push_back(0);
  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t u = order[k];
    for (int c = 0; c < 256; ++c) {
      const int32_t v = child[u][c];
      const uint32_t via_fail = u == 0 ? 0 : next[fail[u] * 256 + c];
      if (v < 0) {
        next[u * 256 + c] = via_fail;
        continue;
      }
      fail[v] = via_fail;
      for (uint32_t a : out[fail[v]]) out[v].push_back(a);
      next[u * 256 + c] = static_cast<uint32_t>(v);
      order.push_back(static_cast<uint32_t>(v));
    }
  }
  atom_next_.resize(states * 256);
  atom_out_start_.assign(states + 1, 0);
  for (size_t u = 0; u < states; ++u) {
    atom_out_start_[u + 1] = atom_out_start_[u] + static_cast<uint32_t>(out[u].size());
    for (uint32_t a : out[u]) atom_out_.push_back(a);
    for (int c = 0; c < 256; ++c) {
      // Raw bytes: ASCII upper case moves as its lower case does.
      const uint32_t v = next[u * 256 + kBytes.lower[c]];
      atom_next_[u * 256 + c] = v | (out[v].empty() ? 0 : 1u << 31);
    }
  }
  stats_.atom_states = states;
}

FilterIndex::~FilterIndex() = default;

int32_t FilterIndex::AddRegex(const query::Node& node) {
  const RE2& re = *node.regex;
  if (re.options().encoding() != RE2::Options::EncodingUTF8) return -1;
  const bool caseless = !re.options().case_sensitive() || InlineCaseless(re.pattern());
  std::string key = re.pattern();
  key += caseless ? "\x01i" : "\x01";
  auto known = regex_ids_.find(key);
  if (known != regex_ids_.end()) return known->second;
  int32_t id = -1;
  re2::FilteredRE2 filtered(kMinAtom);
  int regex_id = 0;
  std::vector<std::string> atoms;
  if (filtered.Add(re.pattern(), re.options(), &regex_id) == RE2::NoError) {
    filtered.Compile(&atoms);
  }
  if (!atoms.empty()) {
    // Atoms the lower-cased message cannot be relied on for count as always present: any with
    // a byte >= 0x80 (RE2 lower-cases beyond ASCII, the message is lowered in ASCII only), and
    // with case folding, any with 'k' or 's' (which fold with the Kelvin sign and the long s).
    std::vector<int> always, sought;
    for (int i = 0; i < static_cast<int>(atoms.size()); ++i) {
      const std::string& a = atoms[i];
      const bool unreliable =
          std::any_of(a.begin(), a.end(),
                      [](char c) { return static_cast<unsigned char>(c) >= 0x80; }) ||
          (caseless && a.find_first_of("ks") != std::string::npos);
      (unreliable ? always : sought).push_back(i);
    }
    std::vector<int> potential;
    filtered.AllPotentials(always, &potential);
    // Prefiltered only when the regex cannot match with none of the sought atoms present.
    if (potential.empty() && !sought.empty()) {
      Regex g;
      for (int i : sought) {
        auto [it, added] = atom_ids_.emplace(atoms[i], static_cast<uint32_t>(atoms_.size()));
        if (added) atoms_.push_back(atoms[i]);
        g.atoms.push_back(it->second);
      }
      if (sought.size() <= kTableAtoms) {
        std::vector<int> present;
        for (uint32_t mask = 0; mask < (1u << sought.size()); ++mask) {
          present = always;
          for (size_t i = 0; i < sought.size(); ++i) {
            if (mask & (1u << i)) present.push_back(sought[i]);
          }
          filtered.AllPotentials(present, &potential);
          if (!potential.empty()) g.table[mask / 64] |= uint64_t{1} << (mask % 64);
        }
        // Required: set in every mask that allows a match.
        g.required = (1u << sought.size()) - 1;
        for (uint32_t mask = 0; mask < (1u << sought.size()); ++mask) {
          if ((g.table[mask / 64] >> (mask % 64)) & 1) g.required &= mask;
        }
      } else {
        g.any_atom = true;
      }
      id = static_cast<int32_t>(regexes_.size());
      regexes_.push_back(std::move(g));
    }
  }
  regex_ids_.emplace(std::move(key), id);
  return id;
}

int32_t FilterIndex::FindWord(std::string_view word) const {
  const uint64_t hash = WordHash(word);
  const size_t mask = table_.size() - 1;
  for (size_t i = hash & mask; table_[i].second != 0; i = (i + 1) & mask) {
    if (table_[i].first == hash && words_[table_[i].second - 1].word == word) {
      return static_cast<int32_t>(table_[i].second - 1);
    }
  }
  return -1;
}

void FilterIndex::FindAtoms(const Record& record, Scratch* s) const {
  const auto* p = reinterpret_cast<const unsigned char*>(record.message.data());
  const size_t n = record.message.size();
  uint32_t state = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t e = atom_next_[(state << 8) | p[i]];
    state = e & 0x7fffffffu;
    if (e >> 31) {
      for (uint32_t k = atom_out_start_[state]; k < atom_out_start_[state + 1]; ++k) {
        s->atom_hit[atom_out_[k]] = s->line;
      }
    }
  }
  s->atoms_line = s->line;
}

bool FilterIndex::RegexMay(uint32_t regex, const Record& record, Scratch* s) const {
  if (s->regex_seen[regex] == s->line) return s->regex_may[regex] != 0;
  const Regex& g = regexes_[regex];
  auto present = [&](uint32_t atom) {
    if (!atom_next_.empty()) {
      if (s->atoms_line != s->line) FindAtoms(record, s);
    } else if (s->atom_checked[atom] != s->line) {
      s->atom_checked[atom] = s->line;
      if (s->lowered_line != s->line) {
        s->lowered.resize(record.message.size());
        for (size_t i = 0; i < record.message.size(); ++i) {
          s->lowered[i] =
              static_cast<char>(kBytes.lower[static_cast<unsigned char>(record.message[i])]);
        }
        s->lowered_line = s->line;
      }
      if (std::string_view(s->lowered).find(atoms_[atom]) != std::string::npos) {
        s->atom_hit[atom] = s->line;
      }
    }
    return s->atom_hit[atom] == s->line;
  };
  bool may = false;
  if (g.any_atom) {
    for (uint32_t atom : g.atoms) {
      if (present(atom)) {
        may = true;
        break;
      }
    }
  } else {
    // The atoms every match needs first: one missing decides.
    uint32_t mask = 0;
    may = true;
    for (size_t i = 0; i < g.atoms.size() && may; ++i) {
      if ((g.required >> i) & 1) {
        if (present(g.atoms[i])) {
          mask |= 1u << i;
        } else {
          may = false;
        }
      }
    }
    if (may) {
      for (size_t i = 0; i < g.atoms.size(); ++i) {
        if (((g.required >> i) & 1) == 0 && present(g.atoms[i])) mask |= 1u << i;
      }
      may = (g.table[mask / 64] >> (mask % 64)) & 1;
    }
  }
  s->regex_seen[regex] = s->line;
  s->regex_may[regex] = may;
  return may;
}

inline void FilterIndex::Test(uint32_t id, const Record& record, Scratch* scratch,
                              std::vector<uint32_t>* out) const {
  const Filter& f = filters_[id];
  if ((f.level_mask & (1u << static_cast<unsigned>(record.level))) == 0) return;
  if (!f.service.empty() && f.service != record.service) return;
  if (!f.host.empty() && f.host != record.host) return;
  if (f.regex >= 0 && !RegexMay(static_cast<uint32_t>(f.regex), record, scratch)) return;
  if (!query::Evaluate(*f.node, record)) return;
  out->push_back(id);
}

void FilterIndex::Match(const Record& record, Scratch* s, std::vector<uint32_t>* out) const {
  if (++s->line == 0) {
    // Wrapped: no mark may look current.
    for (auto* marks : {&s->word_seen, &s->atom_hit, &s->atom_checked, &s->regex_seen}) {
      std::fill(marks->begin(), marks->end(), 0);
    }
    s->lowered_line = s->atoms_line = 0;
    s->line = 1;
  }
  if (s->word_seen.size() < words_.size()) s->word_seen.resize(words_.size(), 0);
  if (s->atom_hit.size() < atoms_.size()) {
    s->atom_hit.resize(atoms_.size(), 0);
    s->atom_checked.resize(atoms_.size(), 0);
  }
  if (s->regex_seen.size() < regexes_.size()) {
    s->regex_seen.resize(regexes_.size(), 0);
    s->regex_may.resize(regexes_.size(), 0);
  }
  if (!words_.empty() && record.message.size() >= min_word_) {
    // The message's words (index/tokenizer.h: runs of word bytes), looked up as they end.
    // Words of a length no entry has are not looked at; the others first in the filter of the
    // entries' bits, then (lower-cased) in the table.
    const auto* p = reinterpret_cast<const unsigned char*>(record.message.data());
    const size_t n = record.message.size();
    size_t i = 0;
    while (i < n) {
      while (i < n && !kBytes.word[p[i]]) ++i;
      const size_t start = i;
      while (i < n && kBytes.word[p[i]]) ++i;
      const size_t len = i - start;
      if (len - min_word_ > max_word_ - min_word_) continue;
      const size_t bit = BloomBit(p + start, len);
      if (((bloom_[bit / 64] >> (bit % 64)) & 1) == 0) continue;
      std::string& word = s->word;
      word.resize(len);
      for (size_t k = 0; k < len; ++k) word[k] = static_cast<char>(kBytes.lower[p[start + k]]);
      const int32_t e = FindWord(word);
      if (e >= 0 && s->word_seen[e] != s->line) {
        s->word_seen[e] = s->line;
        s->words.push_back(static_cast<uint32_t>(e));
      }
    }
  }
  // Pinned fields first, then the word entries found.
  if (!by_service_.empty()) {
    auto it = by_service_.find(record.service);
    if (it != by_service_.end()) {
      for (uint32_t id : it->second) Test(id, record, s, out);
    }
  }
  if (!by_host_.empty()) {
    auto it = by_host_.find(record.host);
    if (it != by_host_.end()) {
      for (uint32_t id : it->second) Test(id, record, s, out);
    }
  }
  for (uint32_t e : s->words) {
    for (uint32_t id : words_[e].filters) Test(id, record, s, out);
  }
  s->words.clear();
  for (uint32_t id : scanned_) Test(id, record, s, out);
}

}  // namespace sawmill::alert
