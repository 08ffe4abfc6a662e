line_id>=1998 service=hadoop
