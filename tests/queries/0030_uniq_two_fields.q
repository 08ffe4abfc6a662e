service=apache | uniq host, level
