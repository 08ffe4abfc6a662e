# all_time=1
level<=INFO | count by level
