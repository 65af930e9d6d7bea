#include "plugin/inputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cmath>
#include <list>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace uplink::plugin {

namespace {
auto log() { return get_logger("plugin"); }
constexpr size_t kMaxLine = 64 * 1024;
}  // namespace

Result<ParsedSample> parse_sample_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.empty()) return make_error("empty line");
  if (line.size() > kMaxLine) return make_error("line too long");
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return make_error("not a JSON object");
  ParsedSample s;
  auto st = j.find("stream");
  if (st == j.end() || !st->is_string() || st->get_ref<const std::string&>().empty() ||
      st->get_ref<const std::string&>().size() > 1024)
    return make_error("\"stream\" must be a non-empty string");
  s.stream = st->get<std::string>();
  auto v = j.find("value");
  if (v == j.end() || !v->is_number()) return make_error("\"value\" must be a number");
  s.value = v->get<double>();
  if (!std::isfinite(s.value)) return make_error("\"value\" must be finite");
  auto ts = j.find("ts");
  if (ts != j.end() && !ts->is_null()) {
    if (!ts->is_number()) return make_error("\"ts\" must be a number (seconds since the epoch)");
    s.ts = ts->get<double>();
    s.has_ts = true;
  }
  return s;
}

void SampleInput::feed_line(std::string_view line) {
  if (line.empty() || line == "\r") return;
  ++lines_;
  auto s = parse_sample_line(line);
  if (!s) {
    if (++bad_lines_ <= 5 || bad_lines_ % 1000 == 0)
      log()->warn("input {}: bad line skipped ({}; {} so far)", name_, s.error().message, bad_lines_);
    return;
  }
  double ts = s->has_ts ? s->ts
                        : std::chrono::duration<double>(time_->wall_now().time_since_epoch()).count();
  fn_(s->stream, ts, s->value);
}

namespace {

class UdpInput final : public SampleInput {
 public:
  UdpInput(boost::asio::io_context& io, InputSpec spec) : sock_(io), spec_(std::move(spec)) {}
  ~UdpInput() override { *alive_ = false; }
  const InputSpec& spec() const override { return spec_; }
  Result<void> open() {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(spec_.host, ec);
    if (ec) return make_error("input " + spec_.original + ": " + ec.message());
    boost::asio::ip::udp::endpoint ep(addr, spec_.port);
    sock_.open(ep.protocol(), ec);
    if (!ec) sock_.set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) sock_.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ec);
    if (!ec) sock_.bind(ep, ec);
    if (ec) return make_error("input " + spec_.original + ": cannot bind: " + ec.message());
    read();
    return {};
  }

 private:
  void read() {
    sock_.async_receive(boost::asio::buffer(buf_), [this, alive = alive_](const boost::system::error_code& ec, size_t n) {
      if (!*alive || ec == boost::asio::error::operation_aborted) return;
      if (!ec) {
        std::string_view data(buf_.data(), n);
        size_t start = 0;
        while (start < data.size()) {
          size_t nl = data.find('\n', start);
          if (nl == std::string_view::npos) nl = data.size();
          feed_line(data.substr(start, nl - start));
          start = nl + 1;
        }
      }
      read();
    });
  }
  boost::asio::ip::udp::socket sock_;
  InputSpec spec_;
  std::array<char, 65536> buf_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class UnixInput final : public SampleInput {
 public:
  UnixInput(boost::asio::io_context& io, InputSpec spec) : io_(io), acceptor_(io), spec_(std::move(spec)) {}
  ~UnixInput() override {
    *alive_ = false;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& c : clients_) c->sock.close(ec);
    ::unlink(spec_.path.c_str());
  }
  const InputSpec& spec() const override { return spec_; }
  Result<void> open() {
    ::unlink(spec_.path.c_str());
    boost::system::error_code ec;
    boost::asio::local::stream_protocol::endpoint ep(spec_.path);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(16, ec);
    if (ec) return make_error("input " + spec_.original + ": cannot listen: " + ec.message());
    accept();
    return {};
  }

 private:
  struct Client {
    explicit Client(boost::asio::io_context& io) : sock(io) {}
    boost::asio::local::stream_protocol::socket sock;
    std::array<char, 16384> buf{};
    std::string partial;
  };
  void accept() {
    auto c = std::make_shared<Client>(io_);
    acceptor_.async_accept(c->sock, [this, c, alive = alive_](const boost::system::error_code& ec) {
      if (!*alive || ec == boost::asio::error::operation_aborted) return;
      if (!ec) {
        clients_.push_back(c);
        read(c);
      }
      accept();
    });
  }
  void read(std::shared_ptr<Client> c) {
    c->sock.async_read_some(boost::asio::buffer(c->buf), [this, c, alive = alive_](const boost::system::error_code& ec,
                                                                                  size_t n) {
      if (!*alive) return;
      if (ec) {
        if (!c->partial.empty()) feed_line(c->partial);
        clients_.remove(c);
        return;
      }
      c->partial.append(c->buf.data(), n);
      size_t start = 0, nl;
      while ((nl = c->partial.find('\n', start)) != std::string::npos) {
        feed_line(std::string_view(c->partial).substr(start, nl - start));
        start = nl + 1;
      }
      c->partial.erase(0, start);
      if (c->partial.size() > kMaxLine) {  // no newline in sight: drop it as one bad line
        ++lines_;
        ++bad_lines_;
        c->partial.clear();
      }
      read(c);
    });
  }
  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  InputSpec spec_;
  std::list<std::shared_ptr<Client>> clients_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

Result<std::unique_ptr<SampleInput>> SampleInput::open(boost::asio::io_context& io, TimeSource& time,
                                                       const InputSpec& spec, SampleFn fn) {
  std::unique_ptr<SampleInput> in;
  Result<void> r;
  if (spec.kind == InputSpec::Kind::udp) {
    auto u = std::make_unique<UdpInput>(io, spec);
    r = u->open();
    in = std::move(u);
  } else {
    auto u = std::make_unique<UnixInput>(io, spec);
    r = u->open();
    in = std::move(u);
  }
  if (!r) return r.error();
  in->fn_ = std::move(fn);
  in->time_ = &time;
  in->name_ = spec.original;
  return in;
}

}  // namespace uplink::plugin
