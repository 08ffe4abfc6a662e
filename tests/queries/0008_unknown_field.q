nosuch=1
