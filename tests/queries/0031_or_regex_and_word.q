# limit=5
message~"(?i)exception" OR "connection refused"
