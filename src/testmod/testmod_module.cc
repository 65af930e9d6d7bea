#include "testmod/testmod_module.h"

#include <sys/socket.h>

#include "config/section.h"
#include "config/toml_text.h"

namespace uplink {

namespace {
constexpr const char* kOwner = "testmod";

std::shared_ptr<const SectionValue> parse(const toml::node& node, SectionContext& ctx) {
  const toml::table* t = ctx.want_table(node, "testmod");
  if (!t) return nullptr;
  ctx.check_keys(*t, "testmod", {"table", "blackhole"});
  auto s = std::make_shared<TestModSection>();
  if (auto v = ctx.get_int(*t, "table", "testmod", 1, 0x7fffffff, /*required=*/true)) s->table = static_cast<uint32_t>(*v);
  if (auto v = ctx.get_string(*t, "blackhole", "testmod", /*required=*/true)) {
    auto p = IpPrefix::parse(*v);
    if (!p) ctx.error_at_key(*t, "blackhole", "testmod.blackhole", p.error().message);
    else s->blackhole = *p;
  }
  return s;
}

void validate(const Config& c, SectionContext& ctx) {
  const auto* s = c.section<TestModSection>("testmod");
  if (!s) return;
  for (const auto& [name, l] : c.links)
    if (l.table == s->table)
      ctx.error_at(1, 1, "testmod.table", "table " + std::to_string(s->table) + " is link " + name + "'s table");
}

Route route_of(const TestModSection& s) {
  Route r;
  r.family = s.blackhole.addr.is_v6() ? AF_INET6 : AF_INET;
  r.table = s.table;
  r.dst = s.blackhole;
  r.type = RouteType::blackhole;
  return r;
}
}  // namespace

bool TestModSection::equals(const SectionValue& other) const {
  auto* o = dynamic_cast<const TestModSection*>(&other);
  return o && o->table == table && o->blackhole == blackhole;
}

std::string TestModSection::to_toml(bool) const {
  return "[testmod]\ntable = " + std::to_string(table) + "\nblackhole = " + toml_quote(blackhole.to_string()) + "\n";
}

void register_testmod_config(SectionRegistry& registry) {
  registry.add(SectionSpec{.name = "testmod", .parse = parse, .absent = {}, .validate = validate});
}

TestModule::TestModule(ModuleContext& ctx) : objects_(ctx.services.find<KernelObjects>()), verbs_(ctx.verbs) {
  verbs_.add(control::Verb{
      .name = "testmod",
      .usage = "testmod [--json]",
      .help = "the test module's section and apply count (a registration test, not a feature)",
      .changes_state = false,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request&) {
        nlohmann::json r{{"configured", current_.has_value()}, {"applies", applies_}};
        if (current_) {
          r["table"] = current_->table;
          r["blackhole"] = current_->blackhole.to_string();
        }
        r["text"] = current_ ? "testmod: blackhole " + current_->blackhole.to_string() + " in table " +
                                   std::to_string(current_->table) + "\n"
                             : "testmod: not configured\n";
        return control::Reply::success(r);
      }});
}

TestModule::~TestModule() { verbs_.remove_owner(kOwner); }

Result<void> TestModule::apply(const Config& next, const ConfigDiff&) {
  ++applies_;
  const auto* s = next.section<TestModSection>("testmod");
  if (!s) {
    current_.reset();
    if (objects_) objects_->release(kOwner);
    return {};
  }
  current_ = *s;
  if (objects_) objects_->set(kOwner, OwnedObjects{{route_of(*s)}, {}});
  return {};
}

void TestModule::stop() {
  if (objects_) objects_->release(kOwner);
}

void TestModule::add_status(nlohmann::json& status) const {
  if (current_) status["testmod"] = {{"table", current_->table}, {"blackhole", current_->blackhole.to_string()}};
}

}  // namespace uplink
