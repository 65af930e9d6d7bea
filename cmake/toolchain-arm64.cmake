# Cross-build for arm64 (aarch64) on a Debian 12 amd64 machine with Debian's
# cross toolchain (crossbuild-essential-arm64) and multiarch libraries
# (libfoo-dev:arm64): scripts/setup-deps.sh --arch arm64 installs them.
# Tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR): ctest prefixes
# every test command with it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: headers in /usr/include, libraries and CMake/pkg-config files in
# /usr/lib/aarch64-linux-gnu; never the amd64 ones in /usr/lib/x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# The arm64 loader and libraries are the multiarch ones (libc6:arm64), as linked.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
set(UPLINK_DEB_ARCH arm64 CACHE STRING "Debian architecture of the package")
