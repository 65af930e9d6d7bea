/*
 * uplink/plugin.h -- the uplinkd plugin ABI (plain C: C99 and C++).
 *
 * A plugin is a shared library that exports ONE symbol:
 *
 *     UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry(void);
 *
 * It returns a pointer to a static `uplink_plugin` table that starts with
 * `abi_version` and `struct_size`. Each plugin runs alone in its own
 * `uplink-plugin-host` process, supervised by uplinkd: a crash, hang or leak
 * in a plugin costs a restart of that process, never routing.
 *
 *   uplinkd --(socketpair, framed)--> uplink-plugin-host --(this ABI)--> plugin
 *
 * Lifecycle (every call on ONE thread, the host's, never concurrently):
 *
 *   entry = uplink_plugin_entry()      host checks abi_version, struct_size,
 *                                      required functions; refuses with a clear
 *                                      error otherwise
 *   inst  = entry->create(host, config_json, err, err_size)
 *   entry->on_connectivity(inst, c)    the current state, right after create;
 *                                      then on every change (online/offline)
 *   [entry->load_model(inst, path,..)] the current model, if there is one,
 *                                      before the first sample
 *   entry->on_samples(inst, s, n) ...   samples in, in batches (at most 256 per
 *                                      call), in arrival order
 *   entry->load_model(inst, path,..)   a new model (install or rollback)
 *   entry->poll(inst)                  about every 100 ms (also while samples
 *                                      flow); time-driven work goes here
 *   entry->destroy(inst)               clean stop only (a killed host calls
 *                                      nothing)
 *
 * Hang detection: the host answers uplinkd's heartbeat only between calls
 * into the plugin (ahead of samples still queued). A call that does not
 * return within the configured `heartbeat_timeout` gets the process
 * SIGKILLed and restarted. Keep every call short; do heavy work in batches
 * across poll() calls.
 *
 * Messages out: call host->publish(host, class, topic, payload, size). It
 * copies the message into the host's bounded outgoing buffer (towards the
 * durable uplink queue) and returns at once.
 *
 * Threads: a plugin may start its own threads, but it must call the host's
 * functions only from the thread that calls into the plugin, while inside one
 * of the plugin's functions. A worker thread hands its results over, and
 * poll() publishes them.
 *
 * Strings passed in either direction are NUL-terminated UTF-8 and valid only
 * for the duration of the call: copy what you keep.
 *
 * Compatibility rules (what "ABI version" means):
 *   - New fields are only ever appended to the two structs below; their
 *     `struct_size` says which fields exist. Readers use a field only when
 *     struct_size covers it (UPLINK_HAS_FIELD).
 *   - UPLINK_PLUGIN_ABI_VERSION changes only when an existing field changes
 *     meaning or type; a host refuses a plugin built for another version.
 *   - A host refuses a plugin table smaller than UPLINK_PLUGIN_MIN_SIZE.
 *
 * Minimal plugin:
 *
 *   #include <uplink/plugin.h>
 *   static void *create(const uplink_host *h, const char *cfg, char *err, size_t n)
 *   { (void)cfg; (void)err; (void)n; return (void *)h; }
 *   static void destroy(void *inst) { (void)inst; }
 *   static int on_samples(void *inst, const uplink_sample *s, size_t n) {
 *     const uplink_host *h = inst; size_t i;
 *     for (i = 0; i < n; i++)
 *       if (s[i].value > 100.0)
 *         h->publish(h, NULL, "alarm/high", s[i].stream, strlen(s[i].stream));
 *     return UPLINK_OK;
 *   }
 *   static const uplink_plugin table = {
 *     UPLINK_PLUGIN_ABI_VERSION, sizeof(uplink_plugin), "example", "1.0",
 *     create, destroy, on_samples, NULL, NULL, NULL };
 *   UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry(void) { return &table; }
 */
#ifndef UPLINK_PLUGIN_H
#define UPLINK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPLINK_PLUGIN_ABI_VERSION 1u

/* The exported entry point's name, for dlsym(). */
#define UPLINK_PLUGIN_ENTRY_SYMBOL "uplink_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define UPLINK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define UPLINK_PLUGIN_EXPORT
#endif

/* Result codes: 0 is success, negative values are errors. */
typedef enum uplink_result {
  UPLINK_OK = 0,
  UPLINK_ERROR = -1,       /* generic failure (see the message, if any) */
  UPLINK_EINVAL = -2,      /* bad argument: NULL, empty topic, payload too large */
  UPLINK_EFULL = -3,       /* publish: the host's outgoing buffer is full; the
                              message was NOT taken (drop it, or retry in poll) */
  UPLINK_ENOTSUP = -4      /* the operation is not supported */
} uplink_result;

typedef enum uplink_log_level {
  UPLINK_LOG_TRACE = 0,
  UPLINK_LOG_DEBUG = 1,
  UPLINK_LOG_INFO = 2,
  UPLINK_LOG_WARN = 3,
  UPLINK_LOG_ERROR = 4
} uplink_log_level;

typedef enum uplink_connectivity {
  UPLINK_OFFLINE = 0,      /* no usable WAN: messages are queued durably by the
                              daemon; summarise more, publish less */
  UPLINK_ONLINE = 1
} uplink_connectivity;

/* Largest payload publish() accepts (bytes), and longest class/topic. */
#define UPLINK_MAX_PAYLOAD (256u * 1024u)
#define UPLINK_MAX_TOPIC 1024u

/* One sensor sample, as the daemon received it ({"stream","ts","value"}). */
typedef struct uplink_sample {
  const char *stream;      /* stream name, NUL-terminated, never NULL */
  double ts;               /* seconds since the Unix epoch as sent by the
                              source (fractions allowed); when the source gave
                              none, the daemon's receive time */
  double value;
} uplink_sample;

/* ------------------------------------------------------------------------
 * What the host gives the plugin (passed to create(); valid until destroy()).
 * Every function takes the table itself as its first argument.
 */
typedef struct uplink_host uplink_host;
struct uplink_host {
  uint32_t abi_version;    /* UPLINK_PLUGIN_ABI_VERSION of the host */
  uint32_t struct_size;    /* sizeof(uplink_host) of the host */

  /* The plugin's name in the daemon's configuration ([plugins.NAME]). */
  const char *plugin_name;

  /* Hands one message to the durable uplink. `msg_class` NULL or "" means
     the plugin's configured default class. `topic` is required (<=
     UPLINK_MAX_TOPIC bytes); the payload is opaque bytes (<=
     UPLINK_MAX_PAYLOAD). Returns UPLINK_OK when taken, UPLINK_EFULL when the
     host's buffer is full (not taken), UPLINK_EINVAL on bad arguments. */
  int (*publish)(const uplink_host *host, const char *msg_class, const char *topic,
                 const void *payload, size_t payload_size);

  /* A log line into the daemon's log, tagged with the plugin's name. */
  void (*log)(const uplink_host *host, int level, const char *message);

  /* The host clock. Use these rather than the system's so tests can fake
     time. Monotonic: nanoseconds from an arbitrary origin, never goes back.
     Wall: nanoseconds since the Unix epoch (may jump). */
  int64_t (*monotonic_ns)(const uplink_host *host);
  int64_t (*wall_ns)(const uplink_host *host);

  /* For the host's own use; plugins leave it alone. */
  void *host_data;
};

/* ------------------------------------------------------------------------
 * What the plugin gives the host (returned by uplink_plugin_entry()).
 */
typedef struct uplink_plugin uplink_plugin;
struct uplink_plugin {
  uint32_t abi_version;    /* must be UPLINK_PLUGIN_ABI_VERSION */
  uint32_t struct_size;    /* sizeof(uplink_plugin) as the plugin was built */

  const char *name;        /* informative, e.g. "anomaly"; may be NULL */
  const char *version;     /* informative, e.g. "1.2.0"; may be NULL */

  /* REQUIRED. Creates an instance. `config_json` is the [plugins.NAME.config]
     table as a JSON object ("{}" when there is none). Returns the instance
     (any non-NULL pointer), or NULL with a message in err[0..err_size) (the
     host restarts it with backoff and shows the message). */
  void *(*create)(const uplink_host *host, const char *config_json, char *err, size_t err_size);

  /* REQUIRED. Releases the instance. No host function may be called after. */
  void (*destroy)(void *instance);

  /* REQUIRED. A batch of count >= 1 samples, in arrival order. Returns
     UPLINK_OK; an error is counted and logged, the samples are not resent. */
  int (*on_samples)(void *instance, const uplink_sample *samples, size_t count);

  /* Optional (NULL: not interested). The uplink went online or offline. */
  void (*on_connectivity)(void *instance, int connectivity /* uplink_connectivity */);

  /* Optional (NULL: the plugin takes no model; installing one fails).
     Loads the model file at `path` and switches to it. Returns UPLINK_OK
     once the new model is in use; any other result means the plugin keeps
     its previous model (if any), and the daemon rolls the install back.
     A human message (either way) goes to msg[0..msg_size). */
  int (*load_model)(void *instance, const char *path, char *msg, size_t msg_size);

  /* Optional. Called about every 100 ms, between other calls. */
  void (*poll)(void *instance);
};

/* The size of the first ABI-1 table: anything smaller is refused. */
#define UPLINK_PLUGIN_MIN_SIZE (offsetof(uplink_plugin, poll) + sizeof(void (*)(void *)))

/* True when a table of `size` bytes contains `field` of `type`. */
#define UPLINK_HAS_FIELD(type, size, field) \
  ((size_t)(size) >= offsetof(type, field) + sizeof(((type *)0)->field))

/* The one exported symbol. */
typedef const uplink_plugin *(*uplink_plugin_entry_fn)(void);
UPLINK_PLUGIN_EXPORT const uplink_plugin *uplink_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* UPLINK_PLUGIN_H */
