#pragma once
// AsyncConntrackFlusher: conntrack flushes off the io_context thread.
//
// A flush of 10,000 entries costs the kernel 30-75 ms (README); done inline it
// would hold every timer, probe and control request that long. Here one
// worker thread owns its own Conntrack (for the real one: its own ctnetlink
// sockets) and works through a FlushQueue (repeated requests for the same
// link coalesced); each result is posted back to the io_context, where
// `done` runs. Routing never waits for a flush: it switches routing first and
// queues the flush.
//
//   io thread:  flush_mark_async(mark, mask, done) --> queue --> worker: Conntrack::flush_mark
//   io thread:  done(result)  <-- boost::asio::post(results executor) <--+
//
// stop() (also the destructor): requests not started are dropped (their
// `done` gets an error), the one running finishes, the thread is joined.
#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "net/conntrack.h"
#include "net/flush_queue.h"

namespace uplink {

class AsyncConntrackFlusher final : public Conntrack {
 public:
  // `worker` is used by the worker thread (and by flush_mark(), serialised
  // with it); `results` is where `done` callbacks run (the io_context).
  AsyncConntrackFlusher(std::unique_ptr<Conntrack> worker, boost::asio::any_io_executor results);
  // With its own NfConntrack (fails without CAP_NET_ADMIN).
  static Result<std::unique_ptr<AsyncConntrackFlusher>> open(boost::asio::any_io_executor results);
  ~AsyncConntrackFlusher() override;
  AsyncConntrackFlusher(const AsyncConntrackFlusher&) = delete;
  AsyncConntrackFlusher& operator=(const AsyncConntrackFlusher&) = delete;

  // Synchronous, on the caller's thread (waits for a flush in progress).
  Result<size_t> flush_mark(uint32_t mark, uint32_t mask) override;
  // Queued (coalesced); `done` runs on the results executor. After stop():
  // `done` is posted an error at once.
  void flush_mark_async(uint32_t mark, uint32_t mask, FlushDone done) override;
  void stop();

  // Requests queued and not started yet.
  size_t pending() const;

 private:
  void run();
  void post(std::vector<FlushDone> done, Result<size_t> result);

  std::unique_ptr<Conntrack> worker_;
  boost::asio::any_io_executor results_;
  mutable std::mutex mutex_;       // queue_, stopping_
  std::condition_variable wake_;
  FlushQueue queue_;
  bool stopping_ = false;
  std::mutex conntrack_mutex_;     // worker_: the thread and flush_mark() never use it at once
  std::thread thread_;
};

}  // namespace uplink
