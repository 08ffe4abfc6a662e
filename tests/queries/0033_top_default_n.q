# all_time=1
level=ERROR | top event_id
