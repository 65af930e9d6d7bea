#pragma once
// A worker-thread bridge: blocking work (fsync, SQLite commits, file I/O) off
// the io_context thread, results posted back onto it.
//
//   io thread:  worker.post(job) --> FIFO --> worker thread: job()
//                                                 |  results.post(done)
//   io thread:  done() <---- boost::asio::post <--+
//
// Executor is the seam: the daemon uses WorkerThread for the work and
// AsioExecutor for the results; unit tests use ManualExecutor for both and
// run each side by hand (deterministic, no sleeps, no threads).
// Jobs run one at a time in the order posted, so a component that owns a
// resource used only from its jobs (a database handle) needs no lock.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace uplink {

class Executor {
 public:
  virtual ~Executor() = default;
  // Queues `job`; it runs later on the executor's thread, in posting order.
  virtual void post(std::function<void()> job) = 0;
};

// Results onto an io_context (or any Asio executor).
class AsioExecutor final : public Executor {
 public:
  explicit AsioExecutor(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  explicit AsioExecutor(boost::asio::io_context& io) : ex_(io.get_executor()) {}
  void post(std::function<void()> job) override { boost::asio::post(ex_, std::move(job)); }

 private:
  boost::asio::any_io_executor ex_;
};

// One thread working through a FIFO of jobs. stop() (also the destructor)
// runs the jobs already queued, then joins: work handed over before stop
// (a last commit) is not lost. Jobs posted after stop() are dropped.
class WorkerThread final : public Executor {
 public:
  explicit WorkerThread(std::string name = "worker") : name_(std::move(name)), thread_([this] { run(); }) {}
  ~WorkerThread() override { stop(); }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  void post(std::function<void()> job) override {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
    wake_.notify_one();
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake_.notify_one();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

 private:
  void run() {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
#endif
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and everything queued has run
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

// For tests: jobs wait until run_all()/run_one() is called on the test's thread.
class ManualExecutor final : public Executor {
 public:
  void post(std::function<void()> job) override { jobs_.push_back(std::move(job)); }
  // Runs queued jobs, including those they post, until none is left; returns how many ran.
  size_t run_all() {
    size_t n = 0;
    while (run_one()) ++n;
    return n;
  }
  bool run_one() {
    if (jobs_.empty()) return false;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    job();
    return true;
  }
  size_t pending() const { return jobs_.size(); }

 private:
  std::deque<std::function<void()>> jobs_;
};

}  // namespace uplink
