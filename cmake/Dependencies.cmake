# Every third-party library, found once for all modules. scripts/setup-deps.sh installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)                       # Boost.Asio (header-only)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(LIBNL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0 libnl-genl-3.0)
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)
pkg_check_modules(CONNTRACK REQUIRED IMPORTED_TARGET libnetfilter_conntrack)
pkg_check_modules(MMGLIB REQUIRED IMPORTED_TARGET mm-glib)
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)

# uplinkd carries no C++ shared library: spdlog and fmt are compiled in (below),
# toml++ is compiled once into uplink_config (src/config/toml_impl.cc), and
# uplinkd links libstdc++/libgcc statically (src/daemon/CMakeLists.txt). Only
# the code it uses is then mapped, which keeps its resident memory low
# (README "The numbers": RSS).
# spdlog and fmt are compiled once, into uplink_spdlog (src/common/spdlog_impl.cc),
# and linked statically: header-only they cost every logging file ~10 s of build.
add_library(uplink_spdlog STATIC ${PROJECT_SOURCE_DIR}/src/common/spdlog_impl.cc)
target_compile_definitions(uplink_spdlog PUBLIC SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
target_link_libraries(uplink_spdlog PUBLIC Threads::Threads)
add_library(uplink_tomlpp INTERFACE)
target_include_directories(uplink_tomlpp INTERFACE ${TOMLPP_INCLUDE_DIRS})
target_compile_definitions(uplink_tomlpp INTERFACE TOML_HEADER_ONLY=0)
