# all_time=1
| count by service, level | sort by count desc | head 3 | fields service, count
