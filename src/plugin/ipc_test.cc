#include "plugin/ipc.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace uplink::plugin::ipc {
namespace {

std::vector<std::pair<Type, std::string>> decode_all(const std::string& bytes, size_t chunk = 0) {
  FrameDecoder d;
  std::vector<std::pair<Type, std::string>> out;
  if (chunk == 0) chunk = bytes.size();
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    d.append(bytes.data() + i, std::min(chunk, bytes.size() - i));
    while (auto f = d.next()) out.emplace_back(f->type, std::string(f->payload));
    EXPECT_FALSE(d.failed()) << d.error();
  }
  return out;
}

TEST(PluginIpc, EveryTypeRoundTripsAcrossArbitraryChunking) {
  std::string s;
  encode_init(s, Init{"anomaly", R"({"threshold":0.5})", "alarm"});
  encode_ready(s, Ready{"anomaly", "1.2"});
  encode_fatal(s, Fatal{"abi", "built for version 2"});
  std::vector<Sample> samples{{"temp", 1.5, 20.25}, {"vib", 2.0, -3.0}};
  encode_samples(s, samples.data(), samples.size());
  encode_message(s, "alarm", "site/anomaly", std::string("\0bin\xff", 5));
  encode_ping(s, 42);
  encode_pong(s, 42);
  encode_connectivity(s, false);
  encode_load_model(s, LoadModel{7, "/models/a/current/model"});
  encode_model_result(s, ModelResult{7, -1, "corrupt"});
  encode_log(s, 3, "careful");
  encode_stats(s, Stats{1, 2, 3, 4});
  encode_shutdown(s);

  for (size_t chunk : {size_t(0), size_t(1), size_t(3), size_t(7)}) {
    auto frames = decode_all(s, chunk);
    ASSERT_EQ(frames.size(), 13u) << "chunk " << chunk;
    EXPECT_EQ(decode_init(frames[0].second)->config_json, R"({"threshold":0.5})");
    EXPECT_EQ(decode_init(frames[0].second)->default_class, "alarm");
    EXPECT_EQ(decode_ready(frames[1].second)->plugin_version, "1.2");
    EXPECT_EQ(decode_fatal(frames[2].second)->message, "built for version 2");
    EXPECT_EQ(*decode_samples(frames[3].second), samples);
    auto m = decode_message(frames[4].second);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->msg_class, "alarm");
    EXPECT_EQ(m->topic, "site/anomaly");
    EXPECT_EQ(m->payload, std::string_view("\0bin\xff", 5));
    EXPECT_EQ(frames[5].first, Type::ping);
    EXPECT_EQ(*decode_ping(frames[5].second), 42u);
    EXPECT_EQ(frames[6].first, Type::pong);
    EXPECT_FALSE(*decode_connectivity(frames[7].second));
    EXPECT_EQ(decode_load_model(frames[8].second)->path, "/models/a/current/model");
    EXPECT_EQ(decode_model_result(frames[9].second)->code, -1);
    EXPECT_EQ(decode_log(frames[10].second)->text, "careful");
    EXPECT_EQ(*decode_stats(frames[11].second), (Stats{1, 2, 3, 4}));
    EXPECT_EQ(frames[12].first, Type::shutdown);
  }
}

TEST(PluginIpc, DecoderRefusesZeroOversizedAndUnknownFrames) {
  {
    FrameDecoder d;
    const char zero[5] = {0, 0, 0, 0, 1};
    d.append(zero, 5);
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.failed());
  }
  {
    FrameDecoder d(1024);
    uint32_t len = 2000;
    char hdr[5];
    std::memcpy(hdr, &len, 4);
    hdr[4] = char(Type::samples);
    d.append(hdr, 5);  // refused from the header alone: no 2000 bytes buffered first
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.failed());
    EXPECT_NE(d.error().find("2000"), std::string::npos);
  }
  {
    FrameDecoder d;
    uint32_t len = 1;
    char f[5];
    std::memcpy(f, &len, 4);
    f[4] = char(99);
    d.append(f, 5);
    EXPECT_FALSE(d.next());
    EXPECT_EQ(d.error(), "unknown frame type 99");
    // Stays failed.
    std::string ok;
    encode_ping(ok, 1);
    d.append(ok.data(), ok.size());
    EXPECT_FALSE(d.next());
  }
}

TEST(PluginIpc, PayloadDecodersRefuseTruncationAndTrailingBytes) {
  std::string s;
  encode_message(s, "c", "t", "payload");
  std::string_view body = std::string_view(s).substr(kHeaderSize);
  for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(decode_message(body.substr(0, n))) << n;
  EXPECT_FALSE(decode_message(std::string(body) + "x"));
  EXPECT_FALSE(decode_ping("1234567"));
  EXPECT_FALSE(decode_connectivity("\x02"));
  EXPECT_FALSE(decode_log(std::string("\x09\0\0\0\0", 5)));  // level 9
  std::string empty_topic;
  encode_message(empty_topic, "", "", "x");
  EXPECT_FALSE(decode_message(std::string_view(empty_topic).substr(kHeaderSize)));

  std::string zero_samples;
  encode_samples(zero_samples, nullptr, 0);
  EXPECT_FALSE(decode_samples(std::string_view(zero_samples).substr(kHeaderSize)));
  // A count that promises more samples than the payload holds.
  std::string lying;
  Sample one{"a", 1, 2};
  encode_samples(lying, &one, 1);
  uint32_t many = 5;
  std::memcpy(lying.data() + kHeaderSize, &many, 4);
  EXPECT_FALSE(decode_samples(std::string_view(lying).substr(kHeaderSize)));
}

TEST(PluginIpc, RandomGarbageNeverCrashesTheDecoder) {
  std::mt19937 rng(7);
  size_t frames = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string junk(size_t(rng() % 64), '\0');
    for (auto& c : junk) c = char(rng());
    // Odd rounds: a well-formed header over random bytes, so that the payload
    // decoders below are fed garbage too (a random u32 length almost never
    // passes the frame decoder).
    if (round % 2 == 1 && junk.size() >= kHeaderSize) {
      uint32_t len = 1 + uint32_t(rng() % (junk.size() - kHeaderSize + 1));
      std::memcpy(junk.data(), &len, 4);
      junk[4] = char(1 + rng() % uint8_t(Type::shutdown));
    }
    FrameDecoder d(4096);
    d.append(junk.data(), junk.size());
    while (auto f = d.next()) {
      ++frames;
      // Whatever it accepts, the payload decoders must survive.
      (void)decode_init(f->payload);
      (void)decode_ready(f->payload);
      (void)decode_fatal(f->payload);
      (void)decode_samples(f->payload);
      (void)decode_message(f->payload);
      (void)decode_ping(f->payload);
      (void)decode_connectivity(f->payload);
      (void)decode_load_model(f->payload);
      (void)decode_model_result(f->payload);
      (void)decode_log(f->payload);
      (void)decode_stats(f->payload);
    }
  }
  EXPECT_GT(frames, 500u) << "the payload decoders were hardly fed";
}

}  // namespace
}  // namespace uplink::plugin::ipc
