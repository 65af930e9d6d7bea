#include "common/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>

namespace uplink {
namespace {

// Runs the io_context until the child has exited (bounded by the child itself: `sh` exits at once).
std::string run_child(const SpawnSpec& spec) {
  boost::asio::io_context io;
  std::optional<ExitStatus> exit;
  std::string out;
  auto child = ChildProcess::spawn(
      io, spec, [&](const ExitStatus& s) { exit = s; }, [&](std::string_view l) { out += std::string(l) + "\n"; });
  EXPECT_TRUE(child) << child.error().message;
  if (!child) return "";
  while (!exit && io.run_one() > 0) {
  }
  io.poll();  // output lines still queued
  EXPECT_TRUE(exit && !exit->signaled && exit->code == 0) << out;
  return out;
}

// A descriptor that is not close-on-exec (asio opens its sockets so) must not
// reach a child: a child that outlives uplinkd would hold its control socket.
TEST(ChildProcess, OnlyTheMappedDescriptorsReachTheChild) {
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  int leaky[2] = {fcntl(pipefd[0], F_DUPFD, 50), fcntl(pipefd[1], F_DUPFD, 50)};  // no FD_CLOEXEC
  ASSERT_GE(leaky[0], 50);
  ASSERT_GE(leaky[1], 50);
  close(pipefd[0]);
  close(pipefd[1]);
  int mapped[2];
  ASSERT_EQ(pipe2(mapped, O_CLOEXEC), 0);
  SpawnSpec spec{"/bin/sh", {"-c", "cd /proc/self/fd && for f in *; do [ \"$f\" -gt 2 ] && echo \"open $f\"; done; true"},
                 std::nullopt, {{mapped[0], 3}}, true};
  std::string out = run_child(spec);
  EXPECT_NE(out.find("open 3\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("open " + std::to_string(leaky[0]) + "\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("open " + std::to_string(leaky[1]) + "\n"), std::string::npos) << out;
  for (int fd : {leaky[0], leaky[1], mapped[0], mapped[1]}) close(fd);
}

}  // namespace
}  // namespace uplink
