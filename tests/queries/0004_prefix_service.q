service=hd* "served block"
