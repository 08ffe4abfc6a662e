# all_time=1
| count
