// LoadOnce (load_once.h): the one rule of a part read on first use and kept.
#include "index/load_once.h"

#include <gtest/gtest.h>

namespace sawmill::index {
namespace {

// A failed read (IOError, Unavailable, or any code but DataLoss) is handed back and not kept:
// the next question reads again. Fails with Settle keeping every error (a failed disk read
// would then be damage for the reader's life) or keeping only IOError's failure out.
TEST(LoadOnce, AFailedReadIsHandedBackAndNotKept) {
  LoadOnce load;
  for (const Status& failed :
       {Status::IOError("read timed out"), Status::Unavailable("busy"), Status::Internal("?")}) {
    EXPECT_EQ(load.Settle(failed), failed);
    EXPECT_FALSE(load.settled()) << failed.ToString();
  }
  EXPECT_TRUE(load.Settle(Status::OK()).ok());
  EXPECT_TRUE(load.settled());
  EXPECT_TRUE(load.damage().ok());
}

// Damage (DataLoss) is kept and answered to every later load, which cannot replace it; the
// first outcome kept wins over a racing load's. Fails with damage not kept, or replaced.
TEST(LoadOnce, DamageIsKeptForTheReadersLifeAndTheFirstOutcomeWins) {
  LoadOnce damaged;
  const Status loss = Status::DataLoss("segment 1.seg: index kind 'bloom': checksum mismatch");
  EXPECT_EQ(damaged.Settle(loss), loss);
  EXPECT_TRUE(damaged.settled());
  EXPECT_EQ(damaged.damage(), loss);
  EXPECT_EQ(damaged.Settle(Status::OK()), loss) << "a racing load's success";
  EXPECT_EQ(damaged.Settle(Status::IOError("timed out")).code(), StatusCode::kIOError)
      << "a failed read is handed back as it is";
  EXPECT_EQ(damaged.damage(), loss);

  LoadOnce read;
  EXPECT_TRUE(read.Settle(Status::OK()).ok());
  EXPECT_TRUE(read.Settle(loss).ok()) << "a racing load's damage after the part read";
  EXPECT_TRUE(read.damage().ok());
}

}  // namespace
}  // namespace sawmill::index
