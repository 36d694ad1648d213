#!/usr/bin/env python3
"""Prints each failed test of a TRX file (dotnet test's results) with the first lines of its message.

test.sh calls it at the end of a run, so the last lines of a long log name what failed and why.
Usage: failed-tests.py RESULTS.trx
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    failed = [r for r in root.iter(NS + "UnitTestResult") if r.get("outcome") == "Failed"]
    for result in failed:
        message = result.findtext(f"{NS}Output/{NS}ErrorInfo/{NS}Message") or "(no message)"
        lines = [l for l in message.strip().splitlines() if l.strip()][:4]
        print(f"FAILED {result.get('testName')} ({result.get('duration')}):")
        for line in lines:
            print("    " + line[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
