#include "linkemu/command.h"

#include <gtest/gtest.h>

namespace uplink::linkemu {
namespace {

using namespace std::chrono_literals;

TEST(Command, ParsesSetWithDirection) {
  auto c = parse_command("set dir=a2b delay=50ms jitter=5ms loss=1.5 burst=4 rate=2000 queue=64kB blackhole=0");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->op, Command::Op::set);
  EXPECT_TRUE(c->a2b);
  EXPECT_FALSE(c->b2a);
  auto p = apply_settings(LinkParams{}, c->settings);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->delay, 50ms);
  EXPECT_EQ(p->jitter, 5ms);
  EXPECT_DOUBLE_EQ(p->loss_pct, 1.5);
  EXPECT_DOUBLE_EQ(p->burst, 4);
  EXPECT_EQ(p->rate_kbit, 2000u);
  EXPECT_EQ(p->queue_bytes, 64000u);
}

TEST(Command, SetOnlyChangesNamedKeys) {
  LinkParams base;
  base.delay = 30ms;
  base.loss_pct = 2;
  auto p = apply_settings(base, {{"jitter", "1ms"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->delay, 30ms);
  EXPECT_EQ(p->jitter, 1ms);
  EXPECT_DOUBLE_EQ(p->loss_pct, 2);
}

TEST(Command, RejectsBadInput) {
  for (const char* bad : {"", "sett", "set", "set delay=50", "set loss=101", "set loss=-1", "set rate=fast",
                          "set colour=blue", "set dir=up delay=1ms", "show delay=1ms", "set blackhole=yes",
                          "set delay"}) {
    auto c = parse_command(bad);
    EXPECT_FALSE(c.ok()) << "accepted: '" << bad << "'";
  }
  EXPECT_NE(parse_command("set colour=blue").error().message.find("colour"), std::string::npos);
}

TEST(Command, FormatRoundTrips) {
  LinkParams p;
  p.delay = 50ms;
  p.jitter = 5ms;
  p.loss_pct = 2.5;
  p.burst = 3;
  p.rate_kbit = 1000;
  p.queue_bytes = 30000;
  p.blackhole = true;
  auto c = parse_command("set " + format_params(p));
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto back = apply_settings(LinkParams{}, c->settings);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
}

TEST(Command, ClearFlushShow) {
  EXPECT_EQ(parse_command("clear")->op, Command::Op::clear);
  auto f = parse_command("flush dir=b2a");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->op, Command::Op::flush);
  EXPECT_FALSE(f->a2b);
  EXPECT_EQ(parse_command("show")->op, Command::Op::show);
}

}  // namespace
}  // namespace uplink::linkemu
