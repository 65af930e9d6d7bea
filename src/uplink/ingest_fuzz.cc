// libFuzzer entry point for the producers' socket (uplink.sock): the bytes a
// local producer sends, through the IngestFramer and parse_ingest_line, as
// the server does. Byte 0 picks the size of the chunks the stream arrives in;
// the rest is the stream, and also one line as the server's own limits allow
// (a libFuzzer input is small; long seeds test the real limits). Aborts (a
// bug) when:
//   - the lines differ from a plain split of the stream ('\n', one '\r'
//     before it dropped, blank lines skipped, one too_long per overlong line
//     and the stream in step after it), or depend on how it was chunked;
//   - an accepted message breaks the documented rules (size, topic without
//     wildcards, positive ttl) or, written back as a request line, does not
//     parse to an equal message;
//   - a reply line is not the JSON object the producer is promised.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/units.h"
#include "uplink/ingest.h"

namespace {

using uplink::IngestFramer;
using Json = nlohmann::json;

// Small, so the fuzzer reaches both limits (the server's framer allows
// 2 * max_message + 4 KiB).
constexpr uint64_t kMaxMessage = 512;
constexpr size_t kMaxLine = 1024;
constexpr uint64_t kServerMaxMessage = 256 << 10;  // the default

void check(bool ok) {
  if (!ok) std::abort();
}

// A line, or "" for one too_long.
std::vector<std::string> reference_framing(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    size_t len = nl == std::string_view::npos ? s.size() : nl;
    if (len > kMaxLine) {
      out.emplace_back();  // skipped up to its newline
    } else if (nl != std::string_view::npos) {
      std::string line(s.substr(0, nl));
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) out.push_back(std::move(line));
    }
    if (nl == std::string_view::npos) break;  // an unfinished line waits for more
    s.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string> frame_in_chunks(std::string_view s, size_t chunk) {
  IngestFramer framer(kMaxLine);
  std::vector<std::string> out;
  for (size_t at = 0; at < s.size(); at += chunk) {
    framer.feed(s.substr(at, chunk));
    for (;;) {
      auto next = framer.next();
      if (next.status == IngestFramer::Status::need_more) break;
      if (next.status == IngestFramer::Status::too_long) {
        out.emplace_back();
        continue;
      }
      check(!next.line.empty() && next.line.find('\n') == std::string::npos && next.line.size() <= kMaxLine);
      out.push_back(std::move(next.line));
    }
  }
  return out;
}

// The reply line a producer gets: one JSON object, "ok" first, then "id" or "error".
void check_reply(const uplink::Result<uint64_t>& r) {
  std::string line = uplink::ingest_reply(r);
  check(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1);
  auto j = nlohmann::ordered_json::parse(line, nullptr, false);
  check(j.is_object() && !j.empty() && j.begin().key() == "ok" && j["ok"] == r.ok());
  if (r.ok()) check(j.size() == 2 && j["id"] == *r);
  else check(j.size() == 2 && j["error"].is_string() && !j["error"].get<std::string>().empty());
}

void check_line(std::string_view line, uint64_t max_message) {
  auto m = uplink::parse_ingest_line(line, max_message);
  if (!m.ok()) {
    check(!m.error().message.empty());
    check_reply(m.error());
    return;
  }
  check(m->payload.size() + m->topic.size() <= max_message);
  check(m->topic.find_first_of(std::string_view("+#\0", 3)) == std::string::npos);
  check(!m->ttl || *m->ttl > uplink::Duration::zero());
  // Written back with the payload as the string it became, it parses equal.
  Json again{{"class", m->cls}, {"topic", m->topic}, {"payload", m->payload}};
  if (m->ttl) again["ttl"] = uplink::format_duration(*m->ttl);
  auto back = uplink::parse_ingest_line(again.dump(), max_message);
  check(back.ok() && back->cls == m->cls && back->topic == m->topic && back->payload == m->payload &&
        back->ttl == m->ttl);
  check_reply(uint64_t(line.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string> expected = reference_framing(stream);
  check(frame_in_chunks(stream, stream.size() + 1) == expected);
  check(frame_in_chunks(stream, chunk) == expected);
  for (const auto& line : expected) {
    if (!line.empty()) check_line(line, kMaxMessage);
  }
  if (stream.size() <= 2 * kServerMaxMessage + 4096) check_line(stream, kServerMaxMessage);
  return 0;
}
