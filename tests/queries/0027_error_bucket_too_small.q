# since=7d
| count by bucket(1s)
