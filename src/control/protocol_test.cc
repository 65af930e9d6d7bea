#include "control/protocol.h"

#include "control/verbs.h"

#include <gtest/gtest.h>

namespace uplink::control {
namespace {

using S = LineFramer::Status;

TEST(LineFramer, SplitsLinesAcrossChunks) {
  LineFramer f;
  f.feed("{\"cmd\":");
  EXPECT_EQ(f.next().status, S::need_more);
  EXPECT_TRUE(f.has_partial());
  f.feed("\"status\"}\n{\"cmd\":\"ping\"}\r\n");
  auto a = f.next();
  ASSERT_EQ(a.status, S::line);
  EXPECT_EQ(a.line, "{\"cmd\":\"status\"}");
  auto b = f.next();
  ASSERT_EQ(b.status, S::line);
  EXPECT_EQ(b.line, "{\"cmd\":\"ping\"}");  // '\r' dropped
  EXPECT_EQ(f.next().status, S::need_more);
  EXPECT_FALSE(f.has_partial());
}

TEST(LineFramer, SkipsBlankLines) {
  LineFramer f;
  f.feed("\n  \n\r\n{\"cmd\":\"ping\"}\n");
  auto a = f.next();
  ASSERT_EQ(a.status, S::line);
  EXPECT_EQ(a.line, "{\"cmd\":\"ping\"}");
}

TEST(LineFramer, OversizedWithoutNewlineIsRejectedBeforeItEnds) {
  LineFramer f(16);
  f.feed(std::string(16, 'x'));
  EXPECT_EQ(f.next().status, S::need_more);  // exactly at the limit: still acceptable
  f.feed("y");
  EXPECT_EQ(f.next().status, S::too_long);
  // Poisoned: even a later valid line is not accepted.
  f.feed("\n{\"cmd\":\"ping\"}\n");
  EXPECT_EQ(f.next().status, S::too_long);
}

TEST(LineFramer, OversizedCompleteLineIsRejected) {
  LineFramer f(8);
  f.feed("123456789\n");
  EXPECT_EQ(f.next().status, S::too_long);
}

TEST(LineFramer, LineAtLimitIsAccepted) {
  LineFramer f(8);
  f.feed("12345678\n");
  auto n = f.next();
  ASSERT_EQ(n.status, S::line);
  EXPECT_EQ(n.line, "12345678");
}

TEST(ParseRequest, ValidStatus) {
  auto r = parse_request(R"({"cmd":"status"})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->cmd, "status");
}

TEST(ParseRequest, ValidLinkSet) {
  auto r = parse_request(R"({"cmd":"link.set","name":"wan1","set":{"probe.interval":"500ms"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->str("name"), "wan1");
  EXPECT_EQ(r->args["set"]["probe.interval"], "500ms");
  EXPECT_FALSE(r->flag("follow"));
}

TEST(ParseRequest, Garbage) {
  auto r = parse_request("hello there");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: not valid JSON");
}

TEST(ParseRequest, TruncatedJson) {
  auto r = parse_request(R"({"cmd":"stat)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: not valid JSON");
}

TEST(ParseRequest, InvalidUtf8) {
  auto r = parse_request("{\"cmd\":\"st\xff\xfe\"}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: not valid JSON");
}

TEST(ParseRequest, NonObject) {
  for (const char* text : {"[1,2]", "\"status\"", "42", "null", "true"}) {
    auto r = parse_request(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message, "invalid request: expected a JSON object like {\"cmd\":\"status\"}") << text;
  }
}

TEST(ParseRequest, MissingCmd) {
  auto r = parse_request(R"({"name":"wan1"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: missing field \"cmd\"");
}

TEST(ParseRequest, CmdNotString) {
  auto r = parse_request(R"({"cmd":7})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: field \"cmd\" must be a string");
}

TEST(ParseRequest, UnknownCmd) {
  auto r = parse_request(R"({"cmd":"format-disk"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "unknown command 'format-disk'");
}

TEST(ParseRequest, MissingRequiredField) {
  auto r = parse_request(R"({"cmd":"link.show"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "link.show: missing field \"name\"");
}

TEST(ParseRequest, WrongFieldType) {
  auto r = parse_request(R"({"cmd":"link.set","name":"wan1","set":"probe.interval=1s"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "link.set: field \"set\" must be an object");
  auto e = parse_request(R"({"cmd":"events","follow":"yes"})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "events: field \"follow\" must be a boolean");
}

TEST(ParseRequest, EmptyName) {
  auto r = parse_request(R"({"cmd":"link.remove","name":""})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "link.remove: field \"name\" must not be empty");
}

TEST(ParseRequest, UnknownField) {
  auto r = parse_request(R"({"cmd":"status","verbose":true})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "status: unknown field \"verbose\"");
}

TEST(ParseRequest, OversizedLine) {
  std::string big = R"({"cmd":"status","x":")" + std::string(kMaxRequestBytes, 'a') + "\"}";
  auto r = parse_request(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "request too large: more than 65536 bytes");
}

TEST(ParseRequest, EveryCommandHasUniqueName) {
  const auto& specs = command_specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    for (size_t j = i + 1; j < specs.size(); ++j) EXPECT_NE(specs[i].name, specs[j].name);
  }
  EXPECT_NE(find_command("events"), nullptr);
  EXPECT_EQ(find_command("nope"), nullptr);
}

TEST(ParseRequest, EditsAndReloadChangeStateReadsDoNot) {
  for (const char* cmd : {"link.enable", "link.disable", "link.add", "link.set", "link.remove", "policy.add",
                          "policy.set", "policy.remove", "rule.add", "rule.set", "rule.remove", "reload"}) {
    ASSERT_NE(find_command(cmd), nullptr) << cmd;
    EXPECT_TRUE(find_command(cmd)->changes_state) << cmd;
  }
  for (const char* cmd : {"ping", "status", "links", "link.show", "policy.show", "rule.show", "config.show", "events",
                          "metrics", "verbs"}) {
    ASSERT_NE(find_command(cmd), nullptr) << cmd;
    EXPECT_FALSE(find_command(cmd)->changes_state) << cmd;
  }
  auto r = parse_request(R"({"cmd":"reload"})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changes_state);
  EXPECT_FALSE(parse_request(R"({"cmd":"status"})")->changes_state);
}

TEST(ParseRequest, AVerbsReadOnlyFormsDoNotChangeState) {
  VerbRegistry verbs;
  verbs.add(Verb{.name = "gadget",
                 .usage = "gadget NAME | gadget NAME restart",
                 .help = "h",
                 .changes_state = true,
                 .read_only_form = [](const Request& r) { return r.args["argv"].size() <= 1; },
                 .fields = {},
                 .owner = "t",
                 .handler = [](const Request&) { return Reply::success(Json::object()); }});
  verbs.add(Verb{.name = "gizmos", .usage = "gizmos", .help = "h", .changes_state = false, .fields = {}, .owner = "t",
                 .handler = [](const Request&) { return Reply::success(Json::object()); }});
  EXPECT_FALSE(parse_request(R"({"cmd":"gadget","argv":["g1"]})", &verbs)->changes_state);
  EXPECT_TRUE(parse_request(R"({"cmd":"gadget","argv":["g1","restart"]})", &verbs)->changes_state);
  EXPECT_FALSE(parse_request(R"({"cmd":"gizmos","argv":[]})", &verbs)->changes_state);
}

TEST(Encode, OkAndErrorAreSingleLines) {
  EXPECT_EQ(encode_ok(Json{{"a", 1}}), "{\"ok\":true,\"result\":{\"a\":1}}\n");
  EXPECT_EQ(encode_error("line\nbreak"), "{\"error\":\"line\\nbreak\",\"ok\":false}\n");
}

TEST(Encode, InvalidUtf8IsReplacedNotThrown) {
  std::string s = encode_error("bad \xff byte");
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(s.find('\n'), s.size() - 1);
  EXPECT_NE(s.find("bad"), std::string::npos);
}

TEST(DecodeResponse, RoundTrip) {
  auto ok = decode_response(encode_ok(Json{{"links", Json::array()}}));
  ASSERT_TRUE(ok);
  EXPECT_TRUE((*ok)["links"].is_array());
  auto err = decode_response(encode_error("no such link 'wan9'"));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message, "no such link 'wan9'");
  auto bad = decode_response("garbage");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "malformed response from uplinkd: not a JSON object");
}

}  // namespace
}  // namespace uplink::control

namespace uplink::control {
namespace {

// Deterministic fuzzing: mutations of valid requests must give a request or
// an error with a message, never a crash or an exception.
TEST(ParseRequestFuzz, MutationsNeverThrow) {
  const std::vector<std::string> seeds = {
      R"({"cmd":"status"})",
      R"({"cmd":"link.set","name":"wan1","set":{"probe.interval":"500ms"},"unset":["gateway"]})",
      R"({"cmd":"policy.add","name":"p","mode":"failover","members":[{"link":"wan1","tier":1}]})",
      R"({"cmd":"events","follow":true})",
  };
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rnd() % seeds.size()];
    int edits = 1 + static_cast<int>(rnd() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rnd() % s.size();
      switch (rnd() % 4) {
        case 0: s[pos] = static_cast<char>(rnd() & 0xff); break;
        case 1: s.erase(pos, 1 + rnd() % 8); break;
        case 2: s.insert(pos, 1, "{}[]\":,\\\x00\xff"[rnd() % 10]); break;
        case 3: s.resize(pos); break;
      }
    }
    Result<Request> r = Error{};
    ASSERT_NO_THROW(r = parse_request(s)) << s;
    if (r) {
      ++accepted;
      EXPECT_NE(find_command(r->cmd), nullptr);
    } else {
      EXPECT_FALSE(r.error().message.empty()) << s;
    }
    ASSERT_NO_THROW((void)encode_error(r ? "" : r.error().message));
  }
  EXPECT_GT(accepted, 0);  // some mutations stay valid: the generator is not trivially all-garbage
}

TEST(ParseRequestFuzz, DeepNestingIsAnErrorNotACrash) {
  std::string deep(kMaxRequestBytes / 2, '[');
  deep += std::string(kMaxRequestBytes / 2, ']');
  auto r = parse_request(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "invalid request: expected a JSON object like {\"cmd\":\"status\"}");
  std::string obj = "{\"cmd\":\"status\",\"x\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  auto o = parse_request(obj);
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message, "status: unknown field \"x\"");
}

}  // namespace
}  // namespace uplink::control
