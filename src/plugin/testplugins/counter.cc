// A well-behaved test plugin in C++ (the ABI from C++): counts samples,
// publishes a summary every `every` samples ([plugins.X.config] "every",
// default 0 = never), and on a sample of stream "burst" publishes `value`
// messages of 64 bytes (the benchmark's messages-out load).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <uplink/plugin.h>

namespace {

struct Counter {
  const uplink_host* host = nullptr;
  unsigned long long samples = 0;
  unsigned long long every = 0;
  bool online = true;
};

void* create(const uplink_host* host, const char* config, char*, size_t) {
  auto* c = new Counter;
  c->host = host;
  if (const char* p = std::strstr(config, "\"every\"")) {
    p = std::strchr(p, ':');
    if (p) c->every = std::strtoull(p + 1, nullptr, 10);
  }
  return c;
}

void destroy(void* inst) { delete static_cast<Counter*>(inst); }

int on_samples(void* inst, const uplink_sample* s, size_t n) {
  auto* c = static_cast<Counter*>(inst);
  for (size_t i = 0; i < n; ++i) {
    ++c->samples;
    if (std::strcmp(s[i].stream, "burst") == 0) {
      static const char payload[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
      for (long k = 0; k < long(s[i].value); ++k) c->host->publish(c->host, nullptr, "bench/burst", payload, 64);
    }
    if (c->every && c->samples % c->every == 0) {
      std::string body = "{\"samples\":" + std::to_string(c->samples) + ",\"online\":" + (c->online ? "true" : "false") + "}";
      c->host->publish(c->host, "telemetry", "counter/summary", body.data(), body.size());
    }
  }
  return UPLINK_OK;
}

void on_connectivity(void* inst, int state) { static_cast<Counter*>(inst)->online = state == UPLINK_ONLINE; }

const uplink_plugin kTable = {
    UPLINK_PLUGIN_ABI_VERSION, sizeof(uplink_plugin), "counter", "1.0", create, destroy, on_samples,
    on_connectivity, nullptr, nullptr,
};

}  // namespace

extern "C" UPLINK_PLUGIN_EXPORT const uplink_plugin* uplink_plugin_entry(void) { return &kTable; }
