#!/usr/bin/env python3
"""Copy the golden screens (tests/golden/NAME.txt) into README.md between
<!-- screen: NAME --> and <!-- /screen --> markers, so README shows what the tests check."""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
readme = root / "README.md"
text = readme.read_text(encoding="utf-8")


def fill(m):
    name = m.group(1)
    body = (root / "tests" / "golden" / (name + ".txt")).read_text(encoding="utf-8")
    return "<!-- screen: %s -->\n```text\n%s```\n<!-- /screen -->" % (name, body)


new = re.sub(r"<!-- screen: ([\w-]+) -->.*?<!-- /screen -->", fill, text, flags=re.S)
if new != text:
    readme.write_text(new, encoding="utf-8")
    print("README.md: screens updated")
sys.exit(0)
