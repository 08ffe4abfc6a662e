service=hdfs | uniq host
