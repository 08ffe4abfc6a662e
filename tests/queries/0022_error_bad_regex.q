message~"(unclosed"
