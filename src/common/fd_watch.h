#pragma once
// Calls a handler from the io_context whenever a socket someone else owns
// (a libnl or libmnl netlink socket, a GLib or libmosquitto fd) is readable,
// until stop(). The handler drains the socket; the watch never reads, and
// never closes the fd.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>

namespace uplink {

class FdWatch {
 public:
  explicit FdWatch(boost::asio::io_context& io) : io_(io) {}
  ~FdWatch() { stop(); }
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  void start(int fd, std::function<void()> on_readable) {
    stop();
    on_readable_ = std::move(on_readable);
    fd_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
    wait();
  }
  void stop() {
    if (!fd_) return;
    fd_->cancel();
    fd_->release();  // the socket's owner closes it
    fd_.reset();
  }
  bool active() const { return fd_ != nullptr; }

 private:
  void wait() {
    fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled by stop()
      on_readable_();
      if (fd_) wait();  // the handler may have stopped the watch
    });
  }

  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
  std::function<void()> on_readable_;
};

}  // namespace uplink
