level=ERROR | head 5 | count
