# all_time=1
trace_id=bb8ff873b7a9a4a2
