// The regression runner: calls a fuzz target's LLVMFuzzerTestOneInput on every file of the
// directories given (fuzz/regressions/NAME, fuzz/seeds/NAME), in a plain build without
// libFuzzer, so that every input that once crashed a target is checked by `make test`.
// A crash or a failed FUZZ_CHECK aborts (the test fails, naming the file); a missing directory
// is fine (a target with no regressions yet). Memory is capped as the fuzzers cap it.
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool UnderAddressSanitizer() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (!UnderAddressSanitizer()) {
    // The fuzzers run with -rss_limit_mb=2048: an input that needs more is a finding, so the
    // regression run fails on it too (std::bad_alloc) instead of swapping. ASan builds reserve
    // terabytes of address space for shadow memory and cannot have this limit.
    rlimit limit{4ull << 30, 4ull << 30};
    setrlimit(RLIMIT_AS, &limit);
  }
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path dir(argv[i]);
    if (!std::filesystem::is_directory(dir)) {
      std::printf("%s: no such directory, nothing to run\n", argv[i]);
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string bytes = buffer.str();
      std::printf("%s (%zu bytes)\n", file.c_str(), bytes.size());
      std::fflush(stdout);
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++ran;
    }
  }
  std::printf("%zu inputs ran without a crash\n", ran);
  return 0;
}
