#pragma once
// Sample sources of a plugin (`inputs = [...]`): JSON lines
// {"stream": "temp1", "ts": 1764669600.25, "value": 21.5}, read on the
// io_context and handed on one by one. "ts" is optional (seconds since the
// epoch; the receive time when absent). A bad line is counted and skipped;
// it never closes the source.
//
//   udp://HOST:PORT    each datagram holds one or more lines
//   unix:///PATH       a listening stream socket; any number of writers
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "plugin/plugin_config.h"

namespace uplink::plugin {

struct ParsedSample {
  std::string stream;
  double ts = 0;
  double value = 0;
  bool has_ts = false;
};
// One line (without its newline). Pure; fuzzable.
Result<ParsedSample> parse_sample_line(std::string_view line);

class SampleInput {
 public:
  using SampleFn = std::function<void(std::string_view stream, double ts, double value)>;
  virtual ~SampleInput() = default;
  virtual const InputSpec& spec() const = 0;
  uint64_t lines() const { return lines_; }
  uint64_t bad_lines() const { return bad_lines_; }

  // Binds/listens now (an error names the input); samples flow from then on.
  static Result<std::unique_ptr<SampleInput>> open(boost::asio::io_context& io, TimeSource& time,
                                                   const InputSpec& spec, SampleFn fn);

 protected:
  // Parses the complete lines of `data` (a trailing partial line is the caller's).
  void feed_line(std::string_view line);
  SampleFn fn_;
  TimeSource* time_ = nullptr;
  uint64_t lines_ = 0, bad_lines_ = 0;
  std::string name_;
};

}  // namespace uplink::plugin
