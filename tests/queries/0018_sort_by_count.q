service=zookeeper | count by level | sort by count
