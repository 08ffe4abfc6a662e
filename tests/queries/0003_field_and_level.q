service=zookeeper level>=WARN
