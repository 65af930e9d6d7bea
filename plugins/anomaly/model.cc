#include "model.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace uplink::anomaly {
namespace {

// One row per model key: where it lives in Params and its legal range.
struct Field {
  const char* key;
  double* (*dbl)(Params&);
  int* (*integer)(Params&);
  double lo, hi;
};

#define UA_D(name, expr, lo, hi) Field{name, [](Params& p) -> double* { return &p.expr; }, nullptr, lo, hi}
#define UA_I(name, expr, lo, hi) Field{name, nullptr, [](Params& p) -> int* { return &p.expr; }, lo, hi}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      UA_D("threshold", threshold, 0.0, 1.0),
      UA_I("warmup", warmup, 16, 4096),
      UA_I("cooldown", cooldown, 0, 1000000),
      UA_D("cooldown_frac", cooldown_frac, 0.0, 1.0),
      UA_D("squash", squash, 0, 1e6),
      UA_I("bins", bins, 2, 4096),
      UA_D("quantum", quantum, 0, 1e6),
      UA_I("grids", grids, 1, kMaxGrids),
      UA_I("levels", levels, 1, kMaxLevels),
      UA_I("ahead", ahead, 0, kMaxLevels),
      UA_D("interior_weight", interior_weight, 0, 1),
      UA_D("smooth", smooth, 1, 1e6),
      UA_D("smooth_weight", smooth_weight, 0, 1e6),
      UA_I("tod_slots", tod_slots, 0, kMaxTodSlots),
      UA_I("tod_coarse", tod_coarse, 1, 1024),
      UA_D("tod_weight", tod_weight, 0, 1e6),
      UA_I("tod_days", tod_days, 1, 365),
      UA_I("forget", forget, 0, 100000000),
      UA_D("rate_horizon", rate_horizon, 1, 1e8),
      UA_D("rate_gain", rate_gain, 0, 1e8),
  };
  return f;
}
#undef UA_D
#undef UA_I

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_double(std::string_view s, double& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e && std::isfinite(out);
}

// Shortest text that reads back as the same double.
std::string fmt_double(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, ptr) : std::string("nan");
}

}  // namespace

bool parse_model(std::string_view text, Params& params, ModelError& err) {
  Params p = params;
  std::vector<std::string> seen;
  bool have_version = false;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      err = {line_no, "expected 'key = value'"};
      return false;
    }
    std::string key(trim(line.substr(0, eq)));
    std::string_view val = trim(line.substr(eq + 1));
    if (key.empty()) {
      err = {line_no, "missing key before '='"};
      return false;
    }
    for (const auto& s : seen)
      if (s == key) {
        err = {line_no, "duplicate key '" + key + "'"};
        return false;
      }
    seen.push_back(key);
    double v = 0;
    if (!parse_double(val, v)) {
      err = {line_no, "value of '" + key + "' is not a number: '" + std::string(val) + "'"};
      return false;
    }
    if (key == "version") {
      if (v != kModelVersion) {
        err = {line_no, "unsupported model version " + std::string(val) + " (this build reads version " +
                            std::to_string(kModelVersion) + ")"};
        return false;
      }
      have_version = true;
      continue;
    }
    const Field* f = nullptr;
    for (const auto& c : fields())
      if (key == c.key) f = &c;
    if (!f) {
      err = {line_no, "unknown key '" + key + "'"};
      return false;
    }
    if (v < f->lo || v > f->hi) {
      err = {line_no, "'" + key + "' = " + std::string(val) + " is out of range [" + fmt_double(f->lo) + ", " +
                          fmt_double(f->hi) + "]"};
      return false;
    }
    if (f->integer) {
      if (v != std::floor(v)) {
        err = {line_no, "'" + key + "' must be an integer"};
        return false;
      }
      *f->integer(p) = static_cast<int>(v);
    } else {
      *f->dbl(p) = v;
    }
  }
  if (!have_version) {
    err = {0, "missing 'version' (expected version = " + std::to_string(kModelVersion) + ")"};
    return false;
  }
  params = p;
  return true;
}

bool load_model(const std::string& path, Params& params, std::string& err_text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err_text = path + ": cannot open model file";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  ModelError err;
  if (!parse_model(ss.str(), params, err)) {
    err_text = path + ":" + std::to_string(err.line) + ": " + err.message;
    return false;
  }
  return true;
}

std::string format_model(const Params& p) {
  Params copy = p;
  std::string out = "version = " + std::to_string(kModelVersion) + "\n";
  for (const auto& f : fields()) {
    out += f.key;
    out += " = ";
    out += f.integer ? std::to_string(*f.integer(copy)) : fmt_double(*f.dbl(copy));
    out += "\n";
  }
  return out;
}

}  // namespace uplink::anomaly
