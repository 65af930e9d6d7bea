#include "net/conntrack_flusher.h"

#include <boost/asio/post.hpp>
#include <cstdio>

namespace uplink {

namespace {

std::string describe(uint32_t mark, uint32_t mask) {
  char buf[48];
  snprintf(buf, sizeof buf, "0x%x/0x%x", mark, mask);
  return buf;
}

}  // namespace

AsyncConntrackFlusher::AsyncConntrackFlusher(std::unique_ptr<Conntrack> worker, boost::asio::any_io_executor results)
    : worker_(std::move(worker)), results_(std::move(results)), thread_([this] { run(); }) {}

Result<std::unique_ptr<AsyncConntrackFlusher>> AsyncConntrackFlusher::open(boost::asio::any_io_executor results) {
  auto ct = NfConntrack::open();
  if (!ct) return ct.error();
  return std::make_unique<AsyncConntrackFlusher>(std::move(*ct), std::move(results));
}

AsyncConntrackFlusher::~AsyncConntrackFlusher() { stop(); }

Result<size_t> AsyncConntrackFlusher::flush_mark(uint32_t mark, uint32_t mask) {
  std::lock_guard lock(conntrack_mutex_);
  return worker_->flush_mark(mark, mask);
}

void AsyncConntrackFlusher::flush_mark_async(uint32_t mark, uint32_t mask, FlushDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push(mark, mask, std::move(done));
      wake_.notify_one();
      return;
    }
  }
  post({std::move(done)}, make_error("conntrack flush of mark " + describe(mark, mask) +
                                     " not started: uplinkd is stopping (the flows time out by themselves)"));
}

void AsyncConntrackFlusher::stop() {
  std::vector<FlushRequest> dropped;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    dropped = queue_.take_all();
    wake_.notify_one();
  }
  for (auto& r : dropped)
    post(std::move(r.done), make_error("conntrack flush of mark " + describe(r.mark, r.mask) +
                                       " not started: uplinkd is stopping (the flows time out by themselves)"));
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t AsyncConntrackFlusher::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void AsyncConntrackFlusher::run() {
  for (;;) {
    std::optional<FlushRequest> next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = queue_.pop();
    }
    Result<size_t> result = [&] {
      std::lock_guard lock(conntrack_mutex_);
      return worker_->flush_mark(next->mark, next->mask);
    }();
    post(std::move(next->done), std::move(result));
  }
}

void AsyncConntrackFlusher::post(std::vector<FlushDone> done, Result<size_t> result) {
  boost::asio::post(results_, [done = std::move(done), result = std::move(result)] {
    for (const auto& d : done)
      if (d) d(result);
  });
}

}  // namespace uplink
