service = zookeeper level >= WARN
