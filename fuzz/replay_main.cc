// Without libFuzzer (g++ builds, CI): replays every file of the given files
// and directories through the target's LLVMFuzzerTestOneInput, plus
// deterministic mutations of each (evenly spaced truncations; byte flips,
// erasures, dictionary tokens and slices of other seeds spliced in), so every
// fuzz target runs in every build. A target reports a bug by crashing or
// aborting (an escaping exception terminates too): exit 0 means none did.
//
//   NAME_fuzz_replay [--dict FILE] [--truncations N] [--mutations N] [--as-is PATH]... PATH...
//
// --dict takes a libFuzzer dictionary (lines `name="value"`, escapes \\ \" \xAB),
// the same file the real fuzzer gets with -dict=. Files under --as-is are
// replayed once each, unmutated (long seeds whose mutations would cost too
// much under -O0 + ASan; the real fuzzer mutates them).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void run(const std::string& s) {
  // A copy in its own allocation: ASan sees a read past the input's end.
  std::vector<uint8_t> bytes(s.begin(), s.end());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
}

bool read_file(const std::filesystem::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The quoted value of each dictionary line; a malformed line is an error (the
// same file must work for libFuzzer, which refuses it too).
bool read_dict(const std::string& path, std::vector<std::string>& tokens) {
  std::string text;
  if (!read_file(path, text)) return false;
  size_t start = 0;
  for (int line_no = 1; start < text.size(); ++line_no) {
    size_t end = text.find('\n', start);
    std::string_view line(text.data() + start, (end == std::string::npos ? text.size() : end) - start);
    start = end == std::string::npos ? text.size() : end + 1;
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(" \t")));
    if (line.empty() || line[0] == '#') continue;
    size_t open = line.find('"'), close = line.rfind('"');
    if (open == std::string_view::npos || close <= open) {
      std::fprintf(stderr, "%s:%d: expected a quoted value\n", path.c_str(), line_no);
      return false;
    }
    std::string token;
    for (size_t i = open + 1; i < close; ++i) {
      if (line[i] != '\\') {
        token.push_back(line[i]);
      } else if (i + 1 < close && (line[i + 1] == '\\' || line[i + 1] == '"')) {
        token.push_back(line[++i]);
      } else if (i + 3 < close && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 && hex_digit(line[i + 3]) >= 0) {
        token.push_back(static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3])));
        i += 3;
      } else {
        std::fprintf(stderr, "%s:%d: bad escape\n", path.c_str(), line_no);
        return false;
      }
    }
    tokens.push_back(std::move(token));
  }
  return true;
}

// Every regular file of a file or directory, sorted: the same order, so the
// same mutations, everywhere.
bool read_inputs(const std::string& name, const char* path, bool mutate, std::vector<std::pair<std::string, bool>>& out) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.emplace_back(path);
  }
  for (const auto& f : files) {
    std::string bytes;
    if (!read_file(f, bytes)) {
      std::fprintf(stderr, "%s: cannot read %s\n", name.c_str(), f.c_str());
      return false;
    }
    out.emplace_back(std::move(bytes), mutate);
  }
  return true;
}

bool read_count(const char* text, size_t& out) {
  char* end = nullptr;
  unsigned long v = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0') return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = std::filesystem::path(argv[0]).filename().string();
  std::vector<std::string> tokens = {std::string(1, '\0'), "\xff", "\n", "\r\n"};
  size_t truncations = 64, mutations = 200;
  std::vector<std::pair<std::string, bool>> inputs;  // bytes, whether to mutate them
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--dict" && i + 1 < argc) {
      if (!read_dict(argv[++i], tokens)) return 2;
    } else if ((arg == "--truncations" || arg == "--mutations") && i + 1 < argc) {
      if (!read_count(argv[++i], arg == "--truncations" ? truncations : mutations)) {
        std::fprintf(stderr, "%s: %s wants a number\n", name.c_str(), std::string(arg).c_str());
        return 2;
      }
    } else if (arg == "--as-is" && i + 1 < argc) {
      if (!read_inputs(name, argv[++i], false, inputs)) return 2;
    } else if (!read_inputs(name, argv[i], true, inputs)) {
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "%s: no corpus files found\n", name.c_str());
    return 1;
  }
  std::mt19937 rng(12345);  // fixed seed: a failure reproduces
  size_t runs = 0;
  for (const auto& [in, mutate] : inputs) {
    run(in), ++runs;
    if (!mutate) continue;
    const size_t step = std::max<size_t>(1, in.size() / std::max<size_t>(1, truncations));
    for (size_t cut = 0; cut < in.size() && truncations > 0; cut += step) run(in.substr(0, cut)), ++runs;
    for (size_t m = 0; m < mutations && !in.empty(); ++m, ++runs) {
      std::string s = in;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t pos = rng() % s.size();
        switch (rng() % 4) {
          case 0: s[pos] = static_cast<char>(rng() % 256); break;
          case 1: s.erase(pos, 1 + rng() % 8); break;
          case 2: s.insert(pos, tokens[rng() % tokens.size()]); break;
          default: {
            const std::string& other = inputs[rng() % inputs.size()].first;
            size_t from = other.empty() ? 0 : rng() % other.size();
            s.insert(pos, other.substr(from, 1 + rng() % 32));
          }
        }
        if (s.empty()) s = "x";
      }
      run(s);
    }
  }
  std::printf("%s: %zu corpus files, %zu runs, no crash\n", name.c_str(), inputs.size(), runs);
  return 0;
}
