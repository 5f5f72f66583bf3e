"""The walkthrough notebook runs from top to bottom on the sample data (it cannot rot)."""

from __future__ import annotations

import nbclient
import nbformat

from tests.conftest import REPO

NOTEBOOK = REPO / "docs" / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:  # run from a clean state, not from the stored outputs
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the forecast, losses, voltage and dispatch figures must render"
