/* A test plugin in plain C99 that misbehaves on request ([plugins.X.config]):
 *   "crash_after": N      raise SIGSEGV on the Nth sample
 *   "hang_after": N       block forever (sleeping) on the Nth sample
 *   "spin_after": N       spin the CPU forever on the Nth sample
 *   "spin_thread": 1      a second thread spins the CPU (heartbeats still answered)
 *   "leak_per_sample": B  malloc+touch B bytes per sample, never freed (abort on NULL)
 *   "fail_create": 1      create() refuses with a message
 *   "echo": 1             publish "echo/STREAM" for every sample (payload: the value)
 *   "slow_us": N          take N microseconds per sample (a slow but healthy plugin)
 * Models (load_model reads the file's first word):
 *   "ok"                  accepted; publishes "model/loaded" with the file's text
 *   "fail"                refused with a message (the previous model stays)
 *   "crash_ms N"          accepted, then the plugin crashes N ms later (in poll)
 * Connectivity changes are published as "connectivity" ("online"/"offline").
 * Variants built from this file: -DTEST_BAD_ABI (ABI version 99),
 * -DTEST_SMALL_TABLE (struct_size 8), -DTEST_NO_ENTRY (no exported entry). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uplink/plugin.h>

typedef struct state {
  const uplink_host *host;
  long crash_after, hang_after, spin_after, leak_per_sample, slow_us;
  int echo;
  long samples;
  int64_t crash_at_ns; /* 0: no crash scheduled */
  char model[256];
  pthread_t spinner;
  int spinning;
} state;

/* The number after "key": in a flat JSON object, or def. */
static long cfg_num(const char *json, const char *key, long def) {
  char pat[64];
  const char *p;
  snprintf(pat, sizeof pat, "\"%s\"", key);
  p = strstr(json, pat);
  if (!p) return def;
  p += strlen(pat);
  while (*p == ' ' || *p == ':') p++;
  if (*p == 't') return 1; /* true */
  if (*p == 'f') return 0; /* false */
  return strtol(p, NULL, 10);
}

static void *spin(void *arg) {
  volatile unsigned long x = 0;
  (void)arg;
  for (;;) x++;
  return NULL;
}

static void *create(const uplink_host *host, const char *config, char *err, size_t err_size) {
  state *s;
  if (cfg_num(config, "fail_create", 0)) {
    snprintf(err, err_size, "fail_create is set: refusing to start");
    return NULL;
  }
  s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->host = host;
  s->crash_after = cfg_num(config, "crash_after", 0);
  s->hang_after = cfg_num(config, "hang_after", 0);
  s->spin_after = cfg_num(config, "spin_after", 0);
  s->leak_per_sample = cfg_num(config, "leak_per_sample", 0);
  s->echo = (int)cfg_num(config, "echo", 0);
  s->slow_us = cfg_num(config, "slow_us", 0);
  if (cfg_num(config, "spin_thread", 0)) s->spinning = pthread_create(&s->spinner, NULL, spin, NULL) == 0;
  host->log(host, UPLINK_LOG_INFO, "misbehave plugin created");
  return s;
}

static void destroy(void *inst) { free(inst); }

static int on_samples(void *inst, const uplink_sample *samples, size_t count) {
  state *s = inst;
  size_t i;
  for (i = 0; i < count; i++) {
    s->samples++;
    if (s->crash_after && s->samples == s->crash_after) raise(SIGSEGV);
    if (s->hang_after && s->samples == s->hang_after)
      for (;;) sleep(1);
    if (s->spin_after && s->samples == s->spin_after) {
      volatile unsigned long x = 0;
      for (;;) x++;
    }
    if (s->slow_us > 0) {
      struct timespec ts;
      ts.tv_sec = s->slow_us / 1000000;
      ts.tv_nsec = (s->slow_us % 1000000) * 1000;
      nanosleep(&ts, NULL);
    }
    if (s->leak_per_sample > 0) {
      char *p = malloc((size_t)s->leak_per_sample);
      if (!p) abort();
      memset(p, 1, (size_t)s->leak_per_sample);
    }
    if (s->echo) {
      char topic[300], payload[64];
      int n = snprintf(payload, sizeof payload, "%.17g", samples[i].value);
      snprintf(topic, sizeof topic, "echo/%s", samples[i].stream);
      s->host->publish(s->host, NULL, topic, payload, (size_t)n);
    }
  }
  return UPLINK_OK;
}

static void on_connectivity(void *inst, int c) {
  state *s = inst;
  const char *t = c == UPLINK_ONLINE ? "online" : "offline";
  s->host->publish(s->host, "telemetry", "connectivity", t, strlen(t));
}

static int load_model(void *inst, const char *path, char *msg, size_t msg_size) {
  state *s = inst;
  char text[256] = {0};
  size_t n;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(msg, msg_size, "cannot open %s", path);
    return UPLINK_ERROR;
  }
  n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = '\0';
  if (strncmp(text, "fail", 4) == 0) {
    snprintf(msg, msg_size, "model %s is corrupt (test model says fail)", path);
    return UPLINK_ERROR;
  }
  if (strncmp(text, "crash_ms ", 9) == 0)
    s->crash_at_ns = s->host->monotonic_ns(s->host) + strtol(text + 9, NULL, 10) * 1000000L;
  else if (strncmp(text, "ok", 2) != 0) {
    snprintf(msg, msg_size, "unknown model format");
    return UPLINK_ERROR;
  }
  memcpy(s->model, text, sizeof s->model);
  s->model[sizeof s->model - 1] = '\0';
  s->host->publish(s->host, NULL, "model/loaded", text, n);
  snprintf(msg, msg_size, "loaded %s", path);
  return UPLINK_OK;
}

static void poll_fn(void *inst) {
  state *s = inst;
  if (s->crash_at_ns && s->host->monotonic_ns(s->host) >= s->crash_at_ns) raise(SIGSEGV);
}

static const uplink_plugin table = {
#ifdef TEST_BAD_ABI
    99u,
#else
    UPLINK_PLUGIN_ABI_VERSION,
#endif
#ifdef TEST_SMALL_TABLE
    8u,
#else
    (uint32_t)sizeof(uplink_plugin),
#endif
    "misbehave", "1.0", create, destroy, on_samples, on_connectivity, load_model, poll_fn};

#ifndef TEST_NO_ENTRY
UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry(void) { return &table; }
#else
UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry_misspelt(void);
UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry_misspelt(void) { return &table; }
#endif
