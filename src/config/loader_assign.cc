// Checks across links: automatic routing table ids and fwmarks, uniqueness.
#include "common/marks.h"
#include "config/loader_impl.h"

namespace uplink {

// Auto table ids: table_base + position in the file, moved up past ids that
// are taken (explicit ones, earlier auto ones) or reserved by the kernel.
void Loader::assign_tables(Config& c) {
  std::map<uint32_t, std::string> used;
  for (const auto& name : c.link_order) {
    const LinkConfig& l = c.links.at(name);
    if (l.table == 0) continue;
    if (auto [it, fresh] = used.emplace(l.table, name); !fresh) {
      report(*link_nodes_.at(name)->get("table"), "links." + name + ".table",
             "table " + std::to_string(l.table) + " is already used by link '" + it->second + "'");
    }
  }
  for (size_t i = 0; i < c.link_order.size(); ++i) {
    LinkConfig& l = c.links.at(c.link_order[i]);
    if (l.table != 0) continue;
    uint64_t id = uint64_t{c.daemon.table_base} + i;
    while (used.count(static_cast<uint32_t>(id)) || (id >= 253 && id <= 255)) ++id;
    if (id > 0xffffffffULL) {
      report(link_nodes_.at(l.name)->source(), "links." + l.name + ": no free routing table id");
      continue;
    }
    l.table = static_cast<uint32_t>(id);
    used.emplace(l.table, l.name);
  }
}

// Auto marks: fwmark_base + position * step, step = the mask's lowest bit,
// so every mark stays inside fwmark_mask and the rest of the 32 bits stay
// free for other software (firewalls, VPN clients).
void Loader::assign_fwmarks(Config& c) {
  // With a wrong [daemon] mask or base, that is the error; the links are not measured against it.
  if (!daemon_marks_ok_) return;
  const uint32_t mask = c.daemon.fwmark_mask, step = mask & (~mask + 1);
  // The mask was checked when [daemon] was read.
  const MarkLayout layout = *MarkLayout::from_mask(mask);
  std::map<uint32_t, std::string> used;
  for (const auto& name : c.link_order) {
    const LinkConfig& l = c.links.at(name);
    if (l.fwmark == 0) continue;
    const toml::node& n = *link_nodes_.at(name)->get("fwmark");
    const std::string where = "links." + name + ".fwmark";
    if ((l.fwmark & ~mask) != 0) {
      report(n, where, hex(l.fwmark) + " is outside daemon.fwmark_mask " + hex(mask));
      continue;
    }
    // The sticky bit and the last-resort marks are uplinkd's own (common/marks.h).
    if (auto why = layout.check_link_mark(l.fwmark)) {
      report(n, where, hex(l.fwmark) + " " + *why);
      continue;
    }
    if (auto [it, fresh] = used.emplace(l.fwmark, name); !fresh) {
      report(n, where, "fwmark " + hex(l.fwmark) + " is already used by link '" + it->second + "'");
    }
  }
  for (size_t i = 0; i < c.link_order.size(); ++i) {
    LinkConfig& l = c.links.at(c.link_order[i]);
    if (l.fwmark != 0) continue;
    uint64_t mark = uint64_t{c.daemon.fwmark_base} + uint64_t{step} * i;
    auto taken = [&](uint64_t m) {
      auto v = static_cast<uint32_t>(m);
      return used.count(v) || v == layout.unreachable || v == layout.blackhole;
    };
    while (mark <= 0xffffffffULL && taken(mark)) mark += step;
    if (mark > 0xffffffffULL || layout.check_link_mark(static_cast<uint32_t>(mark))) {
      report(link_nodes_.at(l.name)->source(),
             "links." + l.name + ": no free fwmark left inside daemon.fwmark_mask " + hex(mask) + " (too many links)");
      continue;
    }
    l.fwmark = static_cast<uint32_t>(mark);
    used.emplace(l.fwmark, l.name);
  }
}

}  // namespace uplink
