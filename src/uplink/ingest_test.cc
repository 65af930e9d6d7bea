#include "uplink/ingest.h"

#include <gtest/gtest.h>

#include <boost/asio/write.hpp>

#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

TEST(IngestLine, ParsesAndRefusesWithAReason) {
  auto m = parse_ingest_line(R"({"class":"alarm","topic":"a/b","payload":{"v":1},"ttl":"10m"})", 1000);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->cls, "alarm");
  EXPECT_EQ(m->topic, "a/b");
  EXPECT_EQ(m->payload, R"({"v":1})");
  EXPECT_EQ(*m->ttl, 10min);
  m = parse_ingest_line(R"({"payload":"raw text"})", 1000);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->payload, "raw text");
  EXPECT_EQ(m->cls, "");

  auto err = [](std::string_view line, uint64_t max = 1000) {
    auto r = parse_ingest_line(line, max);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(err("{\"payload\": 1"), "not a JSON object: malformed JSON");
  EXPECT_EQ(err("[1,2]"), "not a JSON object");
  EXPECT_EQ(err(R"({"class":"a"})"), "\"payload\" is required");
  EXPECT_EQ(err(R"({"class":5,"payload":1})"), "\"class\" must be a string");
  EXPECT_EQ(err(R"({"topic":"a/#","payload":1})"), "\"topic\" must not contain wildcards (+ #)");
  EXPECT_EQ(err(R"({"payload":1,"ttl":"soon"})"), "\"ttl\": invalid duration 'soon'");
  EXPECT_EQ(err(R"({"payload":1,"qos":2})"), "unknown key \"qos\" (class, topic, payload, ttl)");
  EXPECT_EQ(err(R"({"payload":"0123456789"})", 5), "message of 10 bytes refused: over max_message (5 bytes)");
}

// A payload of nested brackets within the server's line limit (2 * max_message
// + 4 KiB) overflowed the stack in dump(): now refused before it is dumped.
TEST(IngestLine, DeeplyNestedPayloadIsRefusedNotACrash) {
  auto nested = [](size_t depth, char open, char close) {
    return "{\"payload\":" + std::string(depth, open) + std::string(depth, close) + "}";
  };
  const uint64_t max = 256 << 10;  // the default max_message
  auto m = parse_ingest_line(nested(200000, '[', ']'), max);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message, "\"payload\" nested deeper than 64 levels");
  m = parse_ingest_line(nested(kMaxPayloadDepth + 1, '[', ']'), max);
  EXPECT_FALSE(m.ok());
  m = parse_ingest_line(nested(kMaxPayloadDepth, '[', ']'), max);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->payload, std::string(kMaxPayloadDepth, '[') + std::string(kMaxPayloadDepth, ']'));
  std::string objects = R"({"payload":)";
  for (size_t i = 0; i < kMaxPayloadDepth + 1; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kMaxPayloadDepth + 1, '}') + "}";
  EXPECT_FALSE(parse_ingest_line(objects, max).ok());
  // A string payload is sent as is, whatever brackets it holds.
  EXPECT_TRUE(parse_ingest_line("{\"payload\":\"" + std::string(1000, '[') + "\"}", max).ok());
}

TEST(IngestFramer, SkipsAnOverlongLineAndStaysInStep) {
  IngestFramer f(8);
  f.feed("short\n0123456789abcdef");
  auto n = f.next();
  EXPECT_EQ(n.status, IngestFramer::Status::line);
  EXPECT_EQ(n.line, "short");
  EXPECT_EQ(f.next().status, IngestFramer::Status::too_long);
  f.feed("still the long one\nok\r\n\n");
  n = f.next();
  EXPECT_EQ(n.status, IngestFramer::Status::line);
  EXPECT_EQ(n.line, "ok");
  EXPECT_EQ(f.next().status, IngestFramer::Status::need_more);
}

class IngestSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QueueOptions o;
    o.dir = dir.sub("q");
    o.max_message = 100;
    o.classes = {{"alarm", 24h}, {"telemetry", 1h}};
    queue = std::make_unique<DurableQueue>(time, worker, results, o);
    queue->start();
    settle();
    server = std::make_unique<IngestServer>(io, *queue, IngestOptions{dir.sub("run/uplink.sock")});
    auto r = server->start();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void settle() {
    for (int i = 0; i < 50; ++i) {
      io.poll();
      io.restart();
      worker.run_all();
      io.poll();
      io.restart();
      time.advance(10ms);
    }
  }
  boost::asio::local::stream_protocol::socket client() {
    boost::asio::local::stream_protocol::socket s(io);
    s.connect(boost::asio::local::stream_protocol::endpoint(dir.sub("run/uplink.sock")));
    return s;
  }
  static std::string take(boost::asio::local::stream_protocol::socket& s) {
    std::string out;
    while (s.available()) {
      char buf[4096];
      size_t n = s.read_some(boost::asio::buffer(buf));
      out.append(buf, n);
    }
    return out;
  }

  testing::ScratchDir dir;
  FakeTimeSource time;
  boost::asio::io_context io;
  ManualExecutor worker;
  AsioExecutor results{io};
  std::unique_ptr<DurableQueue> queue;
  std::unique_ptr<IngestServer> server;
};

TEST_F(IngestSocketTest, RepliesInOrderAfterCommitAndABadLineHarmsNoOne) {
  auto a = client();
  auto b = client();
  boost::asio::write(a, boost::asio::buffer(std::string(
                            "{\"class\":\"alarm\",\"payload\":1}\n"
                            "garbage\n" +
                            std::string(5000, 'x') + "\n" +
                            "{\"class\":\"nope\",\"payload\":1}\n"
                            "{\"payload\":\"" + std::string(200, 'y') + "\"}\n"
                            "{\"class\":\"telemetry\",\"payload\":{\"t\":2}}\n")));
  boost::asio::write(b, boost::asio::buffer(std::string("{\"payload\":\"from b\"}\n")));
  settle();
  std::string ra = take(a), rb = take(b);
  EXPECT_EQ(ra,
            "{\"ok\":true,\"id\":1}\n"
            "{\"ok\":false,\"error\":\"not a JSON object: malformed JSON\"}\n"
            "{\"ok\":false,\"error\":\"line too long: message over max_message (100B)\"}\n"
            "{\"ok\":false,\"error\":\"unknown class 'nope' (classes: alarm, telemetry)\"}\n"
            "{\"ok\":false,\"error\":\"message of 200 bytes refused: over max_message (100 bytes)\"}\n"
            "{\"ok\":true,\"id\":2}\n");
  EXPECT_EQ(rb, "{\"ok\":true,\"id\":3}\n");
  EXPECT_EQ(queue->depth(), 3u);
  EXPECT_EQ(server->malformed(), 3u);  // the unknown class is the queue's refusal, not a malformed line
}

TEST_F(IngestSocketTest, NoReplyBeforeTheCommit) {
  auto a = client();
  boost::asio::write(a, boost::asio::buffer(std::string("{\"payload\":1}\n")));
  for (int i = 0; i < 5; ++i) {
    io.poll();
    io.restart();
  }
  EXPECT_EQ(take(a), "");  // queued, not durable yet
  settle();
  EXPECT_EQ(take(a), "{\"ok\":true,\"id\":1}\n");
}

TEST_F(IngestSocketTest, HalfClosedProducerStillGetsItsReplies) {
  auto a = client();
  boost::asio::write(a, boost::asio::buffer(std::string("{\"payload\":1}\n{\"payload\":2}\n")));
  a.shutdown(boost::asio::socket_base::shutdown_send);
  settle();
  EXPECT_EQ(take(a), "{\"ok\":true,\"id\":1}\n{\"ok\":true,\"id\":2}\n");
  EXPECT_EQ(server->connections(), 0u);
}

}  // namespace
}  // namespace uplink
