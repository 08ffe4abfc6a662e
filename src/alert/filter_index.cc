// FilterIndex (contract in filter_index.h).
#include "alert/filter_index.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <string.h>

#include <algorithm>

#include "index/tokenizer.h"
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

// A word's bit in the 1,024-bit filter: from its length and three of its bytes, so a line's
// words are tested without hashing them whole.
inline size_t BloomBit(const char* word, size_t len) {
  const auto at = [&](size_t i) {
    return static_cast<size_t>(static_cast<unsigned char>(word[i]));
  };
  return (len * 151 + at(0) * 31 + at(len - 1) * 7 + at(len / 2)) & 1023;
}

// Per byte: the byte with ASCII letters in lower case, and whether it is a word byte
// (index/tokenizer.h).
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
    if (!index::IsWordByte(c) || (c >= 'A' && c <= 'Z')) return false;
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
    const size_t bit = BloomBit(word.data(), word.size());
    bloom_[bit / 64] |= uint64_t{1} << (bit % 64);
    min_word_ = std::min(min_word_, words_[e].word.size());
    max_word_ = std::max(max_word_, words_[e].word.size());
  }
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

bool FilterIndex::RegexMay(uint32_t regex, Scratch* s) const {
  if (s->regex_seen[regex] == s->line) return s->regex_may[regex] != 0;
  // Match lowered the message first (the index has a regex).
  const Regex& g = regexes_[regex];
  auto present = [&](uint32_t atom) {
    if (s->atom_seen[atom] != s->line) {
      s->atom_seen[atom] = s->line;
      s->atom_present[atom] = std::string_view(s->lowered).find(atoms_[atom]) != std::string::npos;
    }
    return s->atom_present[atom] != 0;
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
  if (f.regex >= 0 && !RegexMay(static_cast<uint32_t>(f.regex), scratch)) return;
  if (!query::Evaluate(*f.node, record)) return;
  out->push_back(id);
}

void FilterIndex::Match(const Record& record, Scratch* s, std::vector<uint32_t>* out) const {
  if (++s->line == 0) {
    // Wrapped: no mark may look current.
    std::fill(s->word_seen.begin(), s->word_seen.end(), 0);
    std::fill(s->atom_seen.begin(), s->atom_seen.end(), 0);
    std::fill(s->regex_seen.begin(), s->regex_seen.end(), 0);
    s->line = 1;
  }
  if (s->word_seen.size() < words_.size()) s->word_seen.resize(words_.size(), 0);
  if (s->atom_seen.size() < atoms_.size()) {
    s->atom_seen.resize(atoms_.size(), 0);
    s->atom_present.resize(atoms_.size(), 0);
  }
  if (s->regex_seen.size() < regexes_.size()) {
    s->regex_seen.resize(regexes_.size(), 0);
    s->regex_may.resize(regexes_.size(), 0);
  }
  if (!regexes_.empty() || !words_.empty()) {
    // The message lower-cased, and its words (index/tokenizer.h: runs of word bytes) looked up
    // as they end. Words of a length no entry has are not looked at; the others first in the
    // filter of the entries' bits, then in the table.
    const std::string& text = record.message;
    s->lowered.resize(text.size());
    char* lowered = s->lowered.data();
    const bool words = !words_.empty();
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size()) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        lowered[i] = static_cast<char>(kBytes.lower[c]);
        if (kBytes.word[c]) continue;
      }
      const size_t len = i - start;
      if (words && len - min_word_ <= max_word_ - min_word_) {
        const char* word = lowered + start;
        const size_t bit = BloomBit(word, len);
        if ((bloom_[bit / 64] >> (bit % 64)) & 1) {
          const int32_t e = FindWord(std::string_view(word, len));
          if (e >= 0 && s->word_seen[e] != s->line) {
            s->word_seen[e] = s->line;
            // Tested after the whole message is lowered (a filter may also need a regex).
            s->words.push_back(static_cast<uint32_t>(e));
          }
        }
      }
      start = i + 1;
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
