service=hdfs (level=ERROR OR level=WARN
