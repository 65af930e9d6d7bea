#pragma once
// The module list: the one place that names every module (main.cc, the
// wiring test and `uplinkctl config check` all read it). A new module is one
// line here plus its own folder (core/module.h says what a module brings).
#include <vector>

#include "core/module.h"

namespace uplink {

class SectionRegistry;

// In apply order (routing before monitor: a link's table and fwmark rule
// exist before its first probe; stop runs in reverse).
const std::vector<ModuleSpec>& builtin_modules();

// Every module's config sections and link-kind keys into `registry`
// (SectionRegistry::global() by default). Idempotent.
void register_module_configs();
void register_module_configs(SectionRegistry& registry);

}  // namespace uplink
