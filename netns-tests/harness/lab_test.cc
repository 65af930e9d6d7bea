#include "harness/lab_test.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

namespace uplink::lab {

std::unique_ptr<Lab> LabTest::lab_;
std::string LabTest::setup_error_;

std::string rewrite_daemon_paths(const std::string& toml, const std::string& socket, const std::string& state_dir,
                                 const std::string& hooks_dir) {
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"socket", socket}, {"state_dir", state_dir}, {"hooks_dir", hooks_dir}};
  std::istringstream in(toml);
  std::ostringstream out;
  std::string line;
  bool in_daemon = false, saw_daemon = false;
  std::vector<bool> done(keys.size(), false);
  auto flush_missing = [&] {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!done[i]) out << keys[i].first << " = \"" << keys[i].second << "\"\n";
      done[i] = true;
    }
  };
  static const std::regex header(R"(^\s*\[([^\]]*)\]\s*(#.*)?$)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, header)) {
      if (in_daemon) flush_missing();
      in_daemon = m[1] == "daemon";
      saw_daemon |= in_daemon;
      out << line << "\n";
      continue;
    }
    bool replaced = false;
    if (in_daemon) {
      for (size_t i = 0; i < keys.size(); ++i) {
        if (std::regex_search(line, std::regex("^\\s*" + keys[i].first + "\\s*="))) {
          out << keys[i].first << " = \"" << keys[i].second << "\"\n";
          done[i] = replaced = true;
        }
      }
    }
    if (!replaced) out << line << "\n";
  }
  if (in_daemon) flush_missing();
  if (!saw_daemon) {
    std::ostringstream head;
    head << "[daemon]\n";
    for (const auto& [k, v] : keys) head << k << " = \"" << v << "\"\n";
    return head.str() + "\n" + out.str();
  }
  return out.str();
}

void LabTest::SetUpTestSuite() {
  setup_error_.clear();
  lab_ = std::make_unique<Lab>();
  if (auto r = lab_->up(); !r.ok()) setup_error_ = r.error().message;
}

void LabTest::TearDownTestSuite() {
  if (lab_) {
    if (auto r = lab_->down(); !r.ok()) ADD_FAILURE() << r.error().message;
    // The per-test directories of passed tests are gone; an empty base goes too
    // (the directories of failed tests are kept, and with them the base).
    std::error_code ec;
    std::filesystem::remove(std::filesystem::temp_directory_path() / ("uplink-lab-" + lab_->prefix()), ec);
  }
  lab_.reset();
}

void LabTest::SetUp() {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  auto base = std::filesystem::temp_directory_path() / ("uplink-lab-" + lab_->prefix());
  std::filesystem::create_directories(base);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  temp_dir_ = base / (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(temp_dir_);
  std::filesystem::create_directories(temp_dir_ / "state");
  std::filesystem::create_directories(temp_dir_ / "hooks.d");
}

void LabTest::TearDown() {
  stop_daemon();
  if (!lab_ || !lab_->is_up()) return;
  for (const auto& l : pinned_) (void)lab_->unpin_line(l);
  pinned_.clear();
  for (const auto& l : lines()) {
    if (auto r = lab_->fault(l.name, {"clear"}); !r.ok()) ADD_FAILURE() << "teardown: " << r.error().message;
  }
  if (!HasFailure()) std::filesystem::remove_all(temp_dir_);  // kept on failure, for the daemon log
}

bool LabTest::fault(const std::string& line, const std::vector<std::string>& args) {
  auto r = lab_->fault(line, args);
  if (!r.ok()) ADD_FAILURE() << r.error().message;
  return r.ok();
}

ExecResult LabTest::exec(const std::string& node, const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout) {
  return lab_->exec(node, argv, timeout);
}

bool LabTest::pin_line(const std::string& line) {
  auto r = lab_->pin_line(line);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return false;
  }
  pinned_.push_back(line);
  return true;
}

std::string LabTest::lab_config() {
  std::ifstream in(source_dir() + "/config/lab.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool LabTest::daemon_available() { return std::filesystem::exists(uplinkd_path()); }

bool LabTest::start_daemon(const std::string& config_toml, std::chrono::milliseconds ready_timeout) {
  if (!daemon_available()) {
    ADD_FAILURE() << "uplinkd not found at " << uplinkd_path();
    return false;
  }
  {
    std::ofstream out(config_path());
    out << rewrite_daemon_paths(config_toml, socket_path(), (temp_dir_ / "state").string(),
                                (temp_dir_ / "hooks.d").string());
  }
  daemon_.emplace(lab_->spawn("router", {uplinkd_path(), "--config", config_path(), "--log-level", "debug"},
                              (temp_dir_ / "uplinkd.log").string()));
  bool ready = eventually(
      [&] { return !daemon_->running() || ctl({"status", "--json"}, std::chrono::seconds(2)).ok(); }, ready_timeout,
      "uplinkd to answer on " + socket_path());
  if (!daemon_->running()) {
    ADD_FAILURE() << "uplinkd exited early; log " << daemon_->log_path() << ":\n" << daemon_->log();
    return false;
  }
  return ready;
}

void LabTest::stop_daemon() {
  if (!daemon_) return;
  int rc = daemon_->stop(std::chrono::seconds(5));
  if (rc != 0) ADD_FAILURE() << "uplinkd did not exit cleanly (status " << rc << "); log:\n" << daemon_->log();
  daemon_.reset();
}

ExecResult LabTest::ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {uplinkctl_path(), "--socket", socket_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

nlohmann::json LabTest::status() {
  auto r = ctl({"status", "--json"});
  if (!r.ok()) return nullptr;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string LabTest::link_state(const std::string& link) {
  auto s = status();
  if (!s.is_object() || !s.contains("links")) return "";
  for (const auto& l : s["links"]) {
    if (l.value("name", "") == link) return l.value("state", "");
  }
  return "";
}

std::chrono::milliseconds probe_rounds_bound(std::chrono::milliseconds interval,
                                             std::chrono::milliseconds fast_interval, int rounds,
                                             std::chrono::milliseconds timeout) {
  const auto round = std::max(fast_interval, 3 * timeout);
  const auto expected = interval * 11 / 10 + rounds * round;
  return expected * 3 / 2 + std::chrono::seconds(1);
}

std::chrono::milliseconds LabTest::probe_timeout(const std::string& link, std::chrono::milliseconds fallback) {
  auto r = ctl({"link", "show", link, "--json"});
  if (!r.ok()) return fallback;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return fallback;
  double worst = -1;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& v) {
    if (v.is_object() && v.contains("timeout_ms") && v["timeout_ms"].is_number())
      worst = std::max(worst, v["timeout_ms"].get<double>());
    if (v.is_structured())
      for (const auto& x : v) walk(x);  // an object's values, an array's elements
  };
  walk(j);
  if (worst < 0) return fallback;
  return std::chrono::milliseconds(static_cast<int64_t>(worst + 0.999));
}

bool LabTest::eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                         const std::string& what, std::chrono::milliseconds every) {
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (pred()) return true;
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited >= timeout) {
      ADD_FAILURE() << "timed out after " << std::chrono::duration<double>(waited).count()
                    << " s waiting for: " << what;
      return false;
    }
    std::this_thread::sleep_for(every);
  }
}

}  // namespace uplink::lab
