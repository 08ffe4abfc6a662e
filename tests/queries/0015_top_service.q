# all_time=1
| top 3 service
