#pragma once
// TestModule ("testmod"): the proof that a module lands by adding its own
// folder and one line in the module list (src/daemon/modules.cc), touching
// nothing central. It owns a config section, a control verb and a kernel
// route, and does nothing unless its section is configured:
//
//   [testmod]
//   table = 4242                # its own routing table (outside uplinkd's link tables)
//   blackhole = "192.0.2.0/24"  # one blackhole route it owns there (protocol 85)
//
//   uplinkctl testmod [--json]  -> {"table", "blackhole", "applies", "text"}
//
// Tests use it (wiring test with a fake kernel; the daemon lab test in the
// kernel) to check registration, ownership in the programmer (routing's syncs
// never remove the module's route; removing the section removes exactly it)
// and rollback. Not for production configurations.
#include <memory>
#include <optional>
#include <string>

#include "common/ip.h"
#include "config/section_value.h"
#include "core/module.h"
#include "net/kernel_objects.h"

namespace uplink {

class SectionRegistry;

struct TestModSection final : SectionValue {
  uint32_t table = 0;
  IpPrefix blackhole;
  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;
};

void register_testmod_config(SectionRegistry& registry);

class TestModule final : public Module {
 public:
  explicit TestModule(ModuleContext& ctx);
  ~TestModule() override;
  std::string_view name() const override { return "testmod"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  void add_status(nlohmann::json& status) const override;

 private:
  KernelObjects* objects_;
  control::VerbRegistry& verbs_;
  std::optional<TestModSection> current_;
  uint64_t applies_ = 0;
};

}  // namespace uplink
