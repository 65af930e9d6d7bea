#include "uplink/uplink_module.h"
#include "common/strings.h"

#include <boost/asio/io_context.hpp>
#include <cstdio>

#include "common/log.h"
#include "common/units.h"
#include "config/section.h"
#include "uplink/tb_rpc.h"

namespace uplink {

namespace {

constexpr const char* kOwner = "uplink";
constexpr const char* kTbTelemetry = "v1/devices/me/telemetry";
constexpr const char* kTbAttributes = "v1/devices/me/attributes";

auto log() {
  static auto l = get_logger("uplink");
  return l;
}

std::string fmt_rate(double r) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f/s", r);
  return buf;
}

std::string fmt_age(const std::optional<Duration>& d) {
  if (!d) return "-";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}


}  // namespace

nlohmann::json event_json(const QueueEvent& e) {
  return nlohmann::json{{"ts", format_wall_time(e.ts)}, {"uplink", e.event}, {"detail", e.detail}, {"link", e.link}};
}

std::unique_ptr<Module> make_uplink_module(ModuleContext& ctx) { return std::make_unique<UplinkModule>(ctx); }

bool UplinkModule::QueueSink::submit(std::string_view /*plugin*/, std::string_view msg_class, std::string_view topic,
                                     std::string_view payload) {
  DurableQueue* q = m_.queue_.get();
  if (!q) return false;  // no [uplink] configured: the plugin host counts a drop
  std::string cls(msg_class);
  if (!cls.empty() && !q->has_class(cls)) return false;
  q->push(Message{cls, std::string(topic), std::string(payload), std::nullopt}, [](Result<uint64_t>) {});
  return true;
}

UplinkModule::UplinkModule(ModuleContext& ctx)
    : ctx_(ctx), io_(ctx.services.get<boost::asio::io_context>()), telemetry_timer_(ctx.time.make_timer()) {
  ctx_.services.provide<plugin::MessageSink>(sink_);
  ctx_.verbs.add(control::Verb{
      .name = "queue",
      .usage = "queue [--json]",
      .help = "store-and-forward: depth per class, oldest age, drops by cause, rates, broker",
      .changes_state = false,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request&) {
        nlohmann::json j = queue_json();
        j["text"] = queue_text();
        return control::Reply::success(j);
      }});
  ctx_.verbs.add(control::Verb{
      .name = "publish",
      .usage = "publish [--class C] [--topic T] [--ttl D] DATA",
      .help = "hand a message to the durable uplink",
      .changes_state = true,
      .fields = {},
      .owner = kOwner,
      .handler = [this](const control::Request& r) { return publish_verb(r); }});
  policy_sub_ = ctx_.bus.subscribe<PolicyEvent>([this](const PolicyEvent& e) {
    active_[e.policy] = e.active;
    if (cfg_ && e.policy == cfg_->policy) update_route();
  });
  link_sub_ = ctx_.bus.subscribe<LinkEvent>([this](const LinkEvent&) {
    if (cfg_ && cfg_->platform == Platform::thingsboard) send_telemetry();  // on change
  });
}

UplinkModule::~UplinkModule() {
  teardown();
  ctx_.bus.unsubscribe(policy_sub_);
  ctx_.bus.unsubscribe(link_sub_);
  ctx_.verbs.remove_owner(kOwner);
}

void UplinkModule::teardown() {
  telemetry_timer_->cancel();
  if (ingest_) ingest_->stop();
  ingest_.reset();
  dispatcher_.reset();
  if (session_) session_->stop();
  session_.reset();
  if (queue_) queue_->stop();
  queue_.reset();
  if (worker_) worker_->stop();  // runs the last commit, closes the store
  worker_.reset();
  results_.reset();
}

void UplinkModule::stop() {
  teardown();
  cfg_.reset();
}

Result<void> UplinkModule::apply(const Config& next, const ConfigDiff&) {
  const auto* u = next.section<UplinkConfig>("uplink");
  if (!u) {
    if (cfg_) log()->info("uplink: [uplink] removed: stopping the uplink");
    stop();
    return {};
  }
  const bool new_queue = !cfg_ || !cfg_->same_queue(*u) || !queue_;
  const bool new_session = new_queue || !cfg_->same_connection(*u) || !session_;
  const bool new_socket = !ingest_ || ingest_->path() != u->socket;

  // Prepare what can fail, touching nothing that runs: a new producers'
  // socket (bound now; it takes lines only once the queue is swapped in).
  if (!worker_) {
    worker_ = std::make_unique<WorkerThread>("uplink-store");
    results_ = std::make_unique<AsioExecutor>(io_);
  }
  auto queue = new_queue ? std::make_unique<DurableQueue>(ctx_.time, *worker_, *results_, u->queue_options()) : nullptr;
  std::unique_ptr<IngestServer> ingest;
  if (new_socket) {
    if (ingest_) ingest_->stop();  // the same path may be re-bound; a failure below leaves producers without it
    ingest = std::make_unique<IngestServer>(io_, queue ? *queue : *queue_, IngestOptions{u->socket});
    auto r = ingest->start();
    if (!r.ok()) {
      if (ingest_) (void)ingest_->start();  // back to the old socket
      return r.error();
    }
  }

  // Commit.
  std::map<std::string, uint32_t> marks;
  for (const auto& [name, l] : next.links) marks[name] = l.fwmark;
  marks_ = std::move(marks);
  if (new_session) {  // also on a new queue: the dispatcher is bound to both
    dispatcher_.reset();
    if (session_) session_->stop();
    session_.reset();
  }
  if (new_queue) {
    if (queue_) queue_->stop();
    queue_ = std::move(queue);
    queue_->on_alarm = [this](const std::string& text) { publish_event("store_alarm", text); };
    queue_->start();
  }
  if (new_socket) ingest_ = std::move(ingest);
  else ingest_->set_queue(*queue_);
  cfg_ = *u;
  ReplayOptions ro;
  ro.window = size_t(u->window);
  ro.backlog_window = std::max<size_t>(1, size_t(u->window) / 2);
  ro.replay_rate = u->replay_rate;
  if (new_session) {
    session_ = std::make_unique<MqttSession>(io_, ctx_.time, mqtt_options(*u));
  }
  if (!dispatcher_) {
    dispatcher_ = std::make_unique<Dispatcher>(ctx_.time, *queue_, *session_, ro);
    wire_session();
  } else {
    dispatcher_->set_options(ro);
  }
  // The route first, so that a new session's first attempt already leaves by the right link.
  update_route();
  if (new_session) session_->start(/*require_route=*/!u->policy.empty());
  telemetry_timer_->cancel();
  if (u->platform == Platform::thingsboard) {
    telemetry_timer_->arm(u->telemetry_interval, [this] { send_telemetry(); });
  }
  return {};
}

void UplinkModule::wire_session() {
  queue_->on_committed = [this](std::vector<StoredMessage>& m) {
    if (dispatcher_) dispatcher_->committed(m);
  };
  queue_->on_removed = [this](const std::vector<uint64_t>& ids) {
    if (dispatcher_) dispatcher_->removed(ids);
  };
  queue_->on_ready = [this] {
    if (dispatcher_) dispatcher_->store_ready();
  };
  session_->topic_for = [this](const StoredMessage& m) { return topic_for(m); };
  session_->on_connected = [this] {
    publish_event("broker_connected", "");
    if (cfg_ && cfg_->platform == Platform::thingsboard) {
      auto r = session_->subscribe(std::string(kTbRpcRequestPrefix) + "+");
      if (!r.ok()) log()->warn("uplink: cannot subscribe to RPC requests: {}", r.error().message);
    }
    if (dispatcher_) dispatcher_->connected();
  };
  session_->on_disconnected = [this](const std::string& reason) {
    if (dispatcher_) dispatcher_->disconnected();
    publish_event("broker_disconnected", reason);
  };
  session_->on_puback = [this](int token, PubackResult r) {
    if (dispatcher_) dispatcher_->puback(token, r);
  };
  session_->on_message = [this](const std::string& topic, const std::string& payload) { on_rpc(topic, payload); };
}

void UplinkModule::update_route() {
  if (!cfg_ || !session_) return;
  if (cfg_->policy.empty()) {
    session_->set_route("", 0);
    return;
  }
  auto it = active_.find(cfg_->policy);
  std::string link = it == active_.end() || it->second.empty() ? "" : it->second.front();
  uint32_t mark = 0;
  if (!link.empty()) {
    auto m = marks_.find(link);
    if (m != marks_.end()) mark = m->second;
  }
  session_->set_route(link, mark);
}

void UplinkModule::publish_event(const std::string& event, const std::string& detail) {
  ctx_.bus.publish(QueueEvent{ctx_.time.wall_now(), event, detail, session_ ? session_->link() : ""});
}

std::string UplinkModule::topic_for(const StoredMessage& m) const {
  if (!cfg_) return m.topic;
  if (cfg_->platform == Platform::thingsboard) {
    if (m.topic.empty() || m.topic == "telemetry") return kTbTelemetry;
    if (m.topic == "attributes") return kTbAttributes;
    return m.topic;
  }
  if (!m.topic.empty()) return m.topic;
  if (!cfg_->topic.empty()) return cfg_->topic;
  return "uplinkd/" + cfg_->client_id + "/" + (queue_ ? queue_->class_name(m.cls) : std::string("default"));
}

void UplinkModule::send_telemetry() {
  if (cfg_ && cfg_->platform == Platform::thingsboard)
    telemetry_timer_->arm(cfg_->telemetry_interval, [this] { send_telemetry(); });
  if (!queue_ || queue_->state() != DurableQueue::State::ready) return;
  nlohmann::json values;
  for (const auto& [name, e] : ctx_.links.all()) {
    values["link." + name + ".state"] = std::string(to_string(e.state));
    if (e.quality.latency_ms) values["link." + name + ".latency_ms"] = *e.quality.latency_ms;
    if (e.quality.loss_pct) values["link." + name + ".loss_pct"] = *e.quality.loss_pct;
    if (e.quality.jitter_ms) values["link." + name + ".jitter_ms"] = *e.quality.jitter_ms;
  }
  values["uplink.queue_depth"] = queue_->depth();
  nlohmann::json t{{"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                              ctx_.time.wall_now().time_since_epoch())
                              .count()},
                   {"values", values}};
  queue_->push(Message{queue_->default_class(), "", t.dump(), cfg_->telemetry_interval * 10}, nullptr);
}

void UplinkModule::on_rpc(const std::string& topic, const std::string& payload) {
  if (!cfg_ || cfg_->platform != Platform::thingsboard || !session_) return;
  auto id = tb_rpc_id(topic);
  if (!id) return;
  auto answer = [&](const nlohmann::json& j) {
    auto r = session_->publish_raw(std::string(kTbRpcResponsePrefix) + *id, j.dump());
    if (!r.ok()) log()->warn("uplink: RPC {} answer not sent: {}", *id, r.error().message);
  };
  auto req = parse_tb_rpc(topic, payload);
  if (!req.ok()) {
    ++rpc_refused_;
    answer({{"error", req.error().message}});
    return;
  }
  const std::string& method = req->method;
  const nlohmann::json& params = req->params;
  if (std::find(cfg_->rpc_methods.begin(), cfg_->rpc_methods.end(), method) == cfg_->rpc_methods.end()) {
    ++rpc_refused_;
    log()->warn("uplink: RPC '{}' refused: not in uplink.rpc_methods", method);
    answer({{"error", "method '" + method + "' not allowed"}});
    return;
  }
  if (method == "status") {
    nlohmann::json links = nlohmann::json::array();
    for (const auto& [name, e] : ctx_.links.all())
      links.push_back({{"name", name}, {"state", std::string(to_string(e.state))}, {"reason", e.reason}});
    ++rpc_answered_;
    answer({{"links", links}, {"uplink", queue_json()}});
    return;
  }
  if (method == "link_enable" || method == "link_disable") {
    std::string link = params.is_string() ? params.get<std::string>()
                       : params.is_object() && params.contains("link") && params["link"].is_string()
                           ? params["link"].get<std::string>()
                           : "";
    if (link.empty() || !ctx_.links.contains(link)) {
      ++rpc_refused_;
      answer({{"error", "unknown link '" + link + "'"}});
      return;
    }
    bool enable = method == "link_enable";
    log()->info("uplink: RPC {} {} from the platform", method, link);
    ctx_.links.set_enabled(link, enable);
    ++rpc_answered_;
    answer({{"ok", true}, {"link", link}, {"enabled", enable}});
    return;
  }
  ++rpc_refused_;
  answer({{"error", "method '" + method + "' is not available from the uplink module yet"}});
}

control::Reply UplinkModule::publish_verb(const control::Request& r) {
  if (!queue_) return control::Reply::failure("the uplink is not configured ([uplink] section)");
  std::vector<std::string> argv;
  if (r.args.contains("argv") && r.args["argv"].is_array())
    for (const auto& a : r.args["argv"])
      if (a.is_string()) argv.push_back(a.get<std::string>());
  Message m;
  std::optional<std::string> data;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--class" || a == "--topic" || a == "--ttl") {
      if (i + 1 >= argv.size()) return control::Reply::failure("usage: " + a + " needs a value");
      const std::string& v = argv[++i];
      if (a == "--class") m.cls = v;
      else if (a == "--topic") m.topic = v;
      else {
        auto d = parse_duration(v);
        if (!d.ok()) return control::Reply::failure("--ttl: " + d.error().message);
        m.ttl = *d;
      }
    } else if (!data) {
      data = a;
    } else {
      return control::Reply::failure("usage: publish [--class C] [--topic T] [--ttl D] DATA (one DATA)");
    }
  }
  if (!data) return control::Reply::failure("usage: publish [--class C] [--topic T] [--ttl D] DATA");
  if (*data == "-")
    return control::Reply::failure("publish -: reading stdin needs uplinkctl support; pipe JSON lines into " +
                                   cfg_->socket + " instead");
  m.payload = *data;
  std::string refused;
  std::string cls = m.cls.empty() ? queue_->default_class() : m.cls;
  uint64_t id = queue_->push(std::move(m), [&refused](Result<uint64_t> res) {
    if (!res.ok()) refused = res.error().message;
  });
  if (!refused.empty()) return control::Reply::failure(refused);
  // The control protocol answers at once: the message is queued and becomes
  // durable at the next commit (within commit_interval under sync=batch).
  nlohmann::json j{{"id", id}, {"class", cls}, {"sync", std::string(to_string(cfg_->sync))}};
  j["text"] = id ? "queued as message " + std::to_string(id) + " (" + std::string(to_string(cfg_->sync)) + " commit)\n"
                 : "queued (the store is opening)\n";
  return control::Reply::success(j);
}

nlohmann::json UplinkModule::queue_json() const {
  nlohmann::json j;
  if (!queue_ || !cfg_) {
    j["configured"] = false;
    return j;
  }
  j["configured"] = true;
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : queue_->classes()) {
    nlohmann::json cj{{"name", c.name}, {"depth", c.count}, {"bytes", c.bytes}};
    cj["oldest_age_s"] = c.oldest_age ? nlohmann::json(std::chrono::duration<double>(*c.oldest_age).count())
                                      : nlohmann::json(nullptr);
    classes.push_back(cj);
  }
  j["classes"] = classes;
  j["depth"] = queue_->depth();
  j["bytes"] = queue_->bytes();
  nlohmann::json drops;
  for (auto c : kDropCauses) drops[std::string(to_string(c))] = queue_->dropped(c);
  j["drops"] = drops;
  j["rate_in"] = queue_->rate_in();
  j["rate_out"] = queue_->rate_out();
  j["accepted"] = queue_->accepted();
  j["delivered"] = queue_->delivered();
  j["sync"] = std::string(to_string(cfg_->sync));
  j["store"] = {{"path", cfg_->queue_path},
                {"state", queue_->state() == DurableQueue::State::ready     ? "ready"
                          : queue_->state() == DurableQueue::State::opening ? "opening"
                                                                            : "failed"},
                {"error", queue_->state_error()},
                {"alarm", queue_->alarm()},
                {"disk_full", queue_->disk_full()}};
  nlohmann::json b{{"url", cfg_->broker.original}, {"platform", std::string(to_string(cfg_->platform))}};
  if (session_) {
    b["state"] = std::string(session_->state_name());
    b["link"] = session_->link();
    b["last_error"] = session_->last_error();
    b["connects"] = session_->connects();
    if (auto left = session_->backoff_left()) b["retry_in_s"] = std::chrono::duration<double>(*left).count();
  }
  if (dispatcher_) {
    b["inflight"] = dispatcher_->inflight();
    j["replay"] = {{"live_sent", dispatcher_->sent_live()},
                   {"backlog_sent", dispatcher_->sent_backlog()},
                   {"resent", dispatcher_->resent()}};
  }
  j["broker"] = b;
  return j;
}

std::string UplinkModule::queue_text() const {
  if (!queue_ || !cfg_) return "uplink: not configured\n";
  std::string out;
  std::string state = session_ ? std::string(session_->state_name()) : "-";
  out += "broker  " + cfg_->broker.original + "  " + state;
  if (session_ && !session_->link().empty()) out += "  via " + session_->link();
  if (session_ && !session_->last_error().empty() && !session_->connected()) out += "  (" + session_->last_error() + ")";
  out += "\n";
  char line[160];
  snprintf(line, sizeof line, "%-16s %10s %10s %8s\n", "CLASS", "DEPTH", "BYTES", "OLDEST");
  out += line;
  for (const auto& c : queue_->classes()) {
    snprintf(line, sizeof line, "%-16s %10llu %10s %8s\n", c.name.c_str(), (unsigned long long)c.count,
             format_size(c.bytes).c_str(), fmt_age(c.oldest_age).c_str());
    out += line;
  }
  out += "drops   ";
  for (auto c : kDropCauses) out += std::string(to_string(c)) + " " + std::to_string(queue_->dropped(c)) + "  ";
  out += "\nrates   in " + fmt_rate(queue_->rate_in()) + "  out " + fmt_rate(queue_->rate_out()) + "\n";
  if (!queue_->alarm().empty()) out += "alarm   " + queue_->alarm() + "\n";
  return out;
}

void UplinkModule::add_status(nlohmann::json& status) const {
  if (cfg_) status["uplink"] = queue_json();
}

void UplinkModule::add_metrics(std::string& text) const {
  if (!queue_ || !cfg_) return;
  auto classes = queue_->classes();
  text += "# HELP uplink_queue_depth Messages in the durable uplink queue, by class.\n# TYPE uplink_queue_depth gauge\n";
  for (const auto& c : classes)
    text += "uplink_queue_depth{class=\"" + prometheus_label(c.name) + "\"} " + std::to_string(c.count) + "\n";
  text += "# HELP uplink_queue_bytes Bytes accounted in the queue, by class.\n# TYPE uplink_queue_bytes gauge\n";
  for (const auto& c : classes)
    text += "uplink_queue_bytes{class=\"" + prometheus_label(c.name) + "\"} " + std::to_string(c.bytes) + "\n";
  text += "# HELP uplink_queue_oldest_age_seconds Age of the oldest queued message, by class.\n"
          "# TYPE uplink_queue_oldest_age_seconds gauge\n";
  for (const auto& c : classes)
    text += "uplink_queue_oldest_age_seconds{class=\"" + prometheus_label(c.name) + "\"} " +
            std::to_string(c.oldest_age ? std::chrono::duration<double>(*c.oldest_age).count() : 0.0) + "\n";
  text += "# HELP uplink_queue_dropped_total Messages dropped, by cause.\n# TYPE uplink_queue_dropped_total counter\n";
  for (auto c : kDropCauses)
    text += "uplink_queue_dropped_total{cause=\"" + std::string(to_string(c)) + "\"} " +
            std::to_string(queue_->dropped(c)) + "\n";
  text += "# HELP uplink_queue_accepted_total Messages made durable and acknowledged to their producer.\n"
          "# TYPE uplink_queue_accepted_total counter\nuplink_queue_accepted_total " +
          std::to_string(queue_->accepted()) + "\n";
  text += "# HELP uplink_queue_delivered_total Messages acknowledged by the broker (PUBACK).\n"
          "# TYPE uplink_queue_delivered_total counter\nuplink_queue_delivered_total " +
          std::to_string(queue_->delivered()) + "\n";
  text += "# HELP uplink_queue_commits_total Store commits.\n# TYPE uplink_queue_commits_total counter\n"
          "uplink_queue_commits_total " + std::to_string(queue_->commits()) + "\n";
  text += "# HELP uplink_broker_connected 1 while the broker connection is up.\n# TYPE uplink_broker_connected gauge\n"
          "uplink_broker_connected " + std::string(session_ && session_->connected() ? "1" : "0") + "\n";
  text += "# HELP uplink_broker_connects_total Successful broker connections.\n"
          "# TYPE uplink_broker_connects_total counter\nuplink_broker_connects_total " +
          std::to_string(session_ ? session_->connects() : 0) + "\n";
  text += "# HELP uplink_store_alarm 1 when the store raised an alarm (corrupt store moved aside, disk full).\n"
          "# TYPE uplink_store_alarm gauge\nuplink_store_alarm " + std::string(queue_->alarm().empty() ? "0" : "1") +
          "\n";
}

}  // namespace uplink
