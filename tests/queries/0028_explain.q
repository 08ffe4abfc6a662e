# explain=1
# all_time=1
trace_id=0000000000000000
