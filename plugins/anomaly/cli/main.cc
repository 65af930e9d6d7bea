// uplink-anomaly: score NAB-style CSV files with the streaming detector, and
// score a NAB-layout folder with NAB's rules.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "csv.h"
#include "detector.h"
#include "model.h"
#include "nab.h"
#include "score.h"

namespace fs = std::filesystem;
using namespace uplink::anomaly;

namespace {

constexpr int kExitBadInput = 1;
constexpr int kExitUsage = 2;

void usage(FILE* f) {
  std::fputs(
      "usage: uplink-anomaly score FILE.csv [--model FILE] [--set KEY=VALUE ...]\n"
      "       uplink-anomaly nab DIR [--model FILE] [--set KEY=VALUE ...]\n"
      "                      [--profile standard|reward_low_FP_rate|reward_low_FN_rate|all]\n"
      "                      [--quiet] [--sweep T1,T2,...] [--dump DIR]\n"
      "                      [--results RDIR --results-prefix P --results-threshold T]\n"
      "       uplink-anomaly model [--model FILE] [--set KEY=VALUE ...]   print the effective model\n"
      "\n"
      "score: writes timestamp,value,anomaly_score,label for every row of FILE.csv\n"
      "       (FILE '-' reads standard input). label is 1 when the score reaches the\n"
      "       model's threshold; scores are printed rounded down to 6 decimals.\n"
      "nab:   runs the detector on DIR/data/<category>/<file>.csv and scores the\n"
      "       detections against DIR/labels/combined_windows.json with NAB's rules.\n"
      "       --sweep re-scores the same raw scores at other thresholds, --dump writes\n"
      "       the raw scores per file to DIR (exploration aids).\n"
      "       --results scores a published NAB result folder (RDIR/<category>/P<file>.csv,\n"
      "       column anomaly_score >= T) instead of running the detector.\n"
      "exit:  0 ok, 1 bad input (message FILE:LINE: ...), 2 usage.\n",
      f);
}

struct Options {
  std::string command, target, model, profile = "standard";
  std::string results, results_prefix;  // score a published NAB result folder instead of the detector
  double results_threshold = -1;
  std::vector<std::string> sets;
  std::string dump;  // write raw scores and windows here (exploration)
  std::vector<double> sweep;
  bool quiet = false;
};

bool parse_args(int argc, char** argv, Options& o, std::string& err) {
  if (argc < 2) {
    err = "missing command";
    return false;
  }
  o.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        err = a + " needs " + what;
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--model") {
      const char* v = need("a file");
      if (!v) return false;
      o.model = v;
    } else if (a == "--set") {
      const char* v = need("KEY=VALUE");
      if (!v) return false;
      o.sets.push_back(v);
    } else if (a == "--profile") {
      const char* v = need("a profile name");
      if (!v) return false;
      o.profile = v;
    } else if (a == "--results") {
      const char* v = need("a folder");
      if (!v) return false;
      o.results = v;
    } else if (a == "--results-prefix") {
      const char* v = need("a prefix");
      if (!v) return false;
      o.results_prefix = v;
    } else if (a == "--results-threshold") {
      const char* v = need("a threshold");
      if (!v) return false;
      char* end = nullptr;
      o.results_threshold = std::strtod(v, &end);
      if (*end != '\0') {
        err = std::string("bad threshold '") + v + "'";
        return false;
      }
    } else if (a == "--dump") {
      const char* v = need("a folder");
      if (!v) return false;
      o.dump = v;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--sweep") {
      const char* v = need("a list of thresholds");
      if (!v) return false;
      std::string s = v;
      size_t p = 0;
      while (p <= s.size()) {
        size_t c = s.find(',', p);
        std::string t = s.substr(p, c == std::string::npos ? std::string::npos : c - p);
        char* end = nullptr;
        double d = std::strtod(t.c_str(), &end);
        if (t.empty() || *end != '\0') {
          err = "bad threshold '" + t + "' in --sweep";
          return false;
        }
        o.sweep.push_back(d);
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else if (a == "-h" || a == "--help") {
      o.command = "help";
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      err = "unknown option " + a;
      return false;
    } else if (o.target.empty()) {
      o.target = a;
    } else {
      err = "unexpected argument " + a;
      return false;
    }
  }
  if (o.profile != "all" && o.profile != "standard" && o.profile != "reward_low_FP_rate" &&
      o.profile != "reward_low_FN_rate") {
    err = "unknown profile '" + o.profile + "'";
    return false;
  }
  return true;
}

// Model from --model (else the compiled-in defaults), then --set overrides.
bool load_params(const Options& o, Params& p) {
  p = Params{};
  std::string err;
  if (!o.model.empty() && !load_model(o.model, p, err)) {
    std::fprintf(stderr, "uplink-anomaly: %s\n", err.c_str());
    return false;
  }
  for (const auto& s : o.sets) {
    ModelError me;
    if (!parse_model("version = 1\n" + s + "\n", p, me)) {
      std::fprintf(stderr, "uplink-anomaly: --set %s: %s\n", s.c_str(), me.message.c_str());
      return false;
    }
  }
  return true;
}

int cmd_score(const Options& o) {
  if (o.target.empty()) {
    std::fputs("uplink-anomaly: score needs a FILE.csv\n", stderr);
    return kExitUsage;
  }
  Params p;
  if (!load_params(o, p)) return kExitBadInput;
  std::string text;
  const std::string name = o.target == "-" ? "<stdin>" : o.target;
  if (o.target == "-") {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
  } else if (!read_file(o.target, text)) {
    std::fprintf(stderr, "uplink-anomaly: %s: cannot read file\n", name.c_str());
    return kExitBadInput;
  }
  std::string out;
  CsvError err;
  if (!score_csv(text, p, out, err)) {
    std::fprintf(stderr, "uplink-anomaly: %s:%d: %s\n", name.c_str(), err.line, err.message.c_str());
    return kExitBadInput;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : kExitBadInput;
}

struct FileRun {
  std::string key;
  std::vector<double> raw;
  std::vector<uint8_t> det;
  std::vector<nab::Window> windows;
};

int cmd_nab(const Options& o) {
  if (o.target.empty()) {
    std::fputs("uplink-anomaly: nab needs a DIR\n", stderr);
    return kExitUsage;
  }
  Params p;
  if (!load_params(o, p)) return kExitBadInput;
  const fs::path dir = o.target;
  const fs::path labels_path = dir / "labels" / "combined_windows.json";
  std::string text, err;
  if (!read_file(labels_path.string(), text)) {
    std::fprintf(stderr, "uplink-anomaly: %s: cannot read file\n", labels_path.c_str());
    return kExitBadInput;
  }
  nab::WindowLabels labels;
  if (!nab::parse_windows(text, labels, err)) {
    std::fprintf(stderr, "uplink-anomaly: %s: %s\n", labels_path.c_str(), err.c_str());
    return kExitBadInput;
  }
  std::vector<std::string> keys;
  std::error_code ec;
  const fs::path data = dir / "data";
  for (auto it = fs::recursive_directory_iterator(data, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".csv")
      keys.push_back(it->path().lexically_relative(data).generic_string());
  }
  if (ec) {
    std::fprintf(stderr, "uplink-anomaly: %s: %s\n", data.c_str(), ec.message().c_str());
    return kExitBadInput;
  }
  if (keys.empty()) {
    std::fprintf(stderr, "uplink-anomaly: %s: no .csv files\n", data.c_str());
    return kExitBadInput;
  }
  std::sort(keys.begin(), keys.end());

  std::vector<FileRun> runs;
  for (const auto& key : keys) {
    auto lab = labels.find(key);
    if (lab == labels.end()) {
      std::fprintf(stderr, "uplink-anomaly: %s: no entry for '%s'\n", labels_path.c_str(), key.c_str());
      return kExitBadInput;
    }
    Series s;
    const std::string path = (data / key).string();
    if (!read_series_file(path, s, err)) {
      std::fprintf(stderr, "uplink-anomaly: %s\n", err.c_str());
      return kExitBadInput;
    }
    FileRun run;
    run.key = key;
    if (!nab::windows_to_rows(lab->second, s.ts, run.windows, err)) {
      std::fprintf(stderr, "uplink-anomaly: %s: %s: %s\n", labels_path.c_str(), key.c_str(), err.c_str());
      return kExitBadInput;
    }
    if (!o.results.empty()) {
      // A NAB result file: timestamp,value,anomaly_score,... (NAB's own output).
      const fs::path rk = fs::path(key).parent_path() / (o.results_prefix + fs::path(key).filename().string());
      const std::string rpath = (fs::path(o.results) / rk).string();
      std::string rtext;
      if (!read_file(rpath, rtext)) {
        std::fprintf(stderr, "uplink-anomaly: %s: cannot read file\n", rpath.c_str());
        return kExitBadInput;
      }
      size_t pos = rtext.find('\n');
      while (pos != std::string::npos && pos + 1 < rtext.size()) {
        size_t e = rtext.find('\n', pos + 1);
        std::string line = rtext.substr(pos + 1, e == std::string::npos ? std::string::npos : e - pos - 1);
        pos = e;
        size_t c1 = line.find(','), c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
        if (c2 == std::string::npos) continue;
        const double sc = std::strtod(line.c_str() + c2 + 1, nullptr);
        run.raw.push_back(sc);
        run.det.push_back(sc >= o.results_threshold ? 1 : 0);
      }
      if (run.raw.size() != s.value.size()) {
        std::fprintf(stderr, "uplink-anomaly: %s: %zu rows, data file has %zu\n", rpath.c_str(), run.raw.size(),
                     s.value.size());
        return kExitBadInput;
      }
      runs.push_back(std::move(run));
      continue;
    }
    Detector det(p);
    run.raw.reserve(s.value.size());
    run.det.reserve(s.value.size());
    for (size_t i = 0; i < s.value.size(); ++i) {
      const auto res = det.update(s.ts[i], s.value[i]);
      run.raw.push_back(res.raw);
      run.det.push_back(res.score >= p.threshold ? 1 : 0);
    }
    runs.push_back(std::move(run));
  }

  if (!o.dump.empty()) {
    // One file per series: "raw_score window" per row (window: 1 inside a window).
    for (const auto& r : runs) {
      std::string name = r.key;
      std::replace(name.begin(), name.end(), '/', '_');
      FILE* f = std::fopen((fs::path(o.dump) / (name + ".txt")).c_str(), "w");
      if (!f) continue;
      size_t w = 0;
      for (size_t i = 0; i < r.raw.size(); ++i) {
        while (w < r.windows.size() && r.windows[w].last < i) ++w;
        const bool in = w < r.windows.size() && r.windows[w].first <= i;
        std::fprintf(f, "%.6f %d\n", r.raw[i], in ? 1 : 0);
      }
      std::fclose(f);
    }
  }

  std::vector<nab::Profile> profs;
  for (const auto& pr : nab::profiles())
    if (o.profile == "all" || o.profile == pr.name) profs.push_back(pr);
  int total_windows = 0;
  for (const auto& r : runs) total_windows += static_cast<int>(r.windows.size());

  if (!o.sweep.empty()) {
    std::printf("threshold");
    for (const auto& pr : profs) std::printf(" %s", pr.name.c_str());
    std::printf(" TP FP FN\n");
    for (double t : o.sweep) {
      std::vector<double> raw_total(profs.size(), 0.0);
      int tp = 0, fp = 0, fn = 0;
      for (const auto& r : runs) {
        Cooldown cd(t, p.cooldown, p.cooldown_frac);
        std::vector<uint8_t> d(r.raw.size());
        for (size_t i = 0; i < r.raw.size(); ++i) {
          bool alarm = false;
          d[i] = cd.step(r.raw[i], alarm) >= t ? 1 : 0;
        }
        for (size_t k = 0; k < profs.size(); ++k) {
          const auto fsc = nab::score_file(d, r.windows, profs[k]);
          raw_total[k] += fsc.score;
          if (k == 0) tp += fsc.tp, fp += fsc.fp, fn += fsc.fn;
        }
      }
      std::printf("%.6f", t);
      for (size_t k = 0; k < profs.size(); ++k)
        std::printf(" %.3f", nab::normalised(raw_total[k], total_windows, profs[k]));
      std::printf(" %d %d %d\n", tp, fp, fn);
    }
    return 0;
  }

  std::vector<double> raw_total(profs.size(), 0.0);
  int tp = 0, fp = 0, fn = 0;
  if (!o.quiet) {
    std::printf("%-58s %6s %3s %3s %3s %3s", "file", "rows", "win", "TP", "FP", "FN");
    for (const auto& pr : profs) std::printf(" %18s", pr.name.c_str());
    std::printf("\n");
  }
  for (const auto& r : runs) {
    std::vector<nab::FileScore> sc;
    for (const auto& pr : profs) sc.push_back(nab::score_file(r.det, r.windows, pr));
    for (size_t k = 0; k < profs.size(); ++k) raw_total[k] += sc[k].score;
    tp += sc[0].tp, fp += sc[0].fp, fn += sc[0].fn;
    if (!o.quiet) {
      std::printf("%-58s %6zu %3zu %3d %3d %3d", r.key.c_str(), r.raw.size(), r.windows.size(), sc[0].tp,
                  sc[0].fp, sc[0].fn);
      for (const auto& s : sc) std::printf(" %18.4f", s.score);
      std::printf("\n");
    }
  }
  std::printf("total: %zu files, %d windows, TP %d, FP %d, FN %d (threshold %g)\n", runs.size(), total_windows, tp,
              fp, fn, o.results.empty() ? p.threshold : o.results_threshold);
  for (size_t k = 0; k < profs.size(); ++k)
    std::printf("%-20s raw %9.4f  null %8.2f  perfect %7.2f  normalised %7.3f\n", profs[k].name.c_str(),
                raw_total[k], -profs[k].fn * total_windows, profs[k].tp * total_windows,
                nab::normalised(raw_total[k], total_windows, profs[k]));
  return 0;
}

int cmd_model(const Options& o) {
  Params p;
  if (!load_params(o, p)) return kExitBadInput;
  std::fputs(format_model(p).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string err;
  if (!parse_args(argc, argv, o, err)) {
    std::fprintf(stderr, "uplink-anomaly: %s\n", err.c_str());
    usage(stderr);
    return kExitUsage;
  }
  if (o.command == "help" || o.command == "-h" || o.command == "--help") {
    usage(stdout);
    return 0;
  }
  if (o.command == "score") return cmd_score(o);
  if (o.command == "nab") return cmd_nab(o);
  if (o.command == "model") return cmd_model(o);
  std::fprintf(stderr, "uplink-anomaly: unknown command '%s'\n", o.command.c_str());
  usage(stderr);
  return kExitUsage;
}
