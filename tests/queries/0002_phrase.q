# all_time=1
"Accepted password"
