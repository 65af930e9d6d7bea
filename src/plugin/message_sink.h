#pragma once
// Where plugin messages go: the durable uplink (src/uplink, issue 13). The
// plugins module looks for a MessageSink in ctx.services; the uplink module
// (or main()) provides one that hands messages to its queue. Without one,
// messages are counted as dropped ("no_sink") and never block the plugin.
#include <string_view>

namespace uplink::plugin {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Takes one message from plugin `plugin`. `msg_class` is never empty (the
  // plugin's configured class is filled in; "" only when none is configured:
  // the uplink's least important class). Returns false when refused (queue
  // busy, unknown class, too large): the caller counts it as a drop.
  virtual bool submit(std::string_view plugin, std::string_view msg_class, std::string_view topic,
                      std::string_view payload) = 0;
};

}  // namespace uplink::plugin
