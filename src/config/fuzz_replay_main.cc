// Without libFuzzer (g++ builds, CI): replay every file of the given
// directories through the fuzz entry point, plus deterministic mutations of
// each (truncations, byte flips, spliced garbage), so the target runs on every
// build. Exit 0 when nothing crashed or threw anything but ConfigError.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void run(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i], ec)) {
      if (!e.is_regular_file()) continue;
      std::string text;
      if (uplink::read_text_file(e.path().string(), text)) inputs.push_back(std::move(text));
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "config_fuzz_replay: no corpus files found\n");
    return 1;
  }
  std::mt19937 rng(12345);  // fixed seed: a failure reproduces
  static const std::string kTokens[] = {"[",     "]",     "[[",      "=", "\"",    "'''", "\n", "{",    "}",
                                        ",",     ".",     "#",       "\\u", "links", "probe", "targets", "-",
                                        "1e999", "0x",    "\xff",   std::string(1, '\0')};
  size_t runs = 0;
  for (const auto& in : inputs) {
    run(in);
    for (size_t cut = 0; cut < in.size(); cut += 7) run(in.substr(0, cut)), ++runs;
    for (int m = 0; m < 300 && !in.empty(); ++m, ++runs) {
      std::string s = in;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t pos = rng() % s.size();
        switch (rng() % 3) {
          case 0: s[pos] = static_cast<char>(rng() % 256); break;
          case 1: s.erase(pos, 1 + rng() % 8); break;
          default: s.insert(pos, kTokens[rng() % (sizeof kTokens / sizeof *kTokens)]); break;
        }
        if (s.empty()) s = "x";
      }
      run(s);
    }
  }
  std::printf("config_fuzz_replay: %zu corpus files, %zu runs, no crash\n", inputs.size(), runs);
  return 0;
}
