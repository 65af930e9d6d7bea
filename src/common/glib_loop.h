#pragma once
// The GLib bridge (ARCHITECTURE.md §4): libmm-glib runs its D-Bus proxies,
// signals and async calls on a GMainContext; uplinkd's logic runs on the
// io_context. A GlibLoop is one thread iterating its own GMainContext
//
//   io thread:    glib.post(job) ----> GLib thread: job() (libmm-glib calls, callbacks)
//                                          |  results.post(done)   (an AsioExecutor)
//   io thread:    done() <-----------------+
//
// so a ModemManager that hangs (a D-Bus call that never returns) blocks
// neither thread: every call is asynchronous on the GLib side, and the io
// side only ever receives posted results. Jobs run in posting order.
// GLib types stay out of this header (no glib.h in every includer).
#include <functional>
#include <memory>
#include <string>

#include "common/worker.h"

namespace uplink {

class GlibLoop final : public Executor {
 public:
  // default_context: iterate GLib's global default context instead of a new
  // one. Needed by libraries that attach sources from their own worker threads,
  // which land on the global default (GDBusObjectManagerClient's async init
  // subscribes its signals there: on a private context they would never fire).
  // One such loop per process.
  explicit GlibLoop(std::string name = "glib", bool default_context = false);
  ~GlibLoop() override;  // stop()
  GlibLoop(const GlibLoop&) = delete;
  GlibLoop& operator=(const GlibLoop&) = delete;

  // Runs `job` on the GLib thread, with the loop's context as the thread's
  // default (async calls started from it report back there). Dropped after stop().
  void post(std::function<void()> job) override;
  // Runs the jobs already posted, quits the loop, joins. Idempotent.
  void stop();
  // The loop's GMainContext (a GMainContext*), for code that attaches sources.
  void* context() const;
  bool on_loop_thread() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uplink
