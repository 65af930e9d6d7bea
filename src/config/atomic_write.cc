#include "config/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uplink {

namespace {

std::string why(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno) + "; the file was not changed";
}

}  // namespace

Result<void> write_file_atomically(const std::string& path, const std::string& text) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = dir + "/." + base + ".tmp.XXXXXX";

  struct stat st {};
  bool existed = ::stat(path.c_str(), &st) == 0;
  if (!existed && errno != ENOENT) return make_error(why("cannot stat", path));

  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return make_error(why("cannot create a temporary file next to", path));
  auto abandon = [&](const std::string& what) {
    Error e = make_error(why(what, tmp));
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  mode_t mode = existed ? (st.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) return abandon("cannot set the mode of");
  // Only root can give a file away; for others the new file is theirs anyway.
  if (existed && ::geteuid() == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) return abandon("cannot set the owner of");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return abandon("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("cannot fsync");
  if (::close(fd) != 0) {
    Error e = make_error(why("cannot close", tmp));
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = make_error(why("cannot rename the temporary file onto", path));
    ::unlink(tmp.c_str());
    return e;
  }
  // Make the rename itself durable.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace uplink
