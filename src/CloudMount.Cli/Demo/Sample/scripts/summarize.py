"""Print the mean temperature of data/measurements.csv (run it on the mount)."""
import csv
import pathlib

here = pathlib.Path(__file__).resolve().parent.parent
with open(here / "data" / "measurements.csv", newline="") as f:
    rows = list(csv.DictReader(f))
mean = sum(float(r["temperature_c"]) for r in rows) / len(rows)
print(f"{len(rows)} samples, mean temperature {mean:.2f} C")
