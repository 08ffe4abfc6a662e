# from=2026-11-30T10:00:00Z
# to=2026-11-30T10:20:00Z
# time_field=ts
service=zookeeper | count by bucket(5m), level
