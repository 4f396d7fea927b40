"""Put the repository's lib/ on sys.path so every job imports the same diffattr, installed or not
(Snakemake adds this scripts folder to sys.path for script jobs)."""
import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parents[2] / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)
