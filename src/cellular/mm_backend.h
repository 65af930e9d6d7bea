#pragma once
// ModemBackend on ModemManager's own client library (libmm-glib), on a
// GlibLoop thread (common/glib_loop.h). Every libmm-glib object lives and
// is touched only on that thread; every call is asynchronous; replies and
// notifications are posted to `results` (the io_context). A ModemManager
// that hangs delays replies, never the control loop; one that leaves the
// bus (or a bus that goes away) is reported as service(false) and followed
// until it returns.
#include <memory>

#include "cellular/modem_backend.h"
#include "common/worker.h"

namespace uplink::cellular {

class MmBackend final : public ModemBackend {
 public:
  explicit MmBackend(Executor& results);
  ~MmBackend() override;

  void start(Listener& listener) override;
  void stop() override;
  void enable(const std::string& modem, Done done) override;
  void connect(const std::string& modem, const ConnectRequest& request, Connected done) override;
  void disconnect(const std::string& modem, Done done) override;
  void reset(const std::string& modem, Done done) override;
  void set_primary_slot(const std::string& modem, int slot, Done done) override;
  void send_pin(const std::string& modem, const std::string& pin, Done done) override;
  void setup_signal(const std::string& modem, int seconds, Done done) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace uplink::cellular
