error | fields seq, ts, service, message | head 3
