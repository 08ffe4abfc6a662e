message~"Invalid user [a-z]+ from"
