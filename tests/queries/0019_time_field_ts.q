# from=2026-11-30T10:30:00Z
# to=2026-11-30T10:30:05Z
# time_field=ts
*
