# since=10m
level=ERROR | count by bucket(1m)
