"""The benchmark areas, one module each. Each has run_area(corpus, manifest): it measures on fresh
servers, prints its table(s) through benchlib.common.emit_table and records its figures with put()."""
