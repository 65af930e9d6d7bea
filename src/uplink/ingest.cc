#include "uplink/ingest.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/units.h"

namespace uplink {

namespace {

auto log() {
  static auto l = get_logger("uplink");
  return l;
}

using Json = nlohmann::json;

// Nesting depth of a value (a scalar is 0), without recursion and stopping
// past `limit`: dump() recurses once per level, and a line of brackets within
// the line limit (2 * max_message) overflowed the stack.
size_t depth_over(const Json& v, size_t limit) {
  std::vector<std::pair<const Json*, size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [j, depth] = todo.back();
    todo.pop_back();
    if (!j->is_structured()) continue;
    if (depth + 1 > limit) return depth + 1;
    for (const auto& child : *j) todo.emplace_back(&child, depth + 1);
  }
  return 0;
}

}  // namespace

Result<Message> parse_ingest_line(std::string_view line, uint64_t max_message) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("not a JSON object: malformed JSON");
  if (!j.is_object()) return make_error("not a JSON object");
  Message m;
  bool has_payload = false;
  for (auto& [key, value] : j.items()) {
    if (key == "class") {
      if (!value.is_string()) return make_error("\"class\" must be a string");
      m.cls = value.get<std::string>();
    } else if (key == "topic") {
      if (!value.is_string()) return make_error("\"topic\" must be a string");
      m.topic = value.get<std::string>();
      if (m.topic.find_first_of("+#") != std::string::npos || m.topic.find('\0') != std::string::npos)
        return make_error("\"topic\" must not contain wildcards (+ #)");
    } else if (key == "payload") {
      has_payload = true;
      if (depth_over(value, kMaxPayloadDepth) > kMaxPayloadDepth)
        return make_error("\"payload\" nested deeper than " + std::to_string(kMaxPayloadDepth) + " levels");
      m.payload = value.is_string() ? value.get<std::string>() : value.dump();
    } else if (key == "ttl") {
      if (!value.is_string()) return make_error("\"ttl\" must be a duration string (\"10m\")");
      auto d = parse_duration(value.get<std::string>());
      if (!d.ok() || *d <= Duration::zero()) return make_error("\"ttl\": invalid duration '" + value.get<std::string>() + "'");
      m.ttl = *d;
    } else {
      return make_error("unknown key \"" + key + "\" (class, topic, payload, ttl)");
    }
  }
  if (!has_payload) return make_error("\"payload\" is required");
  uint64_t size = m.payload.size() + m.topic.size();
  if (size > max_message) return too_large_error(size, max_message);
  return m;
}

std::string ingest_reply(const Result<uint64_t>& r) {
  nlohmann::ordered_json j;  // "ok" first, as documented
  j["ok"] = r.ok();
  if (r.ok()) j["id"] = *r;
  else j["error"] = r.error().message;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

IngestFramer::Next IngestFramer::next() {
  for (;;) {
    auto nl = buf_.find('\n');
    if (skipping_) {
      if (nl == std::string::npos) {
        buf_.clear();
        return {Status::need_more, {}};
      }
      buf_.erase(0, nl + 1);
      skipping_ = false;
      continue;
    }
    if (nl == std::string::npos) {
      if (buf_.size() > max_line_) {
        buf_.clear();
        skipping_ = true;
        return {Status::too_long, {}};
      }
      return {Status::need_more, {}};
    }
    if (nl > max_line_) {
      buf_.erase(0, nl + 1);
      return {Status::too_long, {}};
    }
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are ignored
    return {Status::line, std::move(line)};
  }
}

// One producer. Replies are owed in request order: each request takes a
// slot, filled when its answer is known (at once for a malformed line, after
// the commit for a message), and the filled prefix is written out.
class IngestServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(IngestServer& server, uint64_t id, boost::asio::local::stream_protocol::socket sock)
      : server_(server), id_(id), sock_(std::move(sock)),
        framer_(size_t(server.queue_->options().max_message) * 2 + 4096) {}

  void start() { read(); }
  void close() {
    boost::system::error_code ec;
    sock_.close(ec);
  }

 private:
  void read() {
    if (reading_ || read_closed_ || slots_.size() >= server_.opts_.max_pending) return;
    reading_ = true;
    sock_.async_read_some(boost::asio::buffer(buf_), [self = shared_from_this(), alive = server_.alive_](
                                                         const boost::system::error_code& ec, size_t n) {
      if (!*alive) return;
      self->reading_ = false;
      if (ec) {
        self->read_closed_ = true;
        self->maybe_finish();
        return;
      }
      self->framer_.feed(std::string_view(self->buf_.data(), n));
      self->drain();
      self->read();
    });
  }

  void drain() {
    for (;;) {
      auto next = framer_.next();
      if (next.status == IngestFramer::Status::need_more) return;
      ++server_.lines_;
      uint64_t seq = first_seq_ + slots_.size();
      slots_.emplace_back();
      if (next.status == IngestFramer::Status::too_long) {
        ++server_.malformed_;
        fill(seq, ingest_reply(make_error("line too long: message over max_message (" +
                                          format_size(server_.queue_->options().max_message) + ")")));
        continue;
      }
      auto msg = parse_ingest_line(next.line, server_.queue_->options().max_message);
      if (!msg.ok()) {
        ++server_.malformed_;
        fill(seq, ingest_reply(msg.error()));
        continue;
      }
      std::weak_ptr<Connection> weak = shared_from_this();
      server_.queue_->push(std::move(*msg), [weak, seq](Result<uint64_t> r) {
        if (auto self = weak.lock()) self->fill(seq, ingest_reply(r));
      });
    }
  }

  void fill(uint64_t seq, std::string reply) {
    if (seq < first_seq_ || seq >= first_seq_ + slots_.size()) return;
    slots_[seq - first_seq_] = std::move(reply);
    while (!slots_.empty() && slots_.front()) {
      out_ += *slots_.front();
      slots_.pop_front();
      ++first_seq_;
    }
    write();
    read();  // may have been paused for owing too many replies
  }

  void write() {
    if (writing_ || out_.empty()) {
      maybe_finish();
      return;
    }
    writing_ = true;
    sending_ = std::move(out_);
    out_.clear();
    boost::asio::async_write(sock_, boost::asio::buffer(sending_),
                             [self = shared_from_this(), alive = server_.alive_](const boost::system::error_code& ec,
                                                                                 size_t) {
                               if (!*alive) return;
                               self->writing_ = false;
                               if (ec) {
                                 self->finish();
                                 return;
                               }
                               self->write();
                             });
  }

  void maybe_finish() {
    // A producer may half-close after its last line: it still gets its replies.
    if (read_closed_ && slots_.empty() && out_.empty() && !writing_) finish();
  }
  void finish() {
    close();
    server_.conns_.erase(id_);  // may destroy *this: nothing after it
  }

  IngestServer& server_;
  uint64_t id_;
  boost::asio::local::stream_protocol::socket sock_;
  IngestFramer framer_;
  std::array<char, 65536> buf_{};
  std::deque<std::optional<std::string>> slots_;
  uint64_t first_seq_ = 0;
  std::string out_, sending_;
  bool reading_ = false, writing_ = false, read_closed_ = false;
};

IngestServer::IngestServer(boost::asio::io_context& io, DurableQueue& queue, IngestOptions options)
    : io_(io), queue_(&queue), opts_(std::move(options)), acceptor_(io) {}

IngestServer::~IngestServer() {
  stop();
  *alive_ = false;
}

Result<void> IngestServer::start() {
  namespace fs = std::filesystem;
  std::error_code fec;
  fs::path p(opts_.path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), fec);
  using boost::asio::local::stream_protocol;
  boost::system::error_code ec;
  if (fs::exists(p, fec)) {
    // Someone answering there is another uplinkd: refuse. Nobody: a stale file.
    stream_protocol::socket probe(io_);
    probe.connect(stream_protocol::endpoint(opts_.path), ec);
    if (!ec) return make_error("uplink socket " + opts_.path + ": another process answers on it");
    fs::remove(p, fec);
  }
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(opts_.path), ec);
  if (ec) return make_error("uplink socket " + opts_.path + ": cannot bind: " + ec.message());
  ::chmod(opts_.path.c_str(), 0660);
  acceptor_.listen(64, ec);
  if (ec) return make_error("uplink socket " + opts_.path + ": cannot listen: " + ec.message());
  running_ = true;
  accept();
  log()->info("uplink: producers' socket {}", opts_.path);
  return {};
}

void IngestServer::stop() {
  if (!running_) return;
  running_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& [id, c] : conns_) c->close();
  conns_.clear();
  std::error_code fec;
  std::filesystem::remove(opts_.path, fec);
}

void IngestServer::accept() {
  acceptor_.async_accept([this, alive = alive_](const boost::system::error_code& ec,
                                                boost::asio::local::stream_protocol::socket sock) {
    if (!*alive || !running_) return;
    if (!ec) {
      if (conns_.size() >= opts_.max_connections) {
        std::string line = ingest_reply(make_error("too many producers connected"));
        boost::system::error_code wec;
        boost::asio::write(sock, boost::asio::buffer(line), wec);
      } else {
        uint64_t id = next_id_++;
        auto c = std::make_shared<Connection>(*this, id, std::move(sock));
        conns_[id] = c;
        c->start();
      }
    }
    accept();
  });
}

}  // namespace uplink
