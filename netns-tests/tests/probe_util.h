#pragma once
// Traffic helpers shared by the netns tests: a UDP probe train from router
// through one pinned line, and a UDP blast measured at a sink in core.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/lab_test.h"

namespace uplink::lab {

// udp-probe from router, bound to the line's address, to udp-echo in core (or `target`).
inline nlohmann::json probe(Lab& lab, const std::string& line, int count, int interval_us,
                            int wait_ms = 500, const std::string& target = "203.0.113.1", bool v6 = false) {
  const auto& l = line_info(line);
  auto r = lab.exec("router", {bin_dir() + "/udp-probe", "--target", target, "--bind", v6 ? l.address6 : l.address,
                               "--count", std::to_string(count), "--interval-us", std::to_string(interval_us),
                               "--wait-ms", std::to_string(wait_ms)});
  EXPECT_TRUE(r.ok()) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "udp-probe printed: " << r.out;
  return j.is_discarded() ? nlohmann::json::object() : j;
}

inline int received(const nlohmann::json& j) { return j.value("received", -1); }

}  // namespace uplink::lab
