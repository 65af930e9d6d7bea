// The scenario helpers themselves: the configurations they write must be
// what the daemon's loader reads (else every scenario would fail for the
// wrong reason), and the event / metrics readers must parse the daemon's formats.
#include "monitoring_lab.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "config/loader.h"

namespace uplink::lab::monitoring {
namespace {

using namespace std::chrono_literals;

TEST(ConfigToml, LabLinksLoadWithTheShippedDefaults) {
  Config c = parse_config(config_toml(lab_links()), "scenario.toml");
  ASSERT_EQ(c.links.size(), 4u);
  const auto& wan1 = c.links.at("wan1");
  EXPECT_EQ(wan1.interface, "eth1");
  EXPECT_EQ(wan1.probe.targets.size(), 3u);
  EXPECT_EQ(wan1.probe.reliability, 2);
  EXPECT_EQ(wan1.probe.interval, Duration(1s));
  EXPECT_EQ(wan1.probe.fast_interval, Duration(100ms));
  EXPECT_FALSE(wan1.probe.timeout.has_value());  // auto
  EXPECT_EQ(wan1.probe.down_after, 3);
  EXPECT_EQ(wan1.probe.up_after, 5);
  EXPECT_FALSE(wan1.quality.has_value());
  EXPECT_TRUE(c.links.at("cell1").metered);  // cellular default
  EXPECT_FALSE(c.links.at("wan2").metered);
  ASSERT_EQ(c.policies.at("default").members.size(), 4u);
  EXPECT_EQ(c.rules.size(), 1u);
}

TEST(ConfigToml, OverridesReachTheConfig) {
  auto links = ethernet_links();
  auto& l = find_link(links, "wan2");
  l.gateway = "2001:db8:2::1";
  l.targets = {"2001:db8:ffff::1", "2001:db8:ffff::2"};
  l.reliability = 1;
  l.timeout = "20ms";
  l.fast_interval = "50ms";
  l.max_latency = "60ms";
  l.max_loss = 5;
  Config c = parse_config(config_toml(links), "scenario.toml");
  const auto& w = c.links.at("wan2");
  EXPECT_EQ(w.kind, LinkKind::ethernet);
  ASSERT_TRUE(w.gateway);
  EXPECT_EQ(w.gateway->to_string(), "2001:db8:2::1");
  EXPECT_EQ(w.probe.targets.size(), 2u);
  EXPECT_EQ(w.probe.timeout, std::optional<Duration>(20ms));
  EXPECT_EQ(w.probe.fast_interval, Duration(50ms));
  ASSERT_TRUE(w.quality);
  EXPECT_EQ(w.quality->max_latency, std::optional<Duration>(60ms));
  EXPECT_EQ(w.quality->max_loss, std::optional<double>(5));
  EXPECT_FALSE(w.quality->max_jitter);
  EXPECT_THROW(find_link(links, "nope"), std::invalid_argument);
}

TEST(WallTime, RoundTripsTheDaemonsFormat) {
  WallTime t{std::chrono::milliseconds(1'790'000'123'456)};
  auto ms = parse_wall_ms(format_wall_time(t));
  ASSERT_TRUE(ms);
  EXPECT_EQ(*ms, 1'790'000'123'456);
  EXPECT_FALSE(parse_wall_ms("yesterday"));
  auto now = now_ms();
  auto back = parse_wall_ms(format_wall_time(std::chrono::system_clock::now()));
  ASSERT_TRUE(back);
  EXPECT_LE(std::abs(*back - now), 1000);
}

TEST(Metrics, SumsMatchingSamplesOnly) {
  const std::string text =
      "# HELP uplink_probe_sent_total probes sent\n"
      "# TYPE uplink_probe_sent_total counter\n"
      "uplink_probe_sent_total{link=\"wan1\",target=\"203.0.113.1\"} 10\n"
      "uplink_probe_sent_total{link=\"wan1\",target=\"203.0.113.2\"} 12\n"
      "uplink_probe_sent_total{link=\"wan10\",target=\"203.0.113.2\"} 100\n"
      "uplink_probe_sent_total_other{link=\"wan1\"} 1000\n"
      "uplink_events_total 3\n";
  EXPECT_EQ(metric_sum(text, "uplink_probe_sent_total", {"link=\"wan1\""}), 22.0);
  EXPECT_EQ(metric_sum(text, "uplink_probe_sent_total"), 122.0);
  EXPECT_EQ(metric_sum(text, "uplink_events_total"), 3.0);
  EXPECT_FALSE(metric_sum(text, "uplink_probe_sent_total", {"link=\"cell1\""}));
  EXPECT_EQ(metric_samples(text, "uplink_probe_sent_total", {"target=\"203.0.113.2\""}),
            (std::vector<double>{12, 100}));
  EXPECT_TRUE(duplicate_families(text).empty());
  EXPECT_EQ(duplicate_families(text + "# TYPE uplink_probe_sent_total counter\n"),
            (std::vector<std::string>{"uplink_probe_sent_total"}));
}

TEST(Json, FindsNestedObjectsAndNumbers) {
  auto j = nlohmann::json::parse(R"({"name":"wan1","stats":{"probe_bytes_per_s":131.5,
      "targets":[{"target":"a","sent":3},{"target":"b","sent":4},{"target":"c"}]}})");
  EXPECT_EQ(find_objects(j, {"target", "sent"}).size(), 2u);
  EXPECT_EQ(find_number(j, "probe_bytes_per_s"), 131.5);
  EXPECT_FALSE(find_number(j, "name"));  // a string is not a number
}

}  // namespace
}  // namespace uplink::lab::monitoring
