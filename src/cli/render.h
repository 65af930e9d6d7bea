#pragma once
// Human-readable output of uplinkctl (tables). --json bypasses all of this and
// prints the daemon's JSON as is, so scripts never parse these tables.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace uplink::cli {

using Json = nlohmann::json;

// Left-aligned columns separated by two spaces; the header is upper case.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON scalar for a table cell: strings bare, numbers trimmed, null as "-".
std::string cell(const Json& v);

std::string render_status(const Json& status);
std::string render_links(const Json& links);
std::string render_link(const Json& link);
std::string render_policies(const Json& policies);
std::string render_rules(const Json& rules);
// One event line:
//   link:   "2026-11-26T10:00:00.000Z  wan1  up -> down  (probe_timeout)"
//   policy: "2026-11-26T10:00:00.000Z  policy default  wan1,wan2 -> wan2  (wan1 down)"
// (an empty active list, the policy's last resort, shows as "-").
std::string render_event(const Json& event);

}  // namespace uplink::cli
