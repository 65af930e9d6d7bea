#pragma once
// Fakes shared by the module tests and the wiring test. They live beside
// what they fake so that the probe and policy tests can use them too:
//   probe/testing/scripted_probers.h  ScriptedProbers, probe_target, probed_config
//   core/testing/bus_recorder.h       BusRecorder: what the bus carried (replaces RecordingSink)
//   core/testing/module_harness.h     ModuleHarness: a ModuleContext without a Daemon
#include "core/testing/bus_recorder.h"
#include "core/testing/module_harness.h"
#include "probe/testing/scripted_probers.h"
