| count by service, level
