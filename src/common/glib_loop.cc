#include "common/glib_loop.h"

#include <glib.h>

#include <atomic>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace uplink {

struct GlibLoop::Impl {
  GMainContext* context = nullptr;
  GMainLoop* loop = nullptr;
  std::thread thread;
  std::mutex mutex;  // guards stopped against post() from other threads
  bool stopped = false;
};

GlibLoop::GlibLoop(std::string name, bool default_context) : impl_(std::make_unique<Impl>()) {
  impl_->context = default_context ? g_main_context_ref(g_main_context_default()) : g_main_context_new();
  impl_->loop = g_main_loop_new(impl_->context, FALSE);
  impl_->thread = std::thread([ctx = impl_->context, loop = impl_->loop, name = std::move(name)] {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
#endif
    g_main_context_push_thread_default(ctx);
    g_main_loop_run(loop);
    // Sources still attached (cancelled calls finishing) get their last say.
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(ctx);
  });
}

GlibLoop::~GlibLoop() {
  stop();
  g_main_loop_unref(impl_->loop);
  g_main_context_unref(impl_->context);
}

namespace {
gboolean run_job(gpointer data) {
  (*static_cast<std::function<void()>*>(data))();
  return G_SOURCE_REMOVE;
}
void free_job(gpointer data) { delete static_cast<std::function<void()>*>(data); }
}  // namespace

void GlibLoop::post(std::function<void()> job) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) return;
  // An idle source keeps posting order (invoke_full would run a job at once
  // when called on the loop thread, ahead of jobs already queued).
  GSource* s = g_idle_source_new();
  g_source_set_priority(s, G_PRIORITY_DEFAULT);
  g_source_set_callback(s, run_job, new std::function<void()>(std::move(job)), free_job);
  g_source_attach(s, impl_->context);
  g_source_unref(s);
}

void GlibLoop::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    // Queued behind the jobs already posted: they run first.
    GSource* s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(
        s, [](gpointer loop) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop*>(loop));
          return G_SOURCE_REMOVE;
        },
        impl_->loop, nullptr);
    g_source_attach(s, impl_->context);
    g_source_unref(s);
  }
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) impl_->thread.join();
}

void* GlibLoop::context() const { return impl_->context; }

bool GlibLoop::on_loop_thread() const { return std::this_thread::get_id() == impl_->thread.get_id(); }

}  // namespace uplink
