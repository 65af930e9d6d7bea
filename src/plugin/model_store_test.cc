#include "plugin/model_store.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace uplink::plugin {
namespace {

struct ModelStoreTest : ::testing::Test {
  std::string dir;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    crypto_sign_keypair(pk, sk);
    dir = (fs::temp_directory_path() / ("model_store_test." + std::to_string(getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir + "/in");
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& content) {
    std::string p = dir + "/in/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string sign(const std::string& name, const std::string& content, bool base64) {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(content.data()), content.size(), sk);
    if (!base64) return write(name, std::string(reinterpret_cast<char*>(sig), sizeof sig));
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    return write(name, std::string(b64) + "\n");
  }
  std::string key() const { return std::string(reinterpret_cast<const char*>(pk), sizeof pk); }
};

TEST_F(ModelStoreTest, StagesActivatesAndRollsBackAtomically) {
  ModelStore store(dir + "/models", "");
  auto a = store.stage(write("a.bin", "ok a"), std::nullopt, "t1");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->version.size(), 16u);
  EXPECT_FALSE(store.current());  // staged, not switched
  ASSERT_TRUE(store.activate(a->version));
  ASSERT_TRUE(store.current());
  EXPECT_EQ(store.current()->version, a->version);
  EXPECT_FALSE(store.previous());

  auto b = store.stage(write("b.bin", "ok b"), std::nullopt, "t2");
  ASSERT_TRUE(b);
  ASSERT_TRUE(store.activate(b->version));
  EXPECT_EQ(store.current()->version, b->version);
  EXPECT_EQ(store.previous()->version, a->version);
  EXPECT_TRUE(fs::is_symlink(dir + "/models/current"));
  std::ifstream f(store.current()->path);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(text, "ok b");

  auto r = store.rollback(false);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->version, a->version);
  EXPECT_EQ(store.current()->version, a->version);
  EXPECT_FALSE(store.previous());
  EXPECT_FALSE(store.rollback(false)) << "nothing left to roll back to";
  auto none = store.rollback(true);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(store.current());
}

TEST_F(ModelStoreTest, ReinstallingTheCurrentVersionIsRefused) {
  ModelStore store(dir + "/models", "");
  auto a = store.stage(write("a.bin", "ok a"), std::nullopt, "t1");
  ASSERT_TRUE(store.activate(a->version));
  auto again = store.stage(write("a2.bin", "ok a"), std::nullopt, "t2");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already the current model"), std::string::npos);
}

TEST_F(ModelStoreTest, OldVersionsArePruned) {
  ModelStore store(dir + "/models", "");
  std::vector<std::string> versions;
  for (int i = 0; i < 5; ++i) {
    auto m = store.stage(write("m" + std::to_string(i), "ok " + std::to_string(i)), std::nullopt, "t");
    ASSERT_TRUE(m);
    ASSERT_TRUE(store.activate(m->version));
    versions.push_back(m->version);
  }
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir + "/models/versions")) n += e.path().filename().string()[0] != '.';
  EXPECT_EQ(n, 2u);
}

TEST_F(ModelStoreTest, SignatureRequiredAndVerifiedWhenAKeyIsSet) {
  ModelStore store(dir + "/models", key());
  std::string content = "ok signed model";
  auto file = write("m.bin", content);

  auto unsigned_ = store.stage(file, std::nullopt, "t");
  ASSERT_FALSE(unsigned_);
  EXPECT_NE(unsigned_.error().message.find("signature is required"), std::string::npos);

  auto wrong = store.stage(file, sign("wrong.sig", "other content", false), "t");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("does not verify"), std::string::npos);

  auto garbage = store.stage(file, write("garbage.sig", "not a signature"), "t");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("not an Ed25519 signature"), std::string::npos);

  auto raw = store.stage(file, sign("m.sig", content, false), "t");
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_TRUE(raw->is_signed);
  auto b64 = store.stage(file, sign("m.sig64", content, true), "t");
  ASSERT_TRUE(b64) << b64.error().message;
  EXPECT_FALSE(store.current()) << "a failed or staged install never switches";
}

TEST_F(ModelStoreTest, HashMatchesSha256) {
  auto h = sha256_file(write("abc", "abc"));
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(sha256_file(dir + "/missing"));
}

}  // namespace
}  // namespace uplink::plugin
