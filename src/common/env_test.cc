#include "common/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "common/fault_env.h"

namespace sawmill {
namespace {

std::string Read(Env* env, const std::string& path) {
  std::string out;
  Status s = ReadFileToString(env, path, &out);
  return s.ok() ? out : "<" + s.ToString() + ">";
}

void WriteAndMaybeSync(Env* env, const std::string& path, std::string_view data, bool sync) {
  auto f = env->NewWritableFile(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append(data).ok());
  if (sync) {
    ASSERT_TRUE((*f)->Sync().ok());
  }
}

TEST(FaultInjectionEnv, SyncedDataSurvivesACrashAndUnsyncedDataIsGone) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  auto f = env.NewWritableFile("/db/log");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("acknowledged").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  ASSERT_TRUE((*f)->Append(" not-synced").ok());
  EXPECT_EQ(Read(&env, "/db/log"), "acknowledged not-synced");

  env.SimulateCrash();
  EXPECT_EQ(Read(&env, "/db/log"), "acknowledged");
  // The handle from before the crash belongs to a dead process.
  EXPECT_FALSE((*f)->Append("zombie").ok());
  EXPECT_EQ(Read(&env, "/db/log"), "acknowledged");
}

TEST(FaultInjectionEnv, AFileWhoseDirectoryWasNeverSyncedIsGoneAfterACrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  WriteAndMaybeSync(&env, "/db/new", "data", /*sync=*/true);
  env.SimulateCrash();
  EXPECT_FALSE(env.FileExists("/db/new"));
}

TEST(FaultInjectionEnv, RenameIsDurableOnlyAfterSyncDir) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  WriteAndMaybeSync(&env, "/db/a.tmp", "v1", true);
  ASSERT_TRUE(env.SyncDir("/db").ok());
  ASSERT_TRUE(env.RenameFile("/db/a.tmp", "/db/a").ok());
  env.SimulateCrash();
  EXPECT_TRUE(env.FileExists("/db/a.tmp"));
  EXPECT_FALSE(env.FileExists("/db/a"));

  ASSERT_TRUE(env.RenameFile("/db/a.tmp", "/db/a").ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  env.SimulateCrash();
  EXPECT_FALSE(env.FileExists("/db/a.tmp"));
  EXPECT_EQ(Read(&env, "/db/a"), "v1");
}

TEST(FaultInjectionEnv, FailsTheNthWriteAndTheNthSyncOnce) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  auto f = env.NewWritableFile("/db/x");
  ASSERT_TRUE(f.ok());
  env.InjectWriteFailure(2);
  EXPECT_TRUE((*f)->Append("1").ok());
  EXPECT_FALSE((*f)->Append("2").ok());
  EXPECT_TRUE((*f)->Append("3").ok());
  EXPECT_EQ(Read(&env, "/db/x"), "13");
  env.InjectSyncFailure(1);
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_TRUE((*f)->Sync().ok());
}

TEST(FaultInjectionEnv, NoSpaceFailsAppendsAsUnavailable) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  auto f = env.NewWritableFile("/db/x");
  ASSERT_TRUE(f.ok());
  env.SetNoSpace(true);
  Status s = (*f)->Append("x");
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  env.SetNoSpace(false);
  EXPECT_TRUE((*f)->Append("x").ok());
}

TEST(FaultInjectionEnv, CrashAfterOpsKillsEveryLaterMutation) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/db").ok());
  auto f = env.NewWritableFile("/db/x");
  ASSERT_TRUE(f.ok());
  env.CrashAfterOps(2);
  EXPECT_TRUE((*f)->Append("a").ok());
  EXPECT_TRUE((*f)->Sync().ok());
  EXPECT_FALSE((*f)->Append("b").ok());
  EXPECT_TRUE(env.dead());
  EXPECT_FALSE(env.RenameFile("/db/x", "/db/y").ok());
  env.SimulateCrash();
  EXPECT_FALSE(env.dead());
}

TEST(PosixEnv, WriteReadRenameAndList) {
  Env* env = Env::Default();
  char tmpl[] = "/tmp/sawmill_env_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(env->CreateDirs(dir + "/a/b").ok());
  ASSERT_TRUE(WriteFileAtomically(env, dir + "/a/b/file", "contents").ok());
  EXPECT_EQ(Read(env, dir + "/a/b/file"), "contents");
  auto size = env->GetFileSize(dir + "/a/b/file");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 8u);
  auto children = env->GetChildren(dir + "/a/b");
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, std::vector<std::string>{"file"});
  {
    auto f = env->NewAppendableFile(dir + "/a/b/file");
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->Size(), 8u);
    ASSERT_TRUE((*f)->Append("+more").ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  auto raf = env->NewRandomAccessFile(dir + "/a/b/file");
  ASSERT_TRUE(raf.ok());
  char scratch[16];
  std::string_view got;
  ASSERT_TRUE((*raf)->Read(8, 16, &got, scratch).ok());
  EXPECT_EQ(got, "+more");
  EXPECT_TRUE(env->NewSequentialFile(dir + "/missing").status().IsNotFound());
  // A file that cannot be opened: NotFound naming it, for reading and for appending.
  const Status missing = env->NewRandomAccessFile(dir + "/missing").status();
  EXPECT_TRUE(missing.IsNotFound());
  EXPECT_EQ(missing.message(), dir + "/missing: No such file or directory");
  EXPECT_TRUE(env->NewAppendableFile(dir + "/no/such/dir").status().IsNotFound());
  ASSERT_TRUE(env->RemoveFile(dir + "/a/b/file").ok());
  ASSERT_TRUE(env->RemoveDir(dir + "/a/b").ok());
  ASSERT_TRUE(env->RemoveDir(dir + "/a").ok());
  ASSERT_TRUE(env->RemoveDir(dir).ok());
}

}  // namespace
}  // namespace sawmill
