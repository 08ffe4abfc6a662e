service=apache AND (level=ERROR OR level=FATAL) NOT "child init"
