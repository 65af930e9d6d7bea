#pragma once
// One end of the emulated line: an interface that frames are read from and
// written to. The emulator only sees this seam; PacketSocket is the real one.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace uplink::linkemu {

class FramePort {
 public:
  virtual ~FramePort() = default;
  virtual const std::string& name() const = 0;
  // Readable when poll() says POLLIN.
  virtual int fd() const = 0;
  // One frame into buf; 0 when nothing is waiting. Frames the port sent itself are skipped.
  virtual Result<size_t> receive(uint8_t* buf, size_t cap) = 0;
  virtual Result<void> send(const uint8_t* frame, size_t len) = 0;
  // Bytes at the start of every frame that are metadata, not wire bytes.
  virtual size_t header_bytes() const = 0;
};

// AF_PACKET on one interface: bound by ifindex, promiscuous, own frames
// ignored (PACKET_IGNORE_OUTGOING plus a pkttype check), and with a virtio-net
// header so checksum-offload and GSO frames cross the line intact.
Result<std::unique_ptr<FramePort>> open_packet_socket(const std::string& ifname);

}  // namespace uplink::linkemu
