#include "net/nft_monitor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <optional>
#include <vector>

namespace uplink {
namespace {

// nftables event messages as the kernel sends them to NFNLGRP_NFTABLES.
class Events {
 public:
  Events() : buf_(8192) {}
  Events& object(uint16_t type, uint8_t family, const char* table) {
    nlmsghdr* h = put(type, family);
    mnl_attr_put_strz(h, 1, table);  // NFTA_*_TABLE / NFTA_TABLE_NAME
    return seal(h);
  }
  Events& newgen(std::optional<uint32_t> pid) {
    nlmsghdr* h = put(NFT_MSG_NEWGEN, AF_UNSPEC);
    mnl_attr_put_u32(h, NFTA_GEN_ID, htonl(7));
    if (pid) mnl_attr_put_u32(h, NFTA_GEN_PROC_PID, htonl(*pid));
    mnl_attr_put_strz(h, NFTA_GEN_PROC_NAME, "nft");
    return seal(h);
  }
  const void* data() const { return buf_.data(); }
  size_t size() const { return used_; }

 private:
  nlmsghdr* put(uint16_t type, uint8_t family) {
    nlmsghdr* h = mnl_nlmsg_put_header(buf_.data() + used_);
    h->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    return h;
  }
  Events& seal(nlmsghdr* h) {
    used_ += MNL_ALIGN(h->nlmsg_len);
    return *this;
  }
  std::vector<char> buf_;
  size_t used_ = 0;
};

constexpr uint32_t kOwn = 4242;

NftEventFilter filter() { return NftEventFilter("uplinkd", NFPROTO_INET, kOwn); }

TEST(NftEventFilter, AnotherProcessEditingOurTableIsReported) {
  Events e;
  e.object(NFT_MSG_DELRULE, NFPROTO_INET, "uplinkd").newgen(999);
  auto f = filter();
  EXPECT_TRUE(f.foreign_change(e.data(), e.size()));
}

TEST(NftEventFilter, OurOwnTransactionIsNot) {
  Events e;
  e.object(NFT_MSG_NEWTABLE, NFPROTO_INET, "uplinkd").object(NFT_MSG_NEWCHAIN, NFPROTO_INET, "uplinkd")
      .newgen(kOwn);
  auto f = filter();
  EXPECT_FALSE(f.foreign_change(e.data(), e.size()));
}

TEST(NftEventFilter, OtherTablesAndFamiliesAreNotOurs) {
  Events e;
  e.object(NFT_MSG_NEWRULE, NFPROTO_INET, "firewalld")
      .object(NFT_MSG_DELTABLE, NFPROTO_IPV4, "uplinkd")  // `table ip uplinkd`: someone else's
      .newgen(999);
  auto f = filter();
  EXPECT_FALSE(f.foreign_change(e.data(), e.size()));
}

TEST(NftEventFilter, ATransactionSplitAcrossReadsIsStillSeen) {
  Events first, second;
  first.object(NFT_MSG_DELTABLE, NFPROTO_INET, "uplinkd");
  second.newgen(999);
  auto f = filter();
  EXPECT_FALSE(f.foreign_change(first.data(), first.size()));
  EXPECT_TRUE(f.foreign_change(second.data(), second.size()));
  // The next transaction starts clean.
  EXPECT_FALSE(f.foreign_change(second.data(), second.size()));
}

TEST(NftEventFilter, ACommitterTheKernelDoesNotNameCountsAsForeign) {
  Events e;
  e.object(NFT_MSG_DELSETELEM, NFPROTO_INET, "uplinkd").newgen(std::nullopt);
  auto f = filter();
  EXPECT_TRUE(f.foreign_change(e.data(), e.size()));
}

}  // namespace
}  // namespace uplink
