# limit=3
nosuch!=1
