"""Execute tutorial notebooks in place, top to bottom, as committed (``python tutorials/execute.py [NAME.ipynb ...]``).

Run from the repository root with nothing else busy (``OMP_NUM_THREADS=1``). Warnings raised in a cell
carry the kernel's temporary file name (``/tmp/ipykernel_1234/5678.py:10:``), which differs on every
machine and run; it is stripped from the saved outputs.
"""

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL_FILE = re.compile(r"/[^\s:]*ipykernel_\d+/\d+\.py:\d+: ")

if __name__ == "__main__":
    here = Path(__file__).parent
    for path in [Path(p) for p in sys.argv[1:]] or sorted(here.glob("[0-9]*.ipynb")):
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    out["text"] = KERNEL_FILE.sub("", out["text"])
        nbformat.write(nb, path)
        print(f"{path}: {time.perf_counter() - start:.0f} s", flush=True)
