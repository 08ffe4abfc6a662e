#include "agent/checkpoint.h"

#include <gtest/gtest.h>

#include "common/fault_env.h"

namespace sawmill::agent {
namespace {

TEST(Checkpoint, RoundTripsAndSurvivesACrash) {
  auto env = std::make_unique<FaultInjectionEnv>();
  ASSERT_TRUE(env->CreateDirs("/s").ok());
  Checkpoint c;
  c.next_seq = 42;
  c.files.push_back({1, 2, 3, 4, 500, "/var/log/a.log"});
  ASSERT_TRUE(WriteCheckpoint(env.get(), "/s/checkpoint", c).ok());
  env->SimulateCrash();
  auto read = ReadCheckpoint(env.get(), "/s/checkpoint");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->next_seq, 42u);
  ASSERT_EQ(read->files.size(), 1u);
  EXPECT_EQ(read->files[0].offset, 500u);
  EXPECT_EQ(read->files[0].path, "/var/log/a.log");
}

TEST(Checkpoint, MissingIsNotFoundAndCorruptIsDataLoss) {
  auto env = std::make_unique<FaultInjectionEnv>();
  ASSERT_TRUE(env->CreateDirs("/s").ok());
  EXPECT_TRUE(ReadCheckpoint(env.get(), "/s/checkpoint").status().IsNotFound());
  Checkpoint c;
  c.files.push_back({1, 2, 3, 4, 500, "/a"});
  ASSERT_TRUE(WriteCheckpoint(env.get(), "/s/checkpoint", c).ok());
  std::string data;
  ASSERT_TRUE(env->GetContents("/s/checkpoint", &data).ok());
  data[12] ^= 1;
  ASSERT_TRUE(env->SetContents("/s/checkpoint", data).ok());
  EXPECT_TRUE(ReadCheckpoint(env.get(), "/s/checkpoint").status().IsDataLoss());
}

TEST(Checkpoint, MergeKeepsTheFurthestPositionPerFile) {
  std::vector<FileCursor> cursors;
  MergeCursor({1, 2, 3, 4, 100, "/a"}, &cursors);
  MergeCursor({1, 2, 3, 4, 50, "/a"}, &cursors);
  MergeCursor({1, 2, 9, 4, 10, "/a"}, &cursors);  // same inode, other content: another file
  ASSERT_EQ(cursors.size(), 2u);
  EXPECT_EQ(cursors[0].offset, 100u);
}

}  // namespace
}  // namespace sawmill::agent
