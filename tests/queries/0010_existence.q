trace_id=* service=openssh
