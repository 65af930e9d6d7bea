#include "cli/render.h"

#include <gtest/gtest.h>

namespace uplink::cli {
namespace {

TEST(Table, AlignsColumns) {
  Table t({"name", "state"});
  t.add({"wan1", "up"});
  t.add({"cellular1", "-"});
  EXPECT_EQ(t.render(),
            "NAME       STATE\n"
            "wan1       up\n"
            "cellular1  -\n");
}

TEST(Cell, Scalars) {
  EXPECT_EQ(cell(Json()), "-");
  EXPECT_EQ(cell(Json("up")), "up");
  EXPECT_EQ(cell(Json(12.44)), "12.4");
  EXPECT_EQ(cell(Json(101)), "101");
  EXPECT_EQ(cell(Json(true)), "yes");
  EXPECT_EQ(cell(Json::array({"wan1", "wan2"})), "wan1,wan2");
  EXPECT_EQ(cell(Json::array()), "-");
}

TEST(Render, LinksTableShowsNullMeasurementsAsDash) {
  Json links = Json::array({Json{{"name", "wan1"}, {"kind", "ethernet"}, {"interface", "eth1"}, {"state", "unknown"},
                                 {"since", "2026-11-26T10:00:00.000Z"}, {"reason", "startup"}, {"latency_ms", nullptr},
                                 {"jitter_ms", nullptr}, {"loss_pct", nullptr}, {"table", 101}}});
  EXPECT_EQ(render_links(links),
            "LINK  KIND      INTERFACE  STATE    SINCE                     REASON   LATENCY_MS  JITTER_MS  LOSS_PCT  TABLE\n"
            "wan1  ethernet  eth1       unknown  2026-11-26T10:00:00.000Z  startup  -           -          -         101\n");
}

TEST(Render, RulesMatchColumn) {
  Json rules = Json::array({Json{{"name", "voip"}, {"policy", "default"}, {"source", "192.168.50.0/24"},
                                 {"protocol", "udp"}, {"destination_port", "5060"}, {"local", false},
                                 {"sticky", "10m"}},
                            Json{{"name", "all"}, {"policy", "default"}, {"sticky", nullptr}}});
  EXPECT_EQ(render_rules(rules),
            "#  RULE  POLICY   MATCH                                      STICKY\n"
            "1  voip  default  from 192.168.50.0/24 proto udp dport 5060  10m\n"
            "2  all   default  *                                          -\n");
}

TEST(Render, Event) {
  Json e{{"ts", "2026-11-26T10:00:00.000Z"}, {"link", "wan1"}, {"from", "up"}, {"to", "disabled"}, {"reason", "admin"}};
  EXPECT_EQ(render_event(e), "2026-11-26T10:00:00.000Z  wan1  up -> disabled  (admin)");
}

TEST(Render, PolicyEvent) {
  Json e = Json::parse(R"({"ts":"2026-11-26T10:00:00.123Z","policy":"default","active_before":["wan1","wan2"],)"
                       R"("active":["wan2"],"reason":"wan1 down"})");
  EXPECT_EQ(render_event(e), "2026-11-26T10:00:00.123Z  policy default  wan1,wan2 -> wan2  (wan1 down)");
}

TEST(Render, PolicyEventToAndFromLastResortShowsADash) {
  Json to = Json::parse(R"({"ts":"2026-11-26T10:00:01.000Z","policy":"default","active_before":["wan2"],)"
                        R"("active":[],"reason":"wan2 down; last_resort"})");
  EXPECT_EQ(render_event(to), "2026-11-26T10:00:01.000Z  policy default  wan2 -> -  (wan2 down; last_resort)");
  Json from = Json::parse(R"({"ts":"2026-11-26T10:00:02.000Z","policy":"backup","active_before":[],)"
                          R"("active":["cell1"],"reason":"cell1 up"})");
  EXPECT_EQ(render_event(from), "2026-11-26T10:00:02.000Z  policy backup  - -> cell1  (cell1 up)");
}

}  // namespace
}  // namespace uplink::cli
