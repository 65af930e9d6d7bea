# What `cmake --install` puts where, and the Debian package CPack makes of it
# (scripts/package.sh; packaging/README.md says why CPack and not debian/).
# Paths are relative to the prefix; the package installs under /usr.
include(GNUInstallDirs)

# `ninja package` / cpack must not build every test first: scripts/package.sh
# builds exactly the installed targets (or reuses a tested build tree).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(UPLINK_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# Programs: uplinkd (sbin), uplinkctl and the plugin host come from their own
# folders' install() rules; the anomaly command and plugin from here.
install(TARGETS uplink-anomaly RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET uplink_anomaly_plugin)
  install(TARGETS uplink_anomaly_plugin LIBRARY DESTINATION lib/uplinkd/plugins)
  install(FILES ${PROJECT_SOURCE_DIR}/plugins/anomaly/models/default.model
          DESTINATION ${CMAKE_INSTALL_DATADIR}/uplinkd/models RENAME anomaly-default.model)
endif()

# The configuration: the edge-router example, a conffile (packaging/debian/conffiles).
install(FILES ${PROJECT_SOURCE_DIR}/config/edge-router.toml DESTINATION /etc/uplinkd RENAME uplinkd.toml)
install(FILES ${PROJECT_SOURCE_DIR}/config/lab.toml ${PROJECT_SOURCE_DIR}/config/lab-aiot.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${UPLINK_PACKAGING_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME README.packaging.md)

# systemd: the unit, its users and groups, its directories.
install(FILES ${UPLINK_PACKAGING_DIR}/systemd/uplinkd.service DESTINATION lib/systemd/system)
install(FILES ${UPLINK_PACKAGING_DIR}/systemd/uplinkd.sysusers DESTINATION lib/sysusers.d RENAME uplinkd.conf)
install(FILES ${UPLINK_PACKAGING_DIR}/systemd/uplinkd.tmpfiles DESTINATION lib/tmpfiles.d RENAME uplinkd.conf)

# ---- the Debian package ------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME uplinkd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "uplinkd maintainers <maintainers@uplinkd.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-WAN connectivity and failover controller for edge routers")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "uplinkd probes every WAN (Ethernet, broadband, cellular through ModemManager,\n\
WireGuard tunnels), decides per link up, degraded or down in well under a\n\
second, and drives policy routing (netlink, nftables marks) to match. It\n\
hosts an edge-inference plugin and carries its messages upstream through a\n\
durable queue. uplinkctl is its command line.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # uplinkd_VERSION_ARCH.deb
# Library dependencies from the binaries themselves (dpkg-shlibdeps); what
# uplinkd runs or talks to (ModemManager, wireguard-go) is recommended.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "modemmanager, wireguard-go, wireguard-tools, nftables")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${UPLINK_PACKAGING_DIR}/debian/conffiles
    ${UPLINK_PACKAGING_DIR}/debian/postinst
    ${UPLINK_PACKAGING_DIR}/debian/prerm
    ${UPLINK_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
if(CMAKE_CROSSCOMPILING AND UPLINK_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${UPLINK_DEB_ARCH})
endif()
include(CPack)
