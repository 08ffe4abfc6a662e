# since=15m
level>=WARN | count by bucket(5m), level
