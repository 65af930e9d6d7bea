#include "plugin/model_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "plugin/encoded_bytes.h"

namespace fs = std::filesystem;

namespace uplink::plugin {

namespace {

constexpr uint64_t kMaxModelSize = 1ull << 30;

Result<std::string> read_file(const std::string& path, uint64_t max) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("cannot read " + path + ": " + strerror(errno));
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return make_error("cannot read " + path + ": " + ec.message());
  if (size > max) return make_error(path + " is " + std::to_string(size) + " bytes, above the limit of " + std::to_string(max));
  std::string s(size, '\0');
  f.read(s.data(), std::streamsize(size));
  if (!f) return make_error("cannot read " + path + ": short read");
  return s;
}

std::string to_hex(const unsigned char* p, size_t n) {
  std::string s(n * 2 + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

Result<void> write_file_synced(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot create " + path + ": " + strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      return make_error("cannot write " + path + ": " + strerror(e));
    }
    off += size_t(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return make_error("cannot sync " + path + ": " + strerror(e));
  }
  ::close(fd);
  return {};
}

void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// 64 bytes, raw or as hex or base64 text.
std::optional<std::string> decode_signature(const std::string& text) {
  std::string t = text;
  if (t.size() == crypto_sign_BYTES) return t;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return decode_hex_or_base64(t, crypto_sign_BYTES);
}

}  // namespace

Result<std::string> sha256_file(const std::string& path) {
  auto data = read_file(path, kMaxModelSize);
  if (!data) return data.error();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data->data()), data->size());
  return to_hex(h, sizeof h);
}

ModelStore::ModelStore(std::string dir, std::string public_key) : dir_(std::move(dir)), public_key_(std::move(public_key)) {
  if (sodium_init() < 0) public_key_.clear();  // cannot happen on a sane system; verify then refuses below
}

Result<ModelInfo> ModelStore::stage(const std::string& file, const std::optional<std::string>& signature_file,
                                    const std::string& installed_at) {
  if (sodium_init() < 0) return make_error("libsodium failed to initialise: cannot check models");
  auto data = read_file(file, kMaxModelSize);
  if (!data) return make_error("model not installed: " + data.error().message);
  if (data->empty()) return make_error("model not installed: " + file + " is empty");
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data->data()), data->size());
  ModelInfo info;
  info.sha256 = to_hex(h, sizeof h);
  info.version = info.sha256.substr(0, 16);
  info.size = data->size();
  info.installed_at = installed_at;
  info.source = fs::path(file).filename().string();

  if (!public_key_.empty()) {
    if (!signature_file)
      return make_error("model not installed: model_public_key is set, so a signature is required (--signature FILE)");
    auto sig_text = read_file(*signature_file, 4096);
    if (!sig_text) return make_error("model not installed: " + sig_text.error().message);
    auto sig = decode_signature(*sig_text);
    if (!sig) return make_error("model not installed: " + *signature_file + " is not an Ed25519 signature (64 bytes raw, hex or base64)");
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                    reinterpret_cast<const unsigned char*>(data->data()), data->size(),
                                    reinterpret_cast<const unsigned char*>(public_key_.data())) != 0)
      return make_error("model not installed: the signature of " + file + " does not verify with model_public_key");
    info.is_signed = true;
  }
  if (auto cur = current(); cur && cur->version == info.version)
    return make_error("model not installed: version " + info.version + " is already the current model");

  std::error_code ec;
  fs::create_directories(dir_ + "/versions", ec);
  if (ec) return make_error("model not installed: cannot create " + dir_ + "/versions: " + ec.message());
  std::string final_dir = dir_ + "/versions/" + info.version;
  std::string tmp_dir = dir_ + "/versions/." + info.version + ".tmp";
  fs::remove_all(tmp_dir, ec);
  fs::create_directory(tmp_dir, ec);
  if (ec) return make_error("model not installed: cannot create " + tmp_dir + ": " + ec.message());
  if (auto r = write_file_synced(tmp_dir + "/model", *data); !r) return make_error("model not installed: " + r.error().message);
  nlohmann::json meta = {{"version", info.version},       {"sha256", info.sha256},  {"size", info.size},
                         {"signed", info.is_signed},      {"installed_at", installed_at}, {"source", info.source}};
  if (auto r = write_file_synced(tmp_dir + "/meta.json", meta.dump() + "\n"); !r)
    return make_error("model not installed: " + r.error().message);
  ::chmod((tmp_dir + "/model").c_str(), 0444);
  sync_dir(tmp_dir);
  fs::remove_all(final_dir, ec);  // a previous stage of the same version (never the current one)
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) return make_error("model not installed: cannot move it into place: " + ec.message());
  sync_dir(dir_ + "/versions");
  info.path = final_dir + "/model";
  return info;
}

std::optional<ModelInfo> ModelStore::read_link(const char* name) const {
  std::error_code ec;
  fs::path link = fs::path(dir_) / name;
  if (!fs::is_symlink(link, ec)) return std::nullopt;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return std::nullopt;
  std::string vdir = (fs::path(dir_) / target).string();
  std::ifstream f(vdir + "/meta.json");
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  ModelInfo m;
  m.version = j.value("version", "");
  m.sha256 = j.value("sha256", "");
  m.size = j.value("size", uint64_t(0));
  m.is_signed = j.value("signed", false);
  m.installed_at = j.value("installed_at", "");
  m.source = j.value("source", "");
  m.path = vdir + "/model";
  if (m.version.empty() || !fs::exists(m.path, ec)) return std::nullopt;
  return m;
}

std::optional<ModelInfo> ModelStore::current() const { return read_link("current"); }
std::optional<ModelInfo> ModelStore::previous() const { return read_link("previous"); }

Result<void> ModelStore::set_link(const char* name, const std::optional<std::string>& version) {
  std::string link = dir_ + "/" + name;
  if (!version) {
    if (::unlink(link.c_str()) != 0 && errno != ENOENT)
      return make_error("cannot remove " + link + ": " + strerror(errno));
    sync_dir(dir_);
    return {};
  }
  std::string tmp = dir_ + "/." + name + ".tmp";
  ::unlink(tmp.c_str());
  if (::symlink(("versions/" + *version).c_str(), tmp.c_str()) != 0)
    return make_error("cannot create " + tmp + ": " + strerror(errno));
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot switch " + link + ": " + strerror(e));
  }
  sync_dir(dir_);
  return {};
}

Result<void> ModelStore::activate(const std::string& version) {
  std::error_code ec;
  if (!fs::exists(dir_ + "/versions/" + version + "/meta.json", ec))
    return make_error("model version " + version + " is not staged in " + dir_);
  auto cur = current();
  // previous first: a crash between the two renames leaves current intact.
  if (cur && cur->version != version) {
    if (auto r = set_link("previous", cur->version); !r) return r;
  }
  if (auto r = set_link("current", version); !r) return r;
  prune();
  return {};
}

Result<std::optional<ModelInfo>> ModelStore::rollback(bool allow_none) {
  auto prev = previous();
  if (!prev) {
    if (!allow_none) return make_error("no previous model to roll back to in " + dir_);
    if (auto r = set_link("current", std::nullopt); !r) return r.error();
    return std::optional<ModelInfo>{};
  }
  if (auto r = set_link("current", prev->version); !r) return r.error();
  if (auto r = set_link("previous", std::nullopt); !r) return r.error();
  return std::optional<ModelInfo>(prev);
}

void ModelStore::prune() {
  auto cur = current();
  auto prev = previous();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/versions", ec)) {
    std::string n = e.path().filename().string();
    if ((cur && n == cur->version) || (prev && n == prev->version) || n.front() == '.') continue;
    fs::remove_all(e.path(), ec);
  }
}

}  // namespace uplink::plugin
