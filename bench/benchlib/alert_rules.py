"""The alerting rules the benchmarks load (bench/areas/alerts.py, bench/callgrind_ingest.sh):
N rules of realistic shapes drawn from a corpus manifest. No side effects on import.

    python3 bench/benchlib/alert_rules.py N MANIFEST.json > rules.yaml
"""

import json
import sys


def rules_yaml(n, manifest):
    """n rules of realistic shapes: service+level, a word, a phrase, a regex; every tenth grouped
    by host; thresholds high enough that none fires (the cost measured is counting)."""
    services = manifest["services"]
    words = [manifest["common_word"], manifest["rare_word"], "timeout", "refused", "retry"]
    out = ["rules:"]
    for i in range(n):
        svc = services[i % len(services)]
        kind = i % 4
        if kind == 0:
            filt = f"service={svc} level={'ERROR' if i % 8 == 0 else 'WARN'}"
        elif kind == 1:
            filt = f"service={svc} {words[i % len(words)]}"
        elif kind == 2:
            filt = f'"{words[i % len(words)]} {words[(i + 1) % len(words)]}"'
        else:
            filt = f'service={svc} message~"(time|connection) ?out{i % 7}"'
        out.append(f"  - name: r{i}\n    filter: '{filt}'\n    condition: count > 100000000\n"
                   f"    window: 5m\n" + ("    group_by: host\n" if i % 10 == 0 else ""))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        sys.stdout.write(rules_yaml(int(sys.argv[1]), json.load(f)))
