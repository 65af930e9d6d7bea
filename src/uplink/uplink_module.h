#pragma once
// UplinkModule ("uplink"): the durable uplink on the daemon's seams.
//
//   producers: uplink.sock (IngestServer), `uplinkctl publish`, telemetry ----> DurableQueue (worker thread: SQLite)
//                                                                                  |  on_committed / on_removed
//   bus PolicyEvent (uplink.policy's active link) --> MqttSession::set_route       v
//   MqttSession (libmosquitto on the io_context) <--publish-- Dispatcher (live first, backlog paced)
//        | CONNACK / loss / PUBACK                               ^
//        +-------------------------------------------------------+
//   QueueEvent on the bus: broker connected / disconnected, store alarm
//   verbs: queue [--json], publish [--class C] [--topic T] [--ttl D] DATA
//   status "uplink", metrics uplink_queue_* / uplink_broker_*
//   platform "thingsboard": telemetry/attributes topics of the device API,
//   server-side RPC (v1/devices/me/rpc/request/+) for the methods listed in
//   uplink.rpc_methods.
//
// Without an [uplink] section the module does nothing.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/worker.h"
#include "core/module.h"
#include "core/topics.h"
#include "uplink/ingest.h"
#include "uplink/mqtt_session.h"
#include "plugin/message_sink.h"
#include "uplink/queue.h"
#include "uplink/replay.h"
#include "uplink/uplink_config.h"

namespace uplink {

// On the bus and in `uplinkctl events`: {"ts","uplink","detail","link"}.
struct QueueEvent {
  static constexpr std::string_view kTopic = "uplink";
  static constexpr bool kStreamed = true;
  WallTime ts;
  std::string event;   // broker_connected | broker_disconnected | store_alarm
  std::string detail;  // the reason / the alarm text
  std::string link;    // the link carrying the connection ("" = not steered)
};
nlohmann::json event_json(const QueueEvent& e);

class UplinkModule final : public Module {
 public:
  explicit UplinkModule(ModuleContext& ctx);
  ~UplinkModule() override;
  UplinkModule(const UplinkModule&) = delete;
  UplinkModule& operator=(const UplinkModule&) = delete;

  std::string_view name() const override { return "uplink"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  void add_status(nlohmann::json& status) const override;
  void add_metrics(std::string& text) const override;

  // For tests and the verbs.
  nlohmann::json queue_json() const;
  std::string queue_text() const;
  const DurableQueue* queue() const { return queue_.get(); }
  const MqttSession* session() const { return session_.get(); }

 private:
  void teardown();
  void wire_session();
  void update_route();
  void publish_event(const std::string& event, const std::string& detail);
  std::string topic_for(const StoredMessage& m) const;
  void on_rpc(const std::string& topic, const std::string& payload);
  void send_telemetry();
  control::Reply publish_verb(const control::Request& r);

  // Plugins' messages into the queue (the plugins module finds it in ctx.services).
  class QueueSink final : public plugin::MessageSink {
   public:
    explicit QueueSink(UplinkModule& m) : m_(m) {}
    bool submit(std::string_view plugin, std::string_view msg_class, std::string_view topic,
                std::string_view payload) override;

   private:
    UplinkModule& m_;
  };

  ModuleContext& ctx_;
  boost::asio::io_context& io_;
  QueueSink sink_{*this};
  uint64_t policy_sub_ = 0, link_sub_ = 0;
  std::map<std::string, std::vector<std::string>> active_;  // policy -> active links (from PolicyEvent)

  std::optional<UplinkConfig> cfg_;
  std::map<std::string, uint32_t> marks_;                   // link -> fwmark, from the running config
  std::unique_ptr<WorkerThread> worker_;
  std::unique_ptr<AsioExecutor> results_;
  std::unique_ptr<DurableQueue> queue_;
  std::unique_ptr<MqttSession> session_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<IngestServer> ingest_;
  std::unique_ptr<Timer> telemetry_timer_;
  bool telemetry_due_ = false;
  uint64_t rpc_answered_ = 0, rpc_refused_ = 0;
};

// ModuleSpec pieces for src/daemon/modules.cc.
std::unique_ptr<Module> make_uplink_module(ModuleContext& ctx);

}  // namespace uplink
