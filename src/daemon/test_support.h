#pragma once
// Shared by the daemon tests: a temp config file and a scriptable module.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "core/module.h"

namespace uplink::testing {

inline const char* kBaseConfig = R"(# site config: comments must survive CLI edits
[daemon]
socket = "/tmp/unused.sock"
log_level = "info"

# the fibre line
[links.wan1]
kind = "ethernet"
interface = "eth1"   # on the left port

[links.wan1.probe]
targets = ["203.0.113.1"]

[links.wan2]
kind = "ethernet"
interface = "eth2"
enabled = false

[links.wan2.probe]
targets = ["203.0.113.2"]

[policies.default]
mode = "failover"
members = [{ link = "wan1" }, { link = "wan2", tier = 2 }]

[[rules]]
name = "all"
policy = "default"
)";

class TempConfig {
 public:
  explicit TempConfig(const std::string& text = kBaseConfig) {
    char tmpl[] = "/tmp/uplink-daemon-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/uplinkd.toml";
    write(text);
  }
  ~TempConfig() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }
  void write(const std::string& text) const { std::ofstream(path_, std::ios::trunc) << text; }
  std::string read() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  Config load() const { return load_config_file(path_); }

 private:
  std::string dir_, path_;
};

// Records every apply; fails when told to; `on_apply` runs inside each apply
// (e.g. to report what a real module would report while applying).
class ScriptedModule : public Module {
 public:
  explicit ScriptedModule(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override {
    applied.push_back(next);
    diffs.push_back(diff);
    if (on_apply) on_apply(next);
    if (fail_next) {
      fail_next = false;
      return make_error("kernel said no");
    }
    current = next;
    return {};
  }
  void stop() override { stopped = true; }

  std::vector<Config> applied;
  std::vector<ConfigDiff> diffs;
  Config current;
  bool fail_next = false;
  bool stopped = false;
  std::function<void(const Config&)> on_apply;

 private:
  std::string name_;
};

}  // namespace uplink::testing
